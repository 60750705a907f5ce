"""A module as basic blocks, and where each value lives.

Functions are cut into blocks at every call, and at each `if`/`while` whose regions
contain one; call-free control flow stays structured inside its block. Each value then
gets a storage class (see `Program.storage`):

- `temp`: used only in the block that defines it; it never leaves the step.
- `register`: live across blocks; one slot per member (or one shared slot when the value
  is the same for every member, `uniform`).
- `stack`: live across a call whose callee can reach the value's own function again, which
  would overwrite a register; it lives in its function's frame, indexed by frame depth.
- `const`: a constant, re-emitted in every block that reads it.
- `input`: a parameter that every call passes an unbatched machine input unchanged (data
  handed down a recursion); it reads that input and is never stored.

A call whose results are returned as they are is a tail call: it jumps, pushing nothing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import networkx as nx

from ...ir import InternalError, Module, Op, TensorType, Value, walk_ops
from ...ir.callgraph import call_graph
from ...ir.printer import _format_op, _Names
from ..ad.algebra import free_values


@dataclass(eq=False)
class Jump:
    target: "Block"
    args: list[Value]


@dataclass(eq=False)
class Branch:
    pred: Value
    then: Jump
    other: Jump


@dataclass(eq=False)
class Call:
    callee: str
    args: list[Value]
    cont: "Block | None"  # None: a tail call
    loc: object = None


@dataclass(eq=False)
class Return:
    values: list[Value]


@dataclass(eq=False)
class Block:
    fn: str
    kind: str  # entry, then, else, join, loop, body, exit, cont
    params: list[Value]  # written by the predecessor (or caller); a continuation's come back from the callee
    ops: list[Op] = field(default_factory=list)
    term: object = None
    id: int = -1

    @property
    def label(self) -> str:
        return f"block {self.id} (@{self.fn} {self.kind})"


def successors(b: Block) -> list[Block]:
    t = b.term
    if isinstance(t, Jump):
        return [t.target]
    if isinstance(t, Branch):
        return [t.then.target, t.other.target]
    if isinstance(t, Call) and t.cont is not None:
        return [t.cont]
    return []


def term_operands(t) -> list[Value]:
    if isinstance(t, Jump):
        return list(t.args)
    if isinstance(t, Branch):
        return [t.pred] + t.then.args + t.other.args
    if isinstance(t, Call):
        return list(t.args)
    return list(t.values)


def _has_call(op: Op) -> bool:
    return op.prim == "call" or any(o.prim == "call" for r in op.regions for o in walk_ops(r))


class _Flatten:
    """One function's structured body -> blocks."""

    def __init__(self, fn):
        self.name, self.blocks = fn.name, []
        self.entry = self.new("entry", fn.params)
        end = self.ops(fn.body.ops[:-1], self.entry)
        end.term = Return(list(fn.body.terminator.operands))

    def new(self, kind, params=()) -> Block:
        b = Block(self.name, kind, list(params))
        self.blocks.append(b)
        return b

    def ops(self, ops, cur: Block) -> Block:
        for op in ops:
            if not _has_call(op):
                cur.ops.append(op)
            elif op.prim == "call":
                cont = self.new("cont", op.results)
                cur.term = Call(op.attrs["callee"], list(op.operands), cont, op.loc)
                cur = cont
            elif op.prim == "if":
                then, other, join = self.new("then"), self.new("else"), self.new("join", op.results)
                cur.term = Branch(op.operands[0], Jump(then, []), Jump(other, []))
                for region, blk in zip(op.regions, (then, other)):
                    self.ops(region.ops[:-1], blk).term = Jump(join, list(region.terminator.operands))
                cur = join
            elif op.prim == "while":
                cond, body = op.regions
                head = self.new("loop", cond.params)
                cur.term = Jump(head, list(op.operands))
                end = self.ops(cond.ops[:-1], head)
                inner, out = self.new("body", body.params), self.new("exit", op.results)
                end.term = Branch(cond.terminator.operands[0], Jump(inner, list(cond.params)),
                                  Jump(out, list(cond.params)))
                self.ops(body.ops[:-1], inner).term = Jump(head, list(body.terminator.operands))
                cur = out
            else:
                raise InternalError("pc", f"'{op.prim}' contains a call; only if/while/call may")
        return cur


def _forward(j: Jump) -> Jump:
    """A jump past blocks that do nothing but jump on."""
    while not j.args and not j.target.params and not j.target.ops and isinstance(j.target.term, Jump):
        j = j.target.term
    return j


def _returns_as_is(b: Block, values: list[Value]) -> bool:
    if b.ops:
        return False
    t = b.term
    if isinstance(t, Return):
        return t.values == values
    return isinstance(t, Jump) and t.args == values and _returns_as_is(t.target, t.target.params)


def _cost(b: Block) -> int:
    """A rough per-member work estimate, to number expensive blocks last."""
    total = 0
    for op in (o for top in b.ops for o in [top, *(x for r in top.regions for x in walk_ops(r))]):
        total += sum(getattr(v.type, "size", 1) for v in op.operands + op.results)
    return total


@dataclass
class Program:
    """The blocks of a module (numbered in scheduling order) and every value's storage."""
    module: Module
    blocks: list[Block]
    entry_blocks: dict[str, Block]
    inputs: list[Value]  # one per entry parameter: the machine's own parameters
    input_batched: list[bool]
    storage: dict[Value, str]  # temp / register / uniform / stack / const / input
    substitute: dict[Value, Value]  # `input` parameters -> the machine input they always hold
    live_in: dict[Block, set]
    reads: dict[Block, set]  # every value the block reads, its own included

    @property
    def halt(self) -> int:
        return len(self.blocks)

    def stores(self, v: Value) -> bool:
        return self.storage.get(v) in ("register", "uniform", "stack")


def lower_to_blocks(module: Module, input_batched, size: int) -> Program:
    """The block program of a canonical module whose entry takes inputs batched (with a
    leading axis of `size`) as `input_batched` says."""
    blocks, entries = [], {}
    reachable = nx.descendants(call_graph(module), module.entry.name) | {module.entry.name}
    for name, fn in module.functions.items():
        if name in reachable:
            flat = _Flatten(fn)
            entries[name] = flat.entry
            blocks += flat.blocks
    for b in blocks:
        t = b.term
        if isinstance(t, Jump):
            b.term = _forward(t)
        elif isinstance(t, Branch):
            t.then, t.other = _forward(t.then), _forward(t.other)
        elif isinstance(t, Call) and _returns_as_is(t.cont, t.cont.params):
            t.cont = None  # a tail call
    seen, todo = set(), list(entries.values())
    while todo:
        b = todo.pop()
        if b not in seen:
            seen.add(b)
            todo += successors(b)
    order = [b for b in blocks if b in seen]
    order.sort(key=_cost)  # stable: ties keep program order
    for i, b in enumerate(order):
        b.id = i

    inputs = [Value(TensorType((size,) + p.type.shape, p.type.dtype) if f else p.type, p.hint)
              for p, f in zip(module.entry.params, input_batched)]
    uses, reads, defined = {}, {}, {}
    for b in order:
        d, u, everything = set(b.params), set(), set()
        for op in b.ops:
            r = set(op.operands).union(*(free_values(x) for x in op.regions))
            u.update(r - d)
            everything |= r
            d.update(op.results)
        r = set(term_operands(b.term))
        u.update(r - d)
        uses[b], reads[b], defined[b] = u, everything | r, d
    live_in = {b: set(uses[b]) for b in order}
    changed = True
    while changed:
        changed = False
        for b in reversed(order):
            out = set().union(*(live_in[s] for s in successors(b))) if successors(b) else set()
            new = uses[b] | (out - defined[b])
            if new != live_in[b]:
                live_in[b], changed = new, True

    substitute = _input_parameters(module, order, entries, inputs, input_batched)
    storage = _classify(module, order, live_in, reads, defined, substitute, inputs, input_batched)
    return Program(module, order, entries, inputs, list(input_batched), storage, substitute, live_in, reads)


def _input_parameters(module, blocks, entries, inputs, input_batched) -> dict[Value, Value]:
    """Parameters that always hold the same unbatched machine input (an optimistic
    fixpoint over every call's arguments)."""
    incoming = defaultdict(list)
    for p, x in zip(module.entry.params, inputs):
        incoming[p].append(x)
    for b in blocks:
        if isinstance(b.term, Call):
            for p, a in zip(module.functions[b.term.callee].params, b.term.args):
                incoming[p].append(a)
    shared = {x for x, f in zip(inputs, input_batched) if not f}
    VARIES = object()
    root = {p: None for p in incoming}
    changed = True
    while changed:
        changed = False
        for p, ins in incoming.items():
            r = None
            for a in ins:
                ra = a if a in shared else root.get(a, VARIES)
                if a is p or ra is None:
                    continue
                if ra is VARIES or (r is not None and ra is not r):
                    r = VARIES
                    break
                r = ra
            if r is not root[p] and root[p] is not VARIES:
                root[p], changed = r, True
    return {p: r for p, r in root.items() if r is not None and r is not VARIES}


def _classify(module, blocks, live_in, reads, defined, substitute, inputs, input_batched):
    shared = {x for x, f in zip(inputs, input_batched) if not f}
    uniform = set(substitute) | shared
    changed = True
    while changed:  # values computed from uniform values alone are the same for every member
        changed = False
        for b in blocks:
            for op in b.ops:
                if op.results and op.results[0] not in uniform:
                    if set(op.operands).union(*(free_values(r) for r in op.regions)) <= uniform:
                        uniform.update(op.results)
                        changed = True
    reach = {n: nx.descendants(call_graph(module), n) | {n} for n in module.functions}
    across_calls = set()
    for b in blocks:
        t = b.term
        if isinstance(t, Call) and t.cont is not None and b.fn in reach[t.callee]:
            across_calls |= live_in[t.cont] - set(t.cont.params)
    consts = {r for b in blocks for op in b.ops if op.prim == "constant" for r in op.results}
    storage = {}
    for b in blocks:
        out = set().union(*(live_in[s] for s in successors(b))) if successors(b) else set()
        for v in defined[b]:
            if v in substitute:
                storage[v] = "input"
            elif v in consts:
                storage[v] = "const"
            elif v in out or (v in b.params and b.kind != "cont" and v in reads[b]):
                if v in uniform:
                    storage[v] = "uniform"
                else:
                    storage[v] = "stack" if v in across_calls else "register"
            else:
                storage[v] = "temp"
    return storage


# -- the `pc` dump ----------------------------------------------------------------------

class _SourceNames(_Names):
    """Names fixed in source order up front (blocks print in scheduling order)."""

    def define(self, v: Value) -> str:
        return self[v] if v in self.names else super().define(v)

    def region(self, region):
        for p in region.params:
            self.define(p)
        for op in region.ops:
            for r in op.regions:
                self.region(r)
            for v in op.results:
                self.define(v)


def format_program(prog: Program, max_stack_depth: int) -> str:
    names = _SourceNames()
    for x in prog.inputs:
        names.define(x)
    for fn in prog.module.functions.values():
        names.region(fn.body)
    head = [f"machine: {len(prog.blocks)} blocks, halt = {prog.halt}, max_stack_depth = {max_stack_depth}",
            "inputs: " + ", ".join(f"{names[x]}: {x.type}{' batched' if f else ' shared'}"
                                   for x, f in zip(prog.inputs, prog.input_batched)),
            "entry: " + ", ".join(f"@{n} -> block {b.id}" for n, b in prog.entry_blocks.items())]
    body = []
    for b in prog.blocks:
        params = ", ".join(f"{names.define(p)}: {p.type} {prog.storage[p]}" for p in b.params)
        body.append(f"{b.label}({params}):")
        reads = sorted((v for v in prog.live_in[b] if prog.stores(v)), key=lambda v: names[v])
        if reads:
            body.append("  read " + ", ".join(f"{names[v]} ({prog.storage[v]})"
                                              for v in reads))
        for op in b.ops:
            lines = []
            _format_op(op, names, "  ", lines)
            for r in op.results:
                if prog.stores(r):
                    lines[0 if not op.regions else -1] += f"  -> {prog.storage[r]}"
            body += lines
        for p in b.params:
            if b.kind == "cont" and prog.stores(p):
                body.append(f"  {names[p]} -> {prog.storage[p]}")
        body.append("  " + _format_term(b.term, names, prog))
    return "\n".join(head + [""] + body) + "\n"


def _format_term(t, names, prog) -> str:
    def jump(j):
        args = ", ".join(names[a] for a in j.args)
        return f"block {j.target.id}" + (f"({args})" if args else "")
    if isinstance(t, Jump):
        return "jump " + jump(t)
    if isinstance(t, Branch):
        return f"branch {names[t.pred]} ? {jump(t.then)} : {jump(t.other)}"
    args = ", ".join(names[a] for a in t.args) if isinstance(t, Call) else ""
    if isinstance(t, Call) and t.cont is None:
        return f"tail call @{t.callee}({args}) -> block {prog.entry_blocks[t.callee].id}, no push"
    if isinstance(t, Call):
        return (f"push frame (return to block {t.cont.id}); call @{t.callee}({args}) "
                f"-> block {prog.entry_blocks[t.callee].id}")
    return f"return {', '.join(names[v] for v in t.values)}; pop frame"
