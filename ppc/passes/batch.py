"""Local static batching: every value that depends on a batched input gains a leading
batch axis, op by op through each primitive's batching rule.

Control flow: an `if` on an unbatched predicate stays an `if`; on a batched predicate
both branches run and `select` picks each member's result. A `while` whose condition is
batched runs while any member is active, each member's values frozen (by `select`) once
its own condition fails. Calls batch their callee (per pattern of batched arguments).

Members outside a branch they do not take, or outside a loop they have left, still run
its code, on values their program never computed: so every loop tests its condition on
the members the code runs for only (`Batch.mask`), or it might never end for them.
A batched predicate narrows the mask for the loops in its branches; a function with a
loop called under a mask takes the mask as one more parameter.

Recursion is inherited from host Python (`host=True` control flow; the module runs
eagerly): running both sides of a branch would recurse forever, so every function takes
the mask of members it runs for, a branch runs only when some member takes it (with the
mask narrowed to those members), and loops test their condition on the mask's members
only.
"""
from __future__ import annotations

from ..ir import Builder, CompileError, Function, Module, Op, Region, TensorType, Value, clone_region, lookup, walk_ops
from ..ir.callgraph import recursive_functions
from .ad.algebra import free_values, rule_for


class BatchCx:
    def __init__(self, pass_: "Batch", op: Op, b: Builder, vmap: dict, batched: set):
        self.p, self.source_op, self.prim, self.b = pass_, op, op.prim, b
        self.size = pass_.size
        self.vmap, self.batched = vmap, batched
        self.in_types = [v.type for v in op.operands]

    def broadcast(self, v: Value) -> Value:
        """An unbatched value, the same for every member."""
        t = v.type
        return self.b.op("broadcast_in_dim", [v], v.hint, shape=(self.size,) + t.shape,
                         dims=tuple(range(1, t.rank + 1)))

    def to_front(self, v: Value, pos: int) -> Value:
        if pos == 0:
            return v
        perm = (pos,) + tuple(i for i in range(v.type.rank) if i != pos)
        return self.b.op("transpose", [v], v.hint, perm=perm)

    def onehot(self, shape, axis: int, idx: Value) -> Value:
        """bool[shape]: true where the coordinate along `axis` is member b's index idx[b]
        (clamped into range, as XLA clamps dynamic slices)."""
        n = shape[axis]
        t = idx.type
        clamped = self.b.op("min", [self.b.op("max", [idx, self.b.constant(0, t)]), self.b.constant(n - 1, t)])
        coords = self.b.op("iota", [], shape=tuple(shape), dimension=axis, dtype=t.dtype)
        at = self.b.op("broadcast_in_dim", [clamped], shape=tuple(shape), dims=(0,))
        return self.b.op("eq", [coords, at])

    def pick(self, x: Value, axis: int, idx: Value) -> Value:
        """x with `axis` reduced to size 1: member b keeps element idx[b]."""
        mask = self.onehot(x.type.shape, axis, idx)
        if x.type.dtype == "bool":
            kept = self.b.op("reduce_or", [self.b.op("and", [mask, x])], axes=(axis,))
        else:
            kept = self.b.op("reduce_sum", [self.b.op("select", [mask, x, self.b.constant(0, x.type)])], axes=(axis,))
        shape = list(x.type.shape)
        shape[axis] = 1
        return self.b.op("reshape", [kept], x.hint, shape=tuple(shape))

    def clamp(self, idx: Value, high: int) -> Value:
        """idx clamped into [0, high], as XLA clamps a dynamic slice's start."""
        t = idx.type
        return self.b.op("min", [self.b.op("max", [idx, self.b.constant(0, t)]), self.b.constant(high, t)])

    def shift(self, x: Value, axis: int, amount: Value, toward_start: bool) -> Value:
        """x with member b's elements moved amount[b] places along `axis` (0 <= amount[b] <
        its length), toward index 0 or away from it, zeros filling in: one static shift
        per bit of the amount, each kept where the member's bit is set. Selects only, so
        the values move exactly (infinities and NaNs included), in log2(length) steps."""
        t = x.type
        n, zero = t.shape[axis], self.b.constant(0, TensorType((), t.dtype))
        it = amount.type
        for p in range((n - 1).bit_length()):
            step = 1 << p
            keep = [(0, d) for d in t.shape]
            keep[axis] = (step, n) if toward_start else (0, n - step)
            part = self.b.op("slice", [x], start=tuple(a for a, _ in keep), limit=tuple(z for _, z in keep),
                             stride=(1,) * t.rank)
            low, high = [0] * t.rank, [0] * t.rank
            (high if toward_start else low)[axis] = step
            moved = self.b.op("pad", [part, zero], low=tuple(low), high=tuple(high), interior=(0,) * t.rank)
            bit = self.b.op("ne", [self.b.op("and", [self.b.op("shift_right", [amount, self.b.constant(p, it)]),
                                                     self.b.constant(1, it)]), self.b.constant(0, it)])
            x = self.b.op("select", [self.b.op("broadcast_in_dim", [bit], shape=t.shape, dims=(0,)), moved, x])
        return x

    def batch_structured(self, operands, batched):
        return getattr(self.p, "batch_" + self.prim)(self, operands, batched)


class Batch:
    def __init__(self, module: Module, size: int, host: bool = False):
        self.src, self.size = module, size
        self.out: dict[str, Function] = {}
        self.done: dict[tuple, str] = {}
        # recursion runs on the host: control flow in host Python, masks threaded through calls
        self.host = host
        # bool[size]: the members the code being built runs for (None: every member)
        self.mask: Value | None = None
        self.looping: dict[str, bool] = {}  # function -> whether it may run a while loop
        self.machines: dict[str, bool] = {}  # function -> whether it runs a program-counter machine
        # a batch of one that is no batch to the user (a recursive function's own machine,
        # pc/machine.py): an op running a machine runs unbatched (`unbatched`)
        self.single = False

    def may_loop(self, ops) -> bool:
        """Whether these ops may run a while loop (in their regions or callees): only a
        loop's code needs the mask, since only a loop may run on without end for members
        outside it."""
        return self._reaches(ops, lambda op: op.prim == "while", self.looping)

    def _reaches(self, ops, found, memo: dict[str, bool]) -> bool:
        """Whether some op in `ops`, their regions or their callees is `found` (`memo`:
        each callee's answer)."""
        for top in ops:
            for op in [top, *(x for r in top.regions for x in walk_ops(r))]:
                if found(op):
                    return True
                if op.prim == "call":
                    name = op.attrs["callee"]
                    if name not in memo:
                        memo[name] = False  # (cuts recursion's cycles)
                        memo[name] = self._reaches(self.src.functions[name].body.ops, found, memo)
                    if memo[name]:
                        return True
        return False

    def function(self, name: str, flags: tuple[bool, ...], masked: bool) -> str:
        """The batched version of `name` (arguments batched as `flags`, and with `masked`
        the mask of the members it runs for last); it returns every result batched."""
        key = (name, flags, masked)
        if key in self.done:
            return self.done[key]
        new_name = name if not self.done and not self.host else f"{name}_batched{len(self.done)}"
        self.done[key] = new_name
        fn = self.src.functions[name]
        vmap, batched = {}, set()
        params = []
        for p, f in zip(fn.params, flags):
            t = TensorType((self.size,) + p.type.shape, p.type.dtype) if f else p.type
            vmap[p] = Value(t, p.hint)
            params.append(vmap[p])
            if f:
                batched.add(p)
        caller_mask = self.mask
        self.mask = None
        if masked:  # it runs for the members its caller passes
            self.mask = Value(TensorType((self.size,), "bool"), "running")
            params.append(self.mask)
        body = Region(params)
        b = Builder(body)
        self.ops(fn.body, vmap, batched, b)
        self.mask = caller_mask
        outs = [self.lift(b, vmap[v], v in batched) for v in fn.body.ops[-1].operands]
        b.append(Op("return", outs, {}, []))
        self.out[new_name] = Function(new_name, body, [v.type for v in outs])
        return new_name

    def host_entry(self, fn: Function, flags: tuple[bool, ...]) -> str:
        """The entry of a host-run module: its batched self, run for every member."""
        params = [Value(self.batched_type(p.type, f), p.hint) for p, f in zip(fn.params, flags)]
        body = Region(params)
        b = Builder(body)
        every = b.constant(True, TensorType((self.size,), "bool"), "running")
        callee = self.function(fn.name, flags, True)
        results = [Value(self.batched_type(t, True), None) for t in fn.result_types]
        b.append(Op("call", params + [every], {"callee": callee}, results))
        b.append(Op("return", results, {}, []))
        self.out[fn.name] = Function(fn.name, body, [v.type for v in results])
        return fn.name

    def runs_machine(self, ops) -> bool:
        """Whether these ops run a program-counter machine (its internal primitives, which
        have no batching rules), in their regions or callees: compiled code calling a
        program-counter batch."""
        return self._reaches(ops, lambda op: lookup(op.prim).internal, self.machines)

    def unbatched(self, op: Op, vmap, batched, b: Builder):
        """In a batch of one that is no batch to the user (`single`: a recursive function's
        own machine), an op that runs a machine (a program-counter batch it calls) runs as
        it is, on its operands without their batch axis, so it needs no batching rules; its
        results are unbatched (lifted where needed). Under a mask it runs only when the
        member is in it (an `if`): a branch the member does not take, or a block it is not
        at, must not run a machine on values it was never given. Batching a caller of a
        program-counter batch stays an error (algebra.rule_for), whatever the batch size."""
        inner = dict(vmap)
        for v in [*op.operands, *(x for r in op.regions for x in free_values(r))]:
            if v in batched:
                inner[v] = b.op("reshape", [vmap[v]], v.hint, shape=v.type.shape)

        def emit(bb: Builder) -> list[Value]:
            regions = [clone_region(r, inner) for r in op.regions]
            results = [Value(r.type, r.hint) for r in op.results]
            bb.append(Op(op.prim, [inner[v] for v in op.operands], op.attrs, results, regions, op.loc))
            return results
        if self.mask is None or any(not isinstance(r.type, TensorType) for r in op.results):
            results = emit(b)
        else:
            run, skip = Region(), Region()
            run.ops.append(Op("yield", emit(Builder(run, op.loc)), {}, []))
            sb = Builder(skip, op.loc)
            skip.ops.append(Op("yield", [sb.op("zeros", [], shape=r.type.shape, dtype=r.type.dtype)
                                         for r in op.results], {}, []))
            results = [Value(r.type, r.hint) for r in op.results]
            b.append(Op("if", [b.op("reduce_or", [self.mask], axes=(0,))], {}, results, [run, skip], op.loc))
        vmap.update(zip(op.results, results))

    def lift(self, b: Builder, v: Value, is_batched: bool) -> Value:
        if is_batched:
            return v
        t = v.type
        return b.op("broadcast_in_dim", [v], v.hint, shape=(self.size,) + t.shape, dims=tuple(range(1, t.rank + 1)))

    def ops(self, region: Region, vmap, batched, b: Builder):
        for op in region.ops[:-1]:
            self.op(op, vmap, batched, b)

    def op(self, op: Op, vmap, batched, b: Builder):
        b.loc = op.loc
        flags = [v in batched for v in op.operands]
        captured = any(v in batched for r in op.regions for v in free_values(r))
        hosted = self.host and (op.regions or op.prim == "call")  # needs the mask, or host control flow
        guarded = self.mask is not None and self.may_loop([op])
        if self.single and (any(flags) or captured or guarded) and self.runs_machine([op]):
            return self.unbatched(op, vmap, batched, b)
        if not any(flags) and not captured and not hosted and not guarded:
            regions = [clone_region(r, vmap) for r in op.regions]
            results = [Value(r.type, r.hint) for r in op.results]
            b.append(Op(op.prim, [vmap[v] for v in op.operands], op.attrs, results, regions, op.loc))
            vmap.update(zip(op.results, results))
            return
        cx = BatchCx(self, op, b, vmap, batched)
        try:
            outs, out_flags = rule_for(op, "batch")(cx, [vmap[v] for v in op.operands], flags, **op.attrs)
        except ValueError as e:
            raise CompileError(f"cannot batch '{op.prim}': {e}", op.loc) from None
        for r, o, f in zip(op.results, outs, out_flags):
            vmap[r] = o
            if f:
                batched.add(r)

    # -- control flow (the registry's if/while/call rules land here) ------------------------
    def batch_call(self, cx: BatchCx, operands, flags):
        op = cx.source_op
        masked = self.host or (self.mask is not None and self.may_loop([op]))
        name = self.function(op.attrs["callee"], tuple(flags), masked)
        results = [Value(TensorType((self.size,) + r.type.shape, r.type.dtype), r.hint) for r in op.results]
        if masked:
            operands = list(operands) + [self.mask]
        cx.b.append(Op("call", operands, {"callee": name}, results, [], op.loc))
        return results, [True] * len(results)

    def branch(self, region: Region, vmap, batched, b: Builder):
        self.ops(region, vmap, batched, b)
        return [(vmap[v], v in batched) for v in region.ops[-1].operands]

    def batch_if(self, cx: BatchCx, operands, flags):
        op = cx.source_op
        b = cx.b
        if self.host and flags[0]:
            return self.host_if(cx, operands[0])
        if not flags[0]:  # one branch for everybody: the `if` stays, its results batched as needed
            regions, yields = [], []
            for region in op.regions:
                new = Region()
                yields.append(self.branch(region, cx.vmap, cx.batched, Builder(new, op.loc)))
                regions.append(new)
            out_flags = [a[1] or c[1] for a, c in zip(*yields)]
            for new, ys in zip(regions, yields):
                nb = Builder(new, op.loc)
                new.ops.append(Op("yield", [self.lift(nb, v, f) if need else v
                                            for (v, f), need in zip(ys, out_flags)], {}, []))
            results = [Value(self.batched_type(r.type, f), r.hint) for r, f in zip(op.results, out_flags)]
            b.append(Op("if", operands, {"host": True} if self.host else {}, results, regions, op.loc))
            return results, out_flags
        # members disagree: run both sides, then each member takes its own side's values
        pred = operands[0]
        sides = []
        for region, taken in zip(op.regions, (pred, None)):
            outer = self.mask
            if self.may_loop(region.ops):  # (its loops run for the members taking it only)
                taken = taken or b.op("not", [pred])
                self.mask = taken if outer is None else b.op("and", [outer, taken])
            sides.append(self.branch(region, cx.vmap, cx.batched, b))
            self.mask = outer
        then, other = sides
        outs = []
        for (a, fa), (c, fc), r in zip(then, other, op.results):
            a, c = self.lift(b, a, fa), self.lift(b, c, fc)
            mask = b.op("broadcast_in_dim", [pred], shape=a.type.shape, dims=(0,))
            outs.append(b.op("select", [mask, a, c], r.hint))
        return outs, [True] * len(outs)

    def host_if(self, cx: BatchCx, pred: Value):
        """Each side runs, in host Python, only if some running member takes it, and only
        for those members; `select` joins the two."""
        op, b = cx.source_op, cx.b
        sides = []
        for region, taken in zip(op.regions, (pred, b.op("not", [pred]))):
            mask = b.op("and", [self.mask, taken])
            run, skip = Region(), Region()
            outer, self.mask = self.mask, mask
            ys = self.branch(region, cx.vmap, cx.batched, Builder(run, op.loc))
            self.mask = outer
            rb, sb = Builder(run, op.loc), Builder(skip, op.loc)
            outs = [self.lift(rb, v, f) for v, f in ys]
            run.ops.append(Op("yield", outs, {}, []))
            skip.ops.append(Op("yield", [sb.op("zeros", [], shape=o.type.shape, dtype=o.type.dtype) for o in outs], {}, []))
            results = [Value(o.type, r.hint) for o, r in zip(outs, op.results)]
            b.append(Op("if", [b.op("reduce_or", [mask], axes=(0,))], {"host": True}, results, [run, skip], op.loc))
            sides.append(results)
        outs = [b.op("select", [b.op("broadcast_in_dim", [pred], shape=a.type.shape, dims=(0,)), a, c], r.hint)
                for a, c, r in zip(*sides, op.results)]
        return outs, [True] * len(outs)

    def masked_while(self, cx: BatchCx, operands, flags, attrs: dict):
        """A loop whose condition differs per member (or any loop in host Python): it runs
        while some member the code runs for holds its condition; the body runs, for those
        members, with every value batched, and the others keep their values."""
        op = cx.source_op
        cond, body = op.regions
        every = [True] * len(operands)
        vmap, batched = dict(cx.vmap), set(cx.batched)
        new_cond = self.loop_region(cond, every, vmap, batched)
        cb = Builder(new_cond, op.loc)
        test = cond.ops[-1].operands[0]
        looping = self.narrow(cb, self.lift(cb, vmap[test], test in batched))
        new_cond.ops.append(Op("yield", [cb.op("reduce_or", [looping], axes=(0,))], {}, []))
        vmap, batched = dict(cx.vmap), set(cx.batched)
        new_body = self.loop_region(cond, every, vmap, batched)  # the test again, then the body
        nb = Builder(new_body, op.loc)
        active = self.narrow(nb, self.lift(nb, vmap[test], test in batched), "active")
        vmap.update(zip(body.params, new_body.params))
        batched.update(body.params)
        outer, self.mask = self.mask, active
        self.ops(body, vmap, batched, nb)
        self.mask = outer
        outs = [nb.op("select", [nb.op("broadcast_in_dim", [active], shape=p.type.shape, dims=(0,)),
                                 self.lift(nb, vmap[y], y in batched), p], p.hint)
                for y, p in zip(body.ops[-1].operands, new_body.params)]
        new_body.ops.append(Op("yield", outs, {}, []))
        inits = [self.lift(cx.b, v, f) for v, f in zip(operands, flags)]
        results = [Value(self.batched_type(r.type, True), r.hint) for r in op.results]
        cx.b.append(Op("while", inits, attrs, results, [new_cond, new_body], op.loc))
        return results, every

    def narrow(self, b: Builder, taken: Value, hint: str | None = None) -> Value:
        """The members the code runs for that take a way (`taken`, bool[size])."""
        return taken if self.mask is None else b.op("and", [self.mask, taken], hint)

    def batched_type(self, t, f):
        return TensorType((self.size,) + t.shape, t.dtype) if f else t

    def batch_while(self, cx: BatchCx, operands, flags):
        op = cx.source_op
        if self.host:
            return self.masked_while(cx, operands, flags, {"host": True})
        cond, body = op.regions
        flags = list(flags)
        while True:  # loop values that become batched in the body are batched throughout
            vmap, batched = dict(cx.vmap), set(cx.batched)
            new_body = self.loop_region(body, flags, vmap, batched)
            ys = body.ops[-1].operands
            grown = [f or (y in batched) for f, y in zip(flags, ys)]
            if grown == flags:
                break
            flags = grown
        cvmap, cbatched = dict(cx.vmap), set(cx.batched)
        new_cond = self.loop_region(cond, flags, cvmap, cbatched)
        if cond.ops[-1].operands[0] in cbatched:  # members stop at different iterations
            attrs = {k: v for k, v in op.attrs.items() if k != "trip_count"}
            return self.masked_while(cx, operands, [v in cx.batched for v in op.operands], attrs)
        nb, cb = Builder(new_body, op.loc), Builder(new_cond, op.loc)
        outs = [self.lift(nb, vmap[y], y in batched) if f else vmap[y] for y, f in zip(ys, flags)]
        test = cvmap[cond.ops[-1].operands[0]]
        if self.mask is not None and "trip_count" not in op.attrs:  # it runs only if some member runs it
            test = cb.op("and", [test, cx.b.op("reduce_or", [self.mask], axes=(0,))])
        new_body.ops.append(Op("yield", outs, {}, []))
        new_cond.ops.append(Op("yield", [test], {}, []))
        inits = [self.lift(cx.b, v, fl) if f else v for v, fl, f in zip(operands, [v in cx.batched for v in op.operands], flags)]
        results = [Value(self.batched_type(r.type, f), r.hint) for r, f in zip(op.results, flags)]
        cx.b.append(Op("while", inits, dict(op.attrs), results, [new_cond, new_body], op.loc))
        return results, flags

    def loop_region(self, region: Region, flags, vmap, batched) -> Region:
        params = [Value(self.batched_type(p.type, f), p.hint) for p, f in zip(region.params, flags)]
        vmap.update(zip(region.params, params))
        batched.update(p for p, f in zip(region.params, flags) if f)
        new = Region(params)
        self.ops(region, vmap, batched, Builder(new))
        return new


def batch_module(module: Module, flags: tuple[bool, ...], size: int) -> Module:
    """The module whose entry is `module`'s entry with the parameters `flags` selects
    carrying a leading batch axis of `size`; every result is batched."""
    bt = Batch(module, size, host=bool(recursive_functions(module)))
    name = bt.host_entry(module.entry, tuple(flags)) if bt.host else bt.function(module.entry.name, tuple(flags), False)
    out = Module([bt.out[name]] + [f for n, f in bt.out.items() if n != name])
    for fn in out.functions.values():  # calls to functions that were never batched keep them
        for op in walk_ops(fn.body):
            callee = op.attrs.get("callee") if op.prim == "call" else None
            if callee and callee not in out.functions:
                src = module.functions[callee]
                out.functions[callee] = Function(callee, clone_region(src.body, {}), src.result_types)
    return out
