"""The call graph of a module and which of its functions recurse."""
from __future__ import annotations

import networkx as nx

from .core import Module, Op, walk_ops


def call_graph(module: Module) -> nx.DiGraph:
    g = nx.DiGraph()
    for name, fn in module.functions.items():
        g.add_node(name)
        for op in walk_ops(fn.body):
            if op.prim == "call":
                g.add_edge(name, op.attrs["callee"], op=op)
    return g


def with_callees(module: Module, name: str) -> set[str]:
    """`name` and every function it calls, directly or not."""
    return nx.descendants(call_graph(module), name) | {name}


def recursive_functions(module: Module) -> set[str]:
    """Functions on a call-graph cycle (self-recursive or mutually recursive)."""
    g = call_graph(module)
    out = set()
    for scc in nx.strongly_connected_components(g):
        if len(scc) > 1 or any(g.has_edge(n, n) for n in scc):
            out |= scc
    return out


def recursive_call(module: Module) -> Op | None:
    """A call op that closes a cycle, if there is one (for error messages)."""
    rec = recursive_functions(module)
    g = call_graph(module)
    for a, b, data in g.edges(data=True):
        if a in rec and b in rec and nx.has_path(g, b, a):
            return data["op"]
    return None
