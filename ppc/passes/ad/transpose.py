"""Transpose: a linear program f_lin(residuals, t) -> y becomes
f_lin_t(residuals, y_bar) -> t_bar, with <t_bar, t> = <y_bar, f_lin(t)>.

Values that do not depend on t (residual bookkeeping: loop counters, stack reads,
constants) are replayed forward first; then the linear ops are visited backwards, each
primitive's transpose rule turning result cotangents into operand cotangents, which
accumulate by addition. An `if` transposes branch by branch on the same predicate. A
linear loop (as linearize writes them: a counter j from 0 to its trip count) runs
backwards, j from count-1 down to 0, carrying the cotangents of its loop values and
accumulating those of the linear values it reads from outside.
"""
from __future__ import annotations

from ...ir import Builder, CompileError, Function, Op, Region, Value, clone_region
from .algebra import Cx, dependents, free_values, rule_for


class TransposeCx(Cx):
    def __init__(self, tr: "Transpose", op: Op, b: Builder, ct: dict, fmap: dict):
        super().__init__(b)
        self.tr, self.source_op, self.prim = tr, op, op.prim
        self.ct, self.fmap = ct, fmap
        self.in_types = [v.type for v in op.operands]
        self.out_types = [v.type for v in op.results]

    def transpose_structured(self, cts, operands, linear):
        return getattr(self.tr, "transpose_" + self.prim)(self, cts)


def _ordered_free(regions, linear) -> list[Value]:
    seen = []
    for r in regions:
        for v in free_values(r):
            if v in linear and v not in seen:
                seen.append(v)
    return sorted(seen, key=lambda v: (v.hint or "", id(v)))


class Transpose:
    def __init__(self, linear: set, recursion=None):
        self.linear, self.recursion = linear, recursion

    def accumulate(self, cx: Cx, ct: dict, v: Value, c):
        if c is not None and v in self.linear:
            ct[v] = cx.add(ct.get(v), c)

    def region(self, region: Region, b: Builder, fmap: dict, ct: dict):
        """Replay `region`'s non-linear ops into `b`, then push cotangents (seeded in `ct`
        by the caller for the region's yields) back to the values it read."""
        linear_ops = []
        for op in region.ops[:-1]:
            if any(r in self.linear for r in op.results):
                linear_ops.append(op)
            elif not any(v in self.linear for v in op.operands):
                regions = [clone_region(r, fmap) for r in op.regions]
                results = [Value(r.type, r.hint) for r in op.results]
                b.append(Op(op.prim, [fmap[v] for v in op.operands], op.attrs, results, regions, op.loc))
                fmap.update(zip(op.results, results))
        for op in reversed(linear_ops):
            cts = [ct.get(r) for r in op.results]
            if all(c is None for c in cts):
                continue
            b.loc = op.loc
            cx = TransposeCx(self, op, b, ct, fmap)
            operands = [None if v in self.linear else fmap[v] for v in op.operands]
            flags = [v in self.linear for v in op.operands]
            try:
                outs = rule_for(op, "transpose")(cx, cts, operands, flags, **op.attrs)
            except ValueError as e:
                raise CompileError(f"cannot transpose '{op.prim}': {e}", op.loc) from None
            for v, c in zip(op.operands, outs):
                self.accumulate(cx, ct, v, c)

    def transpose_if(self, cx: TransposeCx, cts):
        op = cx.source_op
        if op.operands[0] in self.linear:
            raise CompileError("cannot transpose an `if` whose predicate is linear", op.loc)
        free = _ordered_free(op.regions, self.linear)
        if not free:
            return [None]
        regions = []
        for region in op.regions:
            new = Region()
            bb = Builder(new, op.loc)
            rct: dict = {}
            for y, c in zip(region.ops[-1].operands, cts):
                self.accumulate(Cx(bb), rct, y, c)
            self.region(region, bb, cx.fmap, rct)
            new.ops.append(Op("yield", [rct.get(v) or bb.constant(0, v.type) for v in free], {}, []))
            regions.append(new)
        results = [Value(v.type, v.hint) for v in free]
        cx.b.append(Op("if", [cx.fmap[op.operands[0]]], {}, results, regions, op.loc))
        for v, r in zip(free, results):
            self.accumulate(cx, cx.ct, v, r)
        return [None]

    def transpose_while(self, cx: TransposeCx, cts):
        op = cx.source_op
        cond, body = op.regions
        flags = [p in self.linear for p in body.params]
        bound = _counted_loop_bound(cond)
        if flags[0] or not all(flags[1:]) or bound is None:
            raise CompileError("cannot transpose this loop: only loops counting j = 0, 1, ... below a "
                               "bound, carrying linear values, can run backwards", op.loc)
        b = cx.b
        if bound in cond.params:
            raise CompileError("cannot transpose this loop: its bound changes", op.loc)
        bound_v = b.constant(bound.attrs_value, bound.type) if isinstance(bound, _Const) else cx.fmap[bound]
        counter_t = body.params[0].type
        free = _ordered_free([body], self.linear)
        lin_params = body.params[1:]
        i0 = b.constant(0, counter_t)
        ct_inits = [c if c is not None else b.constant(0, r.type) for c, r in zip(cts[1:], op.results[1:])]
        acc_inits = [b.constant(0, v.type) for v in free]
        carried_t = [counter_t] + [p.type for p in lin_params] + [v.type for v in free]
        # cond: i < bound
        c_params = [Value(t, h) for t, h in zip(carried_t, ["i"] + [p.hint for p in lin_params] + [v.hint for v in free])]
        new_cond = Region(c_params)
        cb = Builder(new_cond, op.loc)
        new_cond.ops.append(Op("yield", [cb.op("lt", [c_params[0], bound_v])], {}, []))
        # body: j = bound - 1 - i; replay forward; transpose backwards
        i = Value(counter_t, "i")
        ct_params = [Value(p.type, f"{p.hint}_bar" if p.hint else None) for p in lin_params]
        acc_params = [Value(v.type, f"{v.hint}_bar" if v.hint else None) for v in free]
        new_body = Region([i] + ct_params + acc_params)
        bb = Builder(new_body, op.loc)
        last = bb.op("sub", [bound_v, bb.constant(1, counter_t)])
        j = bb.op("sub", [last, i], "j")
        fmap = dict(cx.fmap)
        fmap[body.params[0]] = j
        rct: dict = {}
        bcx = Cx(bb)
        for y, c in zip(body.ops[-1].operands[1:], ct_params):
            self.accumulate(bcx, rct, y, c)
        self.region(body, bb, fmap, rct)
        new_cts = [rct.get(p) or bb.constant(0, p.type) for p in lin_params]
        new_accs = [bcx.add(a, rct.get(v)) for a, v in zip(acc_params, free)]
        nxt = bb.op("add", [i, bb.constant(1, counter_t)], "i")
        new_body.ops.append(Op("yield", [nxt] + new_cts + new_accs, {}, []))
        results = [Value(t) for t in carried_t]
        b.append(Op("while", [i0] + ct_inits + acc_inits, op.attrs, results, [new_cond, new_body], op.loc))
        n = len(lin_params)
        for v, r in zip(op.operands[1:], results[1:1 + n]):
            self.accumulate(cx, cx.ct, v, r)
        for v, r in zip(free, results[1 + n:]):
            self.accumulate(cx, cx.ct, v, r)
        return [None] * len(op.operands)


    def transpose_call(self, cx: TransposeCx, cts):
        """A linear call of a recursive function's JVP (linearize writes them) runs that
        function's VJP on the same primal arguments; a linear call of a recorded function
        runs its backward function on the same record."""
        op = cx.source_op
        callee = op.attrs["callee"]
        bwd = self.recursion.bwd_of(callee) if self.recursion else None
        if bwd is not None:  # (a recorded call: its backward function reads its record at the index)
            results = [Value(v.type, f"{v.hint}_bar" if v.hint else None) for v in op.operands[1:]]
            out_cts = [c if c is not None else cx.zeros(r.type) for c, r in zip(cts, op.results)]
            cx.b.append(Op("call", [cx.fmap[op.operands[0]]] + out_cts, {"callee": bwd}, results, [], op.loc))
            return [None] + results
        arity = self.recursion.arity(callee) if self.recursion else None
        if arity is None:
            raise CompileError(f"cannot transpose a call of '{callee}'", op.loc)
        n_params, n_out = arity
        if any(v in self.linear for v in op.operands[:n_params]):
            raise CompileError(f"cannot transpose a call of '{callee}' whose primal arguments are linear", op.loc)
        tangents = op.operands[n_params:]
        out_cts = [c if c is not None else cx.zeros(r.type) for c, r in zip(cts[n_out:], op.results[n_out:])]
        results = [Value(v.type, f"{v.hint}_bar" if v.hint else None) for v in tangents]
        cx.b.append(Op("call", [cx.fmap[v] for v in op.operands[:n_params]] + out_cts,
                       {"callee": self.recursion.vjp_of(callee)}, results, [], op.loc))
        return [None] * n_params + results


class _Const:
    def __init__(self, op: Op):
        self.attrs_value, self.type = op.attrs["value"], op.results[0].type


def _counted_loop_bound(cond: Region):
    """The bound X of a condition `lt %j, X` on the first loop value, or None."""
    test = cond.ops[-1].operands[0]
    for op in cond.ops:
        if test in op.results and op.prim == "lt" and op.operands[0] is cond.params[0]:
            x = op.operands[1]
            for d in cond.ops:
                if x in d.results:
                    return _Const(d) if d.prim == "constant" else None
            return x
    return None


def transpose_function(fn: Function, n_nonlinear: int, name: str | None = None, recursion=None) -> Function:
    """`fn(nonlinear..., linear...) -> outs` becomes `(nonlinear..., outs_bar...) -> linear_bar...`;
    `recursion` (a recursion.Recursion) transposes calls of recursive functions' JVPs."""
    linear = dependents(fn.body, set(fn.params[n_nonlinear:]))
    fmap = {}
    params = []
    for p in fn.params[:n_nonlinear]:
        fmap[p] = Value(p.type, p.hint)
        params.append(fmap[p])
    ret = fn.body.ops[-1]
    ct_params = [Value(v.type, f"{v.hint}_bar" if v.hint else "ct") for v in ret.operands]
    body = Region(params + ct_params)
    b = Builder(body)
    tr = Transpose(linear, recursion)
    ct: dict = {}
    for v, c in zip(ret.operands, ct_params):
        tr.accumulate(Cx(b), ct, v, c)
    tr.region(fn.body, b, fmap, ct)
    outs = [ct.get(p) or b.constant(0, p.type) for p in fn.params[n_nonlinear:]]
    b.append(Op("return", outs, {}, []))
    return Function(name or f"{fn.name}_t", body, [v.type for v in outs])

