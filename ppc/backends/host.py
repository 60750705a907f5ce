"""Control flow in host Python, for modules that run eagerly.

Local static batching inherits recursion from the host (ppc/passes/batch.py): its
`host=True` ifs and loops test concrete values, so such a module is executed op by op
instead of being traced into one XLA program. Generated code imports `host_while` from here.
"""
from __future__ import annotations

import sys

from ..ir import Module, walk_ops


def host_while(cond, body, state: tuple) -> tuple:
    while bool(cond(*state)[0]):
        state = body(*state)
    return state


def runs_on_host(module: Module) -> bool:
    return any(op.attrs.get("host") for fn in module.functions.values() for op in walk_ops(fn.body))


class HostRecursionError(RecursionError):
    """Host-inherited recursion went deeper than Python's recursion limit."""


def eager(fn):
    """`fn` run op by op; running out of Python stack is reported as what it is."""
    def run(*args):
        try:
            return fn(*args)
        except RecursionError:
            raise HostRecursionError(
                f"recursion went deeper than Python's stack allows (sys.getrecursionlimit() = "
                f"{sys.getrecursionlimit()}): local static batching runs recursion on the Python stack; "
                "use strategy='program_counter' (explicit stacks, max_stack_depth=)") from None
    return run
