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
A call into a function whose entry block only tests a cheap condition (a recursion's base
case) runs that test itself and goes straight to the side taken: a step saved per call.
Likewise a cheap block whose only way in is one jump or branch side runs in the step of
the block that jumps there (the members taking that side run it, masked), unless that
would make the step write some storage file more often than the busiest step already
does: NUTS's `build_tree` returns in the step that finds its first half turned, and a
loop's test runs its exit in its own step.
"""
from __future__ import annotations

from collections import Counter, defaultdict
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
    # parameters of blocks a threaded jump now skips, which later blocks still read: (param, value)
    carry: list = field(default_factory=list)
    # the target runs in the jumping block's step (see `_inline_candidates`); it is no block of its own
    inline: bool = False

    @property
    def bindings(self) -> list:
        """(parameter, value): the target's parameters, then the carried ones."""
        return list(zip(self.target.params, self.args)) + self.carry


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
    # the callee's entry block, when the caller runs it (its ops and its jump or branch) in
    # the same step instead of stepping there (see `_enters_inline`)
    inline_entry: "Block | None" = None


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
        where = f"@{self.fn} {self.kind}"
        return f"block {self.id} ({where})" if self.id >= 0 else where


def jumps(t) -> list[Jump]:
    if isinstance(t, Jump):
        return [t]
    return [t.then, t.other] if isinstance(t, Branch) else []


def unit(b: Block) -> list[Block]:
    """A block and the blocks it runs in its own step (its inline jump targets)."""
    return [b] + [j.target for j in jumps(b.term) if j.inline]


def successors(b: Block) -> list[Block]:
    t = b.term
    if isinstance(t, Call):
        return [t.cont] if t.cont is not None else []
    return [j.target for j in jumps(t)]


def term_operands(t) -> list[Value]:
    if isinstance(t, Jump):
        return list(t.args) + [v for _, v in t.carry]
    if isinstance(t, Branch):
        return [t.pred] + term_operands(t.then) + term_operands(t.other)
    if isinstance(t, Call):
        return list(t.args)
    return list(t.values)


# Ops that move data rather than compute: weighed lightly when estimating a block's work
MOVEMENT = {"select", "broadcast_in_dim", "iota", "eq", "convert", "reshape", "transpose", "slice", "pad", "rev",
            "dynamic_slice", "dynamic_update_slice", "concatenate", "constant", "tuple_get", "make_tuple"}
# An `if` whose branches do more work than this (in element operations) becomes blocks, so
# that members skip the side they do not take instead of computing it masked
BRANCH_WORK = 64
# A callee's entry block this cheap (a base-case test) runs in its caller's step
ENTRY_WORK = 16
# A block this cheap, with one way in, runs in the step of the block jumping there
INLINE_WORK = 1024
# The storage classes whose values live in the machine's storage files
STORED = ("register", "uniform", "stack")


def work(ops) -> float:
    """A rough per-member work estimate of some ops (nested regions included)."""
    total = 0.0
    for top in ops:
        for op in [top, *(x for r in top.regions for x in walk_ops(r))]:
            size = sum(getattr(v.type, "size", 1) for v in op.operands + op.results)
            total += size * (0.01 if op.prim in MOVEMENT else 1.0)
    return total


def _splits(op: Op) -> bool:
    """Whether the op becomes blocks: a call, and control flow holding one or doing much work."""
    if op.prim == "call" or any(o.prim == "call" for r in op.regions for o in walk_ops(r)):
        return True
    return op.prim == "if" and work([op]) > BRANCH_WORK


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
            if not _splits(op):
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


def _facts(blocks) -> dict:
    """Per block, predicates known there: those of the branches on its chain of sole
    predecessors (every path to the block took those sides)."""
    preds = defaultdict(list)
    for b in blocks:
        t = b.term
        if isinstance(t, Jump):
            preds[t.target].append((b, None))
        elif isinstance(t, Branch):
            preds[t.then.target].append((b, (t.pred, True)))
            preds[t.other.target].append((b, (t.pred, False)))
        elif isinstance(t, Call) and t.cont is not None:
            preds[t.cont].append((b, None))
    facts: dict = {}

    def get(b):
        if b not in facts:
            facts[b] = {}  # (also cuts cycles)
            if len(preds[b]) == 1:
                p, side = preds[b][0]
                known = dict(get(p))
                if side:
                    known[side[0]] = side[1]
                facts[b] = known
        return facts[b]
    return {b: get(b) for b in blocks}


def _thread(j: Jump, known: dict, returns: bool):
    """Where jump `j` really goes: through blocks that only pass values on (or make
    constants, which every block can remake), and through branches whose predicate is
    known on the way (the flags of early returns), maybe to a return (when `returns`).
    A block saved is a machine step saved; the parameters of the blocks passed are still
    written (carried) for the blocks after them."""
    sigma = {}  # the parameters of the blocks passed through -> what they hold
    passed = []
    for _ in range(64):
        t = j.target
        if t.term is None or any(op.prim != "constant" for op in t.ops):
            break
        sigma.update(zip(t.params, j.args))
        passed.append(t)
        nxt = t.term
        if isinstance(nxt, Branch):
            pred = sigma.get(nxt.pred, nxt.pred)
            if pred not in known:
                break
            nxt = nxt.then if known[pred] else nxt.other
        if isinstance(nxt, Jump):
            carry = [(p, sigma[p]) for blk in passed for p in blk.params] + [(p, sigma.get(v, v)) for p, v in nxt.carry]
            j = Jump(nxt.target, [sigma.get(a, a) for a in nxt.args], carry)
        elif isinstance(nxt, Return) and returns:
            return Return([sigma.get(v, v) for v in nxt.values])
        else:
            break
    return j


def _enters_inline(entry: Block) -> bool:
    """Whether calls may run `entry` themselves: it only computes a little, without
    control flow, and jumps or branches on (not to itself). Measured on NUTS's build_tree
    (entry: `depth == 0`), one machine step fewer per call; every member at the calling
    block pays the few ops."""
    t = entry.term
    return (isinstance(t, (Jump, Branch)) and all(j.target is not entry for j in jumps(t))
            and not any(op.regions for op in entry.ops) and work(entry.ops) <= ENTRY_WORK)


def _returns_as_is(b: Block, values: list[Value]) -> bool:
    if b.ops:
        return False
    t = b.term
    if isinstance(t, Return):
        return t.values == values
    return isinstance(t, Jump) and t.args == values and _returns_as_is(t.target, t.target.params)


def _inline_candidates(blocks, run_by_calls) -> list[Jump]:
    """The jumps whose target could run in the jumping block's step: a target no costlier
    than INLINE_WORK whose only way in is that jump (no continuation, which a return
    enters). No chains: a block run elsewhere runs none itself, and an entry that calls
    run runs none (a call's step would recurse)."""
    ways_in = Counter(j.target for b in blocks for j in jumps(b.term))
    out, targets, hosts = [], set(), set()
    for b in blocks:
        if b in run_by_calls or b in targets:
            continue
        for j in jumps(b.term):
            t = j.target
            if ways_in[t] == 1 and t is not b and t.kind != "cont" and t not in hosts and work(t.ops) <= INLINE_WORK:
                out.append(j)
                targets.add(t)
                hosts.add(b)
    return out


@dataclass
class Program:
    """The blocks of a module (numbered in scheduling order) and every value's storage."""
    module: Module
    blocks: list[Block]
    entry_blocks: dict[str, Block]
    inputs: list[Value]  # one per entry parameter: the machine's own parameters
    input_batched: list[bool]
    storage: dict[Value, str]  # temp / register / uniform / stack / const / input
    substitute: dict[Value, Value]  # `input` parameters -> the machine input (or element of one) they hold
    live_in: dict[Block, set]
    reads: dict[Block, set]  # every value the block reads, its own included
    # registers shared (never both live at one block boundary) by a jump's argument and the
    # parameter it becomes, and by a function's parameters and result registers: value ->
    # the value (or ("result", i, type) slot) whose register it uses
    shares: dict[Value, object]
    writes: dict  # per storage file (kind, shape, dtype): the most places one step writes (an estimate)

    @property
    def halt(self) -> int:
        return len(self.blocks)

    @property
    def every_block(self) -> list[Block]:
        """The scheduled blocks, then those run within other steps: jump targets run by
        the jumping block, entries run by their calls."""
        out = list(self.blocks)
        out += [j.target for b in self.blocks for j in jumps(b.term) if j.inline]
        return out + [b for b in self.entry_blocks.values() if b.id < 0]

    def stores(self, v: Value) -> bool:
        return self.storage.get(v) in STORED


def lower_to_blocks(module: Module, input_batched, size: int, inline_jumps: bool = True) -> Program:
    """The block program of a canonical module whose entry takes inputs batched (with a
    leading axis of `size`) as `input_batched` says. `inline_jumps=False` keeps every
    jump target a block of its own (to measure what running them in place saves)."""
    blocks, entries = [], {}
    reachable = nx.descendants(call_graph(module), module.entry.name) | {module.entry.name}
    for name, fn in module.functions.items():
        if name in reachable:
            flat = _Flatten(fn)
            entries[name] = flat.entry
            blocks += flat.blocks
    facts = _facts(blocks)
    constants = {r for b in blocks for op in b.ops if op.prim == "constant" for r in op.results}
    consts = {r: bool(op.attrs["value"]) for b in blocks for op in b.ops
              if op.prim == "constant" and op.attrs["dtype"] == "bool" and not op.attrs["shape"] for r in op.results}
    for b in blocks:
        t = b.term
        known = {**consts, **facts[b]}
        if isinstance(t, Jump):
            b.term = _thread(t, known, returns=True)
        elif isinstance(t, Branch):
            t.then, t.other = _thread(t.then, {**known, t.pred: True}, False), _thread(t.other, {**known, t.pred: False}, False)
    for b in blocks:
        t = b.term
        if isinstance(t, Call) and _returns_as_is(t.cont, t.cont.params):
            t.cont = None  # a tail call
        if isinstance(t, Call) and _enters_inline(entries[t.callee]):
            t.inline_entry = entries[t.callee]
    seen, todo = set(), list(entries.values())
    while todo:
        b = todo.pop()
        if b not in seen:
            seen.add(b)
            todo += successors(b)
    reachable = [b for b in blocks if b in seen]
    run_by_calls = {b.term.inline_entry for b in reachable if isinstance(b.term, Call)} - {None}
    unscheduled = run_by_calls - {entries[module.entry.name]}  # (the machine's first step runs its entry)
    inputs = [Value(TensorType((size,) + p.type.shape, p.type.dtype) if f else p.type, p.hint)
              for p, f in zip(module.entry.params, input_batched)]
    substitute, elements = _input_parameters(module, reachable, inputs, input_batched)
    graph = call_graph(module)
    reach = {n: nx.descendants(graph, n) | {n} for n in module.functions}  # the functions a call to n may run
    invariant = _invariant_parameters(module, reachable, reach)
    uniform = _uniform(reachable, substitute, inputs, input_batched)

    def analyse():
        merged = {j.target for x in reachable for j in jumps(x.term) if j.inline}
        units = {b: unit(b) for b in reachable if b not in merged}
        live_in, reads, defined, exits = _liveness(units)
        storage = _classify(units, exits, live_in, reads, defined, substitute, elements, constants, uniform, reach,
                            invariant)
        found = units, live_in, reads, storage, _coalesce(module, units, live_in, storage, invariant, reach)
        return found, _widest(found, entries, unscheduled)

    # a cheap block with one way in runs in the jumping block's step, unless that step
    # would then write some storage file more often than the busiest step does already
    # (every step pays for the busiest one's writes: the machine's write channels)
    found, widths = analyse()
    widest = widths
    for j in _inline_candidates(reachable, run_by_calls) if inline_jumps else []:
        j.inline = True
        trial, trial_widths = analyse()
        if all(n <= widest.get(key, 0) for key, n in trial_widths.items()):
            found, widths = trial, trial_widths
        else:
            j.inline = False
    units, live_in, reads, storage, shares = found

    order = [b for b in units if b not in unscheduled]
    order.sort(key=lambda b: work([op for x in units[b] for op in x.ops]))  # cheapest first; stable
    for b in reachable:
        b.id = -1
    for i, b in enumerate(order):
        b.id = i
    return Program(module, order, entries, inputs, list(input_batched), storage, substitute, live_in, reads, shares,
                   dict(widths))


def _liveness(units):
    """Per unit (a block and the blocks it runs in its step): the values live into it,
    those it reads and defines, and where it goes on. Liveness follows each way through
    the unit (`_ways`) on its own: a jump's carry, and a block run on one side of a
    branch, define values for the members taking that way only, so a value that another
    way reads as it was before stays live into the unit (and on the stack when a call
    that can re-enter its function comes between)."""
    ways = {b: list(_ways(b, set(b.params), set())) for b in units}
    exits = {b: {s for s, _, _ in ways[b] if s is not None} for b in units}
    reads = {b: set().union(*(_operands(op) for x in us for op in x.ops), *(term_operands(x.term) for x in us))
             for b, us in units.items()}
    defined = {b: set().union(*(d for _, _, d in ways[b])) for b in units}
    live_in = {b: set().union(*(u for _, u, _ in ways[b])) for b in units}
    changed = True
    while changed:
        changed = False
        for b in reversed(list(units)):
            new = set().union(*(u | (live_in[s] - d if s is not None else set()) for s, u, d in ways[b]))
            if new != live_in[b]:
                live_in[b], changed = new, True
    return live_in, reads, defined, exits


def _operands(op) -> set:
    """What an op reads, its regions' free values included."""
    return set(op.operands).union(*(free_values(region) for region in op.regions))


def _ways(x: Block, defined: set, used: set):
    """Each way through block `x` and the blocks it runs in its step, entered having
    defined `defined` and read `used` (before defining): (the block it goes on to, None
    where it leaves the function; what it reads before defining; what it defines)."""
    defined, used = set(defined), set(used)
    for op in x.ops:
        used |= _operands(op) - defined
        defined.update(op.results)
    t = x.term
    if not isinstance(t, (Jump, Branch)):
        yield (t.cont if isinstance(t, Call) else None), used | (set(term_operands(t)) - defined), defined
        return
    if isinstance(t, Branch):
        used |= {t.pred} - defined
    for j in jumps(t):
        u, d = used | (set(term_operands(j)) - defined), defined | {p for p, _ in j.carry}
        if j.inline:  # (its parameters are the jump's arguments)
            yield from _ways(j.target, d | set(j.target.params), u)
        else:
            yield j.target, u, d


def _widest(found, entries, unscheduled) -> dict:
    """Per storage file (kind, shape, dtype), the most places one step writes, as the
    machine's `write` counts them (a value written back to the register it was read from
    is no write): an estimate made before the machine is built."""
    units, live_in, _, storage, shares = found
    widest: dict = defaultdict(int)

    def stored(v):
        return storage.get(v) in STORED

    def key(v):
        return (storage[v], v.type.shape, v.type.dtype)
    for b, us in units.items():
        if b in unscheduled:
            continue  # (counted with the calls that run it)
        places, origin = {}, {}
        for v in [*live_in[b], *(b.params if b.kind != "cont" else ())]:
            if storage.get(v) in ("register", "uniform"):  # (read from its register: no write back there)
                origin[v] = shares.get(v, v)

        def put(v, a):
            if stored(v) and origin.get(a) != shares.get(v, v):
                places[shares.get(v, v)] = key(v)

        def run(x, bound):
            origin.update({p: origin.get(a) for p, a in bound})
            if x.kind == "cont":  # (its parameters are read from the result registers)
                for i, v in enumerate(x.params):
                    origin[v] = ("result", i, v.type)
                    put(v, v)
            for op in x.ops:
                for r in op.results:
                    put(r, None)
            t = x.term
            for j in jumps(t):
                for p, a in j.bindings:
                    put(p, a)
                if j.inline:
                    run(j.target, j.bindings)
            if isinstance(t, Call):
                if t.cont is not None:
                    places["ret"] = ("stack", (), "i32")
                callee = entries[t.callee]
                for p, a in zip(callee.params, t.args):
                    put(p, a)
                if t.inline_entry is not None:
                    run(callee, list(zip(callee.params, t.args)))
            elif isinstance(t, Return):
                for i, v in enumerate(t.values):
                    if origin.get(v) != ("result", i, v.type):
                        places[("result", i, v.type)] = ("register", v.type.shape, v.type.dtype)
        run(b, [])
        for k, n in Counter(places.values()).items():
            widest[k] = max(widest[k], n)
    return widest


def _coalesce(module, units, live_in, storage, invariant, reach) -> dict:
    """Give a jump's argument and the parameter it becomes one register when no block
    boundary has both live, so passing a loop's state around is no copy at all. A block
    reads its registers when it starts and writes them when it ends, so values interfere
    only across boundaries: both live into one block (or one is the block's parameter).

    Then returned values, and then functions' parameters, take the rows of the result
    registers ("result", i, type), which are live only into continuations: a value
    returned as it was passed is no write, and a step that calls on one side of a branch
    and returns on the other writes both into the same rows, under disjoint masks
    (NUTS's build_tree: its second half's call runs in the step that finds the first
    half turned or not, with no more write channels than the return alone)."""
    def is_reg(v):  # (an invariant parameter's register is live in every activation: shared with none)
        return storage.get(v) == "register" and v not in invariant
    every = [x for us in units.values() for x in us]
    slots = {}  # (index, type) -> the one ("result", index, type) key (a group's root is compared by identity)
    for fn in {module.functions[x.fn] for x in every}:
        for i, t in enumerate(fn.result_types):
            slots.setdefault((i, t), ("result", i, t))
    # a value live across a call is live at every boundary of the functions it may run
    # (values of different functions share rows only through the result rows)
    across = defaultdict(set)
    for x in every:
        t = x.term
        if isinstance(t, Call) and t.cont is not None:
            for name in reach[t.callee]:
                across[name] |= {v for v in live_in[t.cont] - set(t.cont.params) if is_reg(v)}
    boundary = []
    for b in units:
        live = {v for v in live_in[b] | set(b.params) if is_reg(v)} | across[b.fn]
        if b.kind == "cont":
            live |= {slots[i, p.type] for i, p in enumerate(b.params)}
        boundary.append(live)
    parent: dict = {}

    def find(v):
        while parent.get(v, v) is not v:
            v = parent[v]
        return v
    members: dict = {}

    def merge(keep, other) -> bool:
        rk, ro = find(keep), find(other)
        if rk is ro or isinstance(rk, tuple) and isinstance(ro, tuple):  # (two result rows stay two)
            return False
        mk, mo = members.get(rk, {rk}), members.get(ro, {ro})
        if any(len(mk & s) and len(mo & s) for s in boundary):
            return False
        parent[ro] = rk
        members[rk] = mk | mo
        return True
    for b in every:
        for j in jumps(b.term):
            for p, a in zip(j.target.params, j.args):
                if is_reg(p) and is_reg(a) and p.type == a.type:
                    merge(p, a)
    for x in every:  # a returned value is written where it is returned
        if isinstance(x.term, Return):
            for i, v in enumerate(x.term.values):
                if is_reg(v):
                    merge(slots[i, v.type], v)
    for name in sorted({x.term.callee for x in every if isinstance(x.term, Call)}):
        for p in module.functions[name].params:
            if is_reg(p) and not isinstance(find(p), tuple):
                for (_, t), slot in sorted(slots.items(), key=lambda kv: kv[0][0]):
                    if t == p.type and merge(slot, p):
                        break
    return {v: find(v) for v in storage if is_reg(v) and find(v) is not v}


def _input_parameters(module, blocks, inputs, input_batched):
    """Parameters that always hold the same unbatched machine input, or an element of
    one (data handed down a recursion): an optimistic fixpoint over every call's
    arguments. Returns {parameter: that value (an input, or a `tuple_get` of one)} and
    the set of those elements (`tuple_get`s of shared values, remade where read)."""
    incoming = defaultdict(list)
    for p, x in zip(module.entry.params, inputs):
        incoming[p].append(x)
    for b in blocks:
        if isinstance(b.term, Call):
            for p, a in zip(module.functions[b.term.callee].params, b.term.args):
                incoming[p].append(a)
    shared = {x for x, f in zip(inputs, input_batched) if not f}
    projections = {op.results[0]: op for b in blocks for op in b.ops if op.prim == "tuple_get"}
    VARIES = object()
    root = {p: None for p in incoming}

    def base(a):
        """What `a` always holds if it is shared: itself (an input or an element of one)."""
        if a in shared:
            return a
        if a in projections:
            x = projections[a].operands[0]
            return a if base(x) not in (None, VARIES) else VARIES
        return root.get(a, VARIES)
    changed = True
    while changed:
        changed = False
        for p, ins in incoming.items():
            r = None
            for a in ins:
                ra = base(a)
                if a is p or ra is None:
                    continue
                if ra is VARIES or (r is not None and ra is not r):
                    r = VARIES
                    break
                r = ra
            if r is not root[p] and root[p] is not VARIES:
                root[p], changed = r, True
    substitute = {p: r for p, r in root.items() if r is not None and r is not VARIES}
    return substitute, {a for a in projections if base(a) not in (None, VARIES)}


def _invariant_parameters(module, blocks, reach) -> set[Value]:
    """Parameters of a recursive function that its every recursive call passes on as they
    are (NUTS's step size, mass matrix and direction down build_tree). Every activation
    then holds the same value, so one register serves them all: no call pushes them and
    no return restores them. (A call from elsewhere in the recursion might pass another
    value, so any such call disqualifies.)"""
    out = set()
    for name, fn in module.functions.items():
        inner = [(b, b.term) for b in blocks  # (calls from functions that may run while `name` is active)
                 if isinstance(b.term, Call) and b.term.callee == name and b.fn in reach[name]]
        if inner:
            out |= {p for k, p in enumerate(fn.params) if all(b.fn == name and t.args[k] is p for b, t in inner)}
    return out


def _uniform(blocks, substitute, inputs, input_batched) -> set[Value]:
    """The values computed from unbatched inputs alone: the same for every member."""
    uniform = set(substitute) | {x for x, f in zip(inputs, input_batched) if not f}
    changed = True
    while changed:
        changed = False
        for b in blocks:
            for op in b.ops:
                if op.results and op.results[0] not in uniform:
                    if set(op.operands).union(*(free_values(r) for r in op.regions)) <= uniform:
                        uniform.update(op.results)
                        changed = True
    return uniform


def _classify(units, exits, live_in, reads, defined, substitute, elements, constants, uniform, reach, invariant):
    """Each value's storage class. A value may be defined in several units: a parameter of
    a block that jumps are threaded past is written (carried) by each of those jumps, and
    by the block itself where it is still reached. It is one value in one place, so it is
    stored when any of its definitions must keep it past its step, and a temp only when
    none must."""
    across_calls = set()
    for b in [x for us in units.values() for x in us]:
        t = b.term
        if isinstance(t, Call) and t.cont is not None and b.fn in reach[t.callee]:
            across_calls |= live_in[t.cont] - set(t.cont.params) - invariant
    kept = set()
    for b in units:
        out = set().union(*(live_in[s] for s in exits[b]))
        kept |= {v for v in defined[b] if v in out or (v in b.params and b.kind != "cont" and v in reads[b])}
    storage = {v: "const" for v in constants}  # (those of blocks threaded past too)
    for v in set().union(*defined.values()) - constants:
        if v in substitute or v in elements:
            storage[v] = "input"
        elif v in kept:
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
            "entry: " + ", ".join(f"@{n} -> " + (f"block {b.id}" if b.id >= 0 else "run by its calls")
                                  for n, b in prog.entry_blocks.items())]
    body = []
    for b in prog.blocks:
        _format_block(b, names, prog, body, "")
    for name, b in prog.entry_blocks.items():
        if b.id < 0:  # run by every call, in the call's step
            _format_block(b, names, prog, body, "")
    return "\n".join(head + [""] + body) + "\n"


def _format_block(b, names, prog, body, indent):
    params = ", ".join(f"{names.define(p)}: {p.type} {prog.storage[p]}" for p in b.params)
    if b.id >= 0:
        body.append(f"{b.label}({params}):")
    elif not indent:
        body.append(f"{b.label}({params}), run by its calls:")
    else:
        body.append(f"{indent}run here: {b.label}({params}):")
    pad = indent + "  "
    reads = sorted((v for v in prog.live_in.get(b, ()) if prog.stores(v)), key=lambda v: names[v])
    if reads:
        body.append(pad + "read " + ", ".join(f"{names[v]} ({prog.storage[v]})" for v in reads))
    for op in b.ops:
        lines = []
        _format_op(op, names, pad, lines)
        for r in op.results:
            if prog.stores(r):
                lines[0 if not op.regions else -1] += f"  -> {prog.storage[r]}"
        body += lines
    for p in b.params:
        if b.kind == "cont" and prog.stores(p):
            body.append(f"{pad}{names[p]} -> {prog.storage[p]}")
    body.append(pad + _format_term(b.term, names, prog))
    for j in jumps(b.term):
        if j.inline:
            _format_block(j.target, names, prog, body, pad)


def _format_term(t, names, prog) -> str:
    def jump(j):
        args = ", ".join(names[a] for a in j.args)
        carry = ", ".join(f"{names[p]} = {names[v]}" for p, v in j.carry if prog.stores(p))
        to = f"@{j.target.fn} {j.target.kind}, run here" if j.inline else f"block {j.target.id}"
        return to + (f"({args})" if args else "") + (f" [{carry}]" if carry else "")
    if isinstance(t, Jump):
        return "jump " + jump(t)
    if isinstance(t, Branch):
        return f"branch {names[t.pred]} ? {jump(t.then)} : {jump(t.other)}"
    args = ", ".join(names[a] for a in t.args) if isinstance(t, Call) else ""
    if isinstance(t, Call):
        entry = prog.entry_blocks[t.callee]
        to = (f"block {entry.id}" if entry.id >= 0 else f"@{t.callee} entry") + (
            " (run here)" if t.inline_entry is not None else "")
        if t.cont is None:
            return f"tail call @{t.callee}({args}) -> {to}, no push"
        return f"push frame (return to block {t.cont.id}); call @{t.callee}({args}) -> {to}"
    return f"return {', '.join(names[v] for v in t.values)}; pop frame"
