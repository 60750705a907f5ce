"""Reverse mode through recursion.

Linearize hoists residuals out of every scope, but a recursive call's residuals cannot
be hoisted: how many there are depends on the depth the call reaches. So the call stays
a call on both sides of the split. The primal program calls the original function for
the call's results; the linear program calls the callee's JVP, its primal arguments
becoming residuals. Transposing that linear call calls the callee's VJP, built here: it
runs the callee's primal program (calling the original function at each recursive call
inside) and then its transposed linear program (calling VJPs again at those calls).

A `while` loop inside the recursion is recorded with `max_iterations` slots, as anywhere;
its overflow flag is raised (`limit_flag`) inside the VJP and threaded out to the
program's result by passes/flags.py, since a VJP's result is its cotangents alone.

Each call's primal is thus recomputed from its arguments when its cotangent arrives, one
level at a time: the stacks hold one level's residuals per active call (memory grows with
the depth, not with the number of calls), and the time is the calls times the depth.
The program-counter machine runs the result like any recursion.

That costs the calls times the depth (quadratic for a linear recursion), so where each
call's residuals are small, a tape records them instead (`tape=True`): the primal side
calls `h_fwd`, which runs h's primal program and pushes its residuals as one record on
h's tape, returning the record's index; the linear side calls `h_lin_rec(index, t)`, which
reads the record back and runs h's linear program; its transpose `h_bwd(index, ct)` reads
it and runs the transposed program. A parent's residuals hold its children's indices, so
the backward pass reads the tape in any order and only the forward pass threads it: the
tape (per recorded function a write index and one buffer of `max_iterations` rows per
residual) enters and leaves every `h_fwd` and is carried through the branches and loops
around its calls. Each call's primal thus runs once. A function that makes more calls
than the tape holds raises the `max_iterations` flag, as a loop past its slots does.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from ...ir import (Builder, CompileError, Function, Module, Op, Region, TensorType, Value, clone_region,
                   walk_ops)
from ...ir.callgraph import recursive_functions, with_callees
from ..canonicalize import canonicalize
from ..flags import LOOP
from .linearize import Linearize
from .transpose import transpose_function

INDEX = TensorType((), "i64")
RECORD_LIMIT = 16  # elements a call's record may hold (a batch holds max_iterations records per member)


@dataclass
class _Record:
    """The tape of one recursive function: its wrappers' names, then its split programs."""
    fwd: str
    lin: str
    bwd: str
    n_out: int = 0
    types: list = field(default_factory=list)  # the residuals a record holds
    primal: Function | None = None
    linear: Function | None = None
    transposed: Function | None = None


class Recursion:
    """The VJPs of the recursive functions a reverse-mode program calls. `source` is the
    differentiated module, `jvp` its (canonical) JVP module and `origins` maps each JVP
    function's name to the function it differentiates."""

    def __init__(self, source: Module, jvp: Module, origins: dict[str, str], max_iterations: int,
                 tape: bool = False):
        self.source, self.jvp, self.origins = source, jvp, origins
        self.max_iterations, self.tape = max_iterations, tape
        self.records: dict[str, _Record] = {}  # JVP function -> its tape
        self.functions: dict[str, Function] = {}  # what the split programs call, built or brought
        self.vjps: dict[str, str] = {}
        self.used = set(source.functions) | set(jvp.functions)
        self.recursive = bool(recursive_functions(source))
        # the names of the entry's own programs, first: clear of every function the programs
        # call (a user's recursive `f_vjp` called by `f` travels with them)
        entry = source.entry.name
        self.entry_names = {s: self.fresh(f"{entry}_{s}") for s in ("primal", "lin", "lin_t", "vjp")}

    def arity(self, callee: str) -> tuple[int, int] | None:
        """(primal parameters, primal results) of a JVP function; None for other callees."""
        name = self.origins.get(callee)
        if name is None or callee not in self.jvp.functions:
            return None
        fn = self.source.functions[name]
        return len(fn.params), len(fn.result_types)

    def original(self, callee: str) -> str:
        """The function JVP function `callee` differentiates, brought along with its callees."""
        name = self.origins[callee]
        if name not in self.functions:
            self.functions.update((n, self.source.functions[n]) for n in with_callees(self.source, name))
        return name

    def fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def vjp_of(self, callee: str) -> str:
        """`name(primals..., result cotangents...) -> tangent-parameter cotangents...` for
        JVP function `callee`, built on first request (it calls itself through its
        transposed program)."""
        if callee in self.vjps:
            return self.vjps[callee]
        user = self.origins[callee]
        name = self.vjps[callee] = self.fresh(f"{user}_vjp")
        n_params, n_out = self.arity(callee)
        split = Linearize(self.jvp.functions[callee], n_params, n_out, self.max_iterations, self)
        primal, linear, n_res = split.run(self.fresh(f"{user}_primal"), self.fresh(f"{user}_lin"))
        transposed = transpose_function(linear, n_res, self.fresh(f"{user}_lin_t"), self)
        params = [Value(p.type, p.hint) for p in primal.params]
        cts = [Value(t, "ct") for t in linear.result_types]
        body = Region(params + cts)
        b = Builder(body)
        outs = [Value(t) for t in primal.result_types]
        b.append(Op("call", params, {"callee": primal.name}, outs))
        if split.flags:  # (a loop past its recorded iterations: raised here, threaded out by thread_flags)
            b.append(Op("limit_flag", [outs[-1]], {"limit": LOOP}, []))
        grads = [Value(t) for t in transposed.result_types]
        b.append(Op("call", outs[n_out:n_out + n_res] + cts, {"callee": transposed.name}, grads))
        b.append(Op("return", grads, {}, []))
        for fn in (Function(name, body, [v.type for v in grads]), primal, transposed):
            self.functions[fn.name] = fn
        return name


    # -- the tape
    def recorded(self, callee: str) -> _Record:
        """The tape of JVP function `callee`, its programs split on first request (they
        request their callees' tapes in turn)."""
        if callee in self.records:
            return self.records[callee]
        user = self.origins[callee]
        rec = self.records[callee] = _Record(self.fresh(f"{user}_fwd"), self.fresh(f"{user}_lin_rec"),
                                             self.fresh(f"{user}_bwd"))
        n_params, rec.n_out = self.arity(callee)
        split = Linearize(self.jvp.functions[callee], n_params, rec.n_out, self.max_iterations, self)
        rec.primal, rec.linear, n_res = split.run(rec.fwd, self.fresh(f"{user}_lin"))
        rec.types = rec.primal.result_types[rec.n_out:rec.n_out + n_res]
        rec.transposed = transpose_function(rec.linear, n_res, self.fresh(f"{user}_lin_t"), self)
        return rec

    def bwd_of(self, lin: str) -> str | None:
        """The backward function of a linear call of `lin` (an `h_lin_rec`), else None."""
        return next((r.bwd for r in self.records.values() if r.lin == lin), None)

    def pays(self) -> bool:
        """Whether the tape beats recomputation: each recorded function calls the recursion
        from one place at most (a chain of calls, whose recomputation is quadratic in its
        length; a tree of calls recomputes only as often as it is deep, while a tape row
        per call makes every step of the machine heavier), and its records are small."""
        fwds = {r.fwd for r in self.records.values()}
        return all(sum(op.prim == "call" and op.attrs["callee"] in fwds for op in walk_ops(r.primal.body)) <= 1
                   and all(isinstance(t, TensorType) for t in r.types)
                   and sum(int(np.prod(t.shape)) for t in r.types) <= RECORD_LIMIT for r in self.records.values())

    def finish(self, primal: Function, linear: Function, transposed: Function, n_res: int):
        """Lay the tape out and wire it in: the entry's primal program starts an empty tape,
        threads it through its calls and returns its buffers after the residuals, where
        the entry's linear and transposed programs take them. (primal, linear,
        transposed, n_res) for the entry."""
        cap = self.max_iterations
        # (a row past the capacity takes the pushes of a full tape, and no read reaches it:
        # records then stay whole, each naming only calls pushed before it, so that even
        # the backward pass of a run that overflowed, whose result is discarded, ends)
        layout = [(rec, [TensorType((cap + 1,) + t.shape, t.dtype) for t in rec.types])
                  for rec in self.records.values()]
        state_types = [t for _, bufs in layout for t in [INDEX] + bufs]
        tape_types = [t for _, bufs in layout for t in bufs]
        fwds = {rec.fwd for rec, _ in layout}
        readers = {rec.lin for rec, _ in layout} | {rec.bwd for rec, _ in layout}
        for k, (rec, bufs) in enumerate(layout):
            self._fwd(rec, layout, k, state_types, fwds, cap)
            for name, inner in ((rec.lin, rec.linear), (rec.bwd, rec.transposed)):
                _take_tape(inner, len(inner.params), tape_types, readers)
                self.functions[name] = _reader(name, inner, rec.types, layout, k, cap)
        # the entry: a fresh tape in, its buffers out as residuals
        b = Builder(Region())
        state = [b.constant(0, t) for t in state_types]
        primal.body.ops[:0] = b.region.ops
        state = _thread(primal.body, state, fwds)
        ret = primal.body.ops[-1]
        indices = set(itertools.accumulate([0] + [1 + len(bufs) for _, bufs in layout[:-1]]))
        tape = [v for k, v in enumerate(state) if k not in indices]  # (the buffers, not the write indices)
        ret.operands[-1:-1] = tape
        primal.result_types[-1:-1] = [v.type for v in tape]
        for fn in (linear, transposed):
            _take_tape(fn, n_res, tape_types, readers)
        return primal, linear, transposed, n_res + len(tape_types)

    def _fwd(self, rec: _Record, layout, k: int, state_types, fwds, cap: int):
        """`h_fwd(params..., tape state...) -> (outs..., index, tape state...)`: h's primal
        program, threading the tape through its calls, with its own record pushed last."""
        fn = rec.primal
        state = [Value(t, "tape") for t in state_types]
        fn.body.params += state
        state = _thread(fn.body, state, fwds)
        ret = fn.body.ops.pop()
        outs, residuals, overflow = ret.operands[:rec.n_out], ret.operands[rec.n_out:-1], ret.operands[-1]
        at = sum(1 + len(bufs) for _, bufs in layout[:k])
        b = Builder(fn.body, ret.loc)
        index = state[at]
        zero = b.constant(0, INDEX)
        for j, v in enumerate(residuals):
            row = b.op("reshape", [v], v.hint, shape=(1,) + v.type.shape)
            state[at + 1 + j] = b.op("dynamic_update_slice", [state[at + 1 + j], row, index] + [zero] * len(v.type.shape),
                                     "tape")
        state[at] = b.op("add", [index, b.constant(1, INDEX)], "tape")
        full = b.op("ge", [index, b.constant(cap, INDEX)])
        b.append(Op("limit_flag", [b.op("or", [overflow, full])], {"limit": LOOP}, []))
        b.append(Op("return", outs + [index] + state, {}, [], [], ret.loc))
        fn.result_types = [v.type for v in outs] + [INDEX] + state_types
        self.functions[fn.name] = fn


def _thread(region: Region, state: list[Value], fwds: set) -> list[Value]:
    """Pass the tape `state` through every call of a function in `fwds` in `region`, in
    order, and through the branches and loops around them; the state after the region."""
    for op in region.ops:
        if op.prim == "call" and op.attrs["callee"] in fwds:
            new = [Value(v.type, v.hint) for v in state]
            op.operands, op.results, state = op.operands + state, op.results + new, new
        elif op.regions and any(o.prim == "call" and o.attrs["callee"] in fwds for r in op.regions for o in walk_ops(r)):
            new = [Value(v.type, v.hint) for v in state]
            if op.prim == "if":
                for r in op.regions:
                    r.ops[-1].operands += _thread(r, state, fwds)
            elif op.prim == "while":
                cond, body = op.regions
                op.operands = op.operands + state
                cond.params += [Value(v.type, v.hint) for v in state]
                inner = [Value(v.type, v.hint) for v in state]
                body.params += inner
                body.ops[-1].operands += _thread(body, inner, fwds)
            else:
                raise CompileError(f"internal (reverse mode, tape): cannot thread a tape through '{op.prim}'", op.loc)
            op.results, state = op.results + new, new
    return state


def _take_tape(fn: Function, at: int, tape_types, readers: set):
    """Give `fn` the tape's buffers as parameters at position `at` and pass them on to
    every call of a function in `readers` inside it."""
    tape = [Value(t, "tape") for t in tape_types]
    fn.body.params[at:at] = tape
    for op in walk_ops(fn.body):
        if op.prim == "call" and op.attrs["callee"] in readers:
            op.operands = op.operands + tape


def _reader(name: str, inner: Function, types, layout, k: int, cap: int) -> Function:
    """`name(index, values..., tape...)`: `inner(record at index..., values..., tape...)`,
    inlined, so that the recursion passes the tape on unchanged from `name` to `name`
    (the machine then keeps it in one register, pushed by no call)."""
    n_tape = sum(len(bufs) for _, bufs in layout)
    at = sum(len(bufs) for _, bufs in layout[:k])
    index = Value(INDEX, "call")
    values = [Value(p.type, p.hint) for p in inner.params[len(types):len(inner.params) - n_tape]]
    tape = [Value(p.type, "tape") for p in inner.params[len(inner.params) - n_tape:]]
    b = Builder(Region([index] + values + tape))
    zero = b.constant(0, INDEX)
    last = b.op("min", [index, b.constant(cap - 1, INDEX)])
    record = []
    for j, t in enumerate(types):
        row = b.op("dynamic_slice", [tape[at + j], last] + [zero] * len(t.shape), sizes=(1,) + t.shape)
        record.append(b.op("reshape", [row], shape=t.shape))
    body = clone_region(Region([], inner.body.ops), dict(zip(inner.params, record + values + tape)))
    b.region.ops += body.ops
    return Function(name, b.region, list(inner.result_types))


def drop_dead_tangent_calls(jvp: Module, origins: dict[str, str], source: Module) -> Module:
    """`jvp` (canonical) with each call of a JVP function whose tangent results nobody
    reads (a recursion returning only integers, or whose float result only decides a
    branch) made a call of the original function, and canonical again. Canonicalize
    cannot drop such dead tangent code itself, since it cannot change the callee's
    signature; linearize needs it gone (an op that reads tangents yields some)."""
    while True:
        changed = False
        for fn in list(jvp.functions.values()):
            used = {v for op in walk_ops(fn.body) for v in op.operands}
            for op in walk_ops(fn.body):
                callee = op.attrs.get("callee") if op.prim == "call" else None
                if callee not in origins or callee not in jvp.functions:
                    continue
                original = source.functions[origins[callee]]
                n_params, n_out = len(original.params), len(original.result_types)
                if any(r in used for r in op.results[n_out:]):
                    continue
                op.attrs = {**op.attrs, "callee": original.name}
                op.operands, op.results = op.operands[:n_params], op.results[:n_out]
                for n in with_callees(source, original.name) - set(jvp.functions):  # (they travel with it)
                    f = source.functions[n]
                    jvp.functions[n] = Function(n, clone_region(f.body, {}), f.result_types)
                changed = True
        if not changed:
            return jvp
        jvp = canonicalize(jvp)
