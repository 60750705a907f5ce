"""Forward mode: a function f(p) becomes f_jvp(p, p_dot) -> (f(p), df(p)[p_dot]).

Tangents are carried beside primals op by op, each op's primitive supplying its rule.
A tangent that is identically zero is not materialised (None), so untouched values cost
nothing. Integer and boolean values never have tangents. `if` differentiates branch by
branch; `while` carries the tangents of the loop values whose derivative can be
non-zero (found by iterating the body to a fixpoint); calls differentiate the callee,
recursive ones included.
"""
from __future__ import annotations

from ...ir import Builder, Function, Module, Op, Region, TupleType, Value, clone_region, walk_ops
from ...ir.types import is_float
from .algebra import Cx, free_values, rule_for


def differentiable(v) -> bool:
    """Float arrays, and tuples of them, have tangents."""
    t = v.type if isinstance(v, Value) else v
    if isinstance(t, TupleType):
        return all(differentiable(e) for e in t.elements)
    return is_float(t.dtype)


def tangent_hint(v: Value) -> str | None:
    return f"{v.hint}_dot" if v.hint else None


class JvpCx(Cx):
    def __init__(self, jvp: "Jvp", op: Op, b: Builder, primals, tangents, pmap, tmap):
        super().__init__(b)
        self.jvp, self.source_op = jvp, op
        self.prim = op.prim
        self.primals, self.tangents = primals, tangents
        self.pmap, self.tmap = pmap, tmap
        self.in_types = [v.type for v in op.operands]
        self.out_types = [v.type for v in op.results]

    def primal(self) -> list[Value]:
        return self.b.op_n(self.prim, self.primals, **self.source_op.attrs)

    def jvp_structured(self, primals, tangents):
        return getattr(self.jvp, "jvp_" + self.prim)(self)


class Jvp:
    def __init__(self, module: Module):
        self.src = module
        self.out: dict[str, Function] = {}
        self.done: dict[tuple, str] = {}

    def fresh_name(self, base: str) -> str:
        name, k = base, 0
        while name in self.src.functions or name in self.out or name in self.done.values():
            k += 1
            name = f"{base}_{k}"
        return name

    def function(self, name: str, mask: tuple[bool, ...]) -> str:
        """The JVP of function `name` with tangents for the parameters `mask` selects;
        it returns every primal result, then a tangent for every float result."""
        key = (name, mask)
        if key in self.done:
            return self.done[key]
        new_name = self.fresh_name(f"{name}_jvp")
        self.done[key] = new_name
        fn = self.src.functions[name]
        pmap, tmap = {}, {}
        params = []
        for p in fn.params:
            pmap[p] = Value(p.type, p.hint)
            params.append(pmap[p])
        for p, m in zip(fn.params, mask):
            if m:
                tmap[p] = Value(p.type, tangent_hint(p))
                params.append(tmap[p])
        body = Region(params)
        b = Builder(body)
        self.ops(fn.body, pmap, tmap, b)
        ret = fn.body.ops[-1]
        outs = [pmap[v] for v in ret.operands]
        touts = [tmap.get(v) or Cx(b).zeros(v.type) for v in ret.operands if differentiable(v)]
        b.append(Op("return", outs + touts, {}, []))
        self.out[new_name] = Function(new_name, body, [v.type for v in outs + touts])
        return new_name

    def ops(self, region: Region, pmap, tmap, b: Builder):
        """Differentiate every op of `region` but its terminator, appending to `b`."""
        for op in region.ops[:-1]:
            self.op(op, pmap, tmap, b)

    def op(self, op: Op, pmap, tmap, b: Builder):
        b.loc = op.loc
        primals = [pmap[v] for v in op.operands]
        tangents = [tmap.get(v) for v in op.operands]
        captured = any(v in tmap for r in op.regions for v in free_values(r))
        if all(t is None for t in tangents) and not captured:
            self.copy(op, pmap, b)
            return
        cx = JvpCx(self, op, b, primals, tangents, pmap, tmap)
        outs, touts = rule_for(op, "jvp")(cx, primals, tangents, **op.attrs)
        for r, o, t in zip(op.results, outs, touts):
            pmap[r] = o
            if t is not None and differentiable(r):
                tmap[r] = t

    def copy(self, op: Op, pmap, b: Builder):
        """An op whose inputs carry no tangent is copied unchanged."""
        regions = [clone_region(r, pmap) for r in op.regions]
        results = [Value(r.type, r.hint) for r in op.results]
        b.append(Op(op.prim, [pmap[v] for v in op.operands], op.attrs, results, regions, op.loc))
        pmap.update(zip(op.results, results))

    # -- control flow (the registry's if/while/call rules land here) ------------------------
    def jvp_call(self, cx: JvpCx):
        callee = self.src.functions[cx.source_op.attrs["callee"]]
        mask = tuple(t is not None and differentiable(p) for t, p in zip(cx.tangents, callee.params))
        name = self.function(callee.name, mask)
        fn_out_types = [r for r in callee.result_types]
        n = len(fn_out_types)
        tangent_args = [t for t, m in zip(cx.tangents, mask) if m]
        results = [Value(t, r.hint) for t, r in zip(fn_out_types, cx.source_op.results)]
        tresults = [Value(t, tangent_hint(r)) for t, r in zip(fn_out_types, cx.source_op.results)
                    if differentiable(t)]
        cx.b.append(Op("call", cx.primals + tangent_args, {"callee": name}, results + tresults))
        it = iter(tresults)
        return results[:n], [next(it) if differentiable(t) else None for t in fn_out_types]

    def jvp_if(self, cx: JvpCx):
        op = cx.source_op
        branches = []
        for region in op.regions:
            new = Region()
            self.ops(region, cx.pmap, cx.tmap, Builder(new, op.loc))
            ys = region.ops[-1].operands
            branches.append((new, [cx.pmap[v] for v in ys], [cx.tmap.get(v) for v in ys]))
        need = [differentiable(r) and any(br[2][i] is not None for br in branches)
                for i, r in enumerate(op.results)]
        for new, ps, ts in branches:
            bb = Builder(new, op.loc)
            tys = [t if t is not None else bb.constant(0, r.type)
                   for t, r, n in zip(ts, op.results, need) if n]
            new.ops.append(Op("yield", ps + tys, {}, []))
        results = [Value(r.type, r.hint) for r in op.results]
        tresults = [Value(r.type, tangent_hint(r)) for r, n in zip(op.results, need) if n]
        cx.b.append(Op("if", cx.primals, {}, results + tresults, [b[0] for b in branches], op.loc))
        it = iter(tresults)
        return results, [next(it) if n else None for n in need]

    def jvp_while(self, cx: JvpCx):
        op = cx.source_op
        cond, body = op.regions
        mask = [t is not None and differentiable(v) for t, v in zip(cx.tangents, op.operands)]
        while True:
            pmap, tmap = dict(cx.pmap), dict(cx.tmap)
            params = [Value(p.type, p.hint) for p in body.params]
            tparams = [Value(p.type, tangent_hint(p)) for p, m in zip(body.params, mask) if m]
            pmap.update(zip(body.params, params))
            it = iter(tparams)
            for p, m in zip(body.params, mask):
                if m:
                    tmap[p] = next(it)
            new_body = Region(params + tparams)
            self.ops(body, pmap, tmap, Builder(new_body, op.loc))
            ys = body.ops[-1].operands
            grown = [m or (tmap.get(y) is not None and differentiable(y)) for m, y in zip(mask, ys)]
            if grown == mask:
                break
            mask = grown
        bb = Builder(new_body, op.loc)
        new_body.ops.append(Op("yield", [pmap[y] for y in ys] + [
            tmap.get(y) or bb.constant(0, y.type) for y, m in zip(ys, mask) if m], {}, []))
        cmap = dict(cx.pmap)
        cparams = [Value(p.type, p.hint) for p in cond.params]
        cmap.update(zip(cond.params, cparams))
        new_cond = clone_region(Region([], cond.ops), cmap)
        new_cond.params = cparams + [Value(p.type, tangent_hint(p)) for p, m in zip(cond.params, mask) if m]
        inits = cx.primals + [t if t is not None else cx.b.constant(0, v.type)
                              for t, v, m in zip(cx.tangents, op.operands, mask) if m]
        results = [Value(r.type, r.hint) for r in op.results]
        tresults = [Value(r.type, tangent_hint(r)) for r, m in zip(op.results, mask) if m]
        cx.b.append(Op("while", inits, op.attrs, results + tresults, [new_cond, new_body], op.loc))
        it = iter(tresults)
        return results, [next(it) if m else None for m in mask]


def jvp_module(module: Module, mask: tuple[bool, ...] | None = None) -> Module:
    """The module whose entry is the JVP of `module`'s entry; `mask` picks the entry
    parameters with tangents (default: every float parameter)."""
    return jvp_with_origins(module, mask)[0]


def jvp_with_origins(module: Module, mask: tuple[bool, ...] | None = None) -> tuple[Module, dict[str, str]]:
    """`jvp_module`, and the name of the function each JVP function differentiates
    (reverse mode calls the originals of recursive functions for their primal results)."""
    entry = module.entry
    if mask is None:
        mask = tuple(differentiable(p) for p in entry.params)
    mask = tuple(m and differentiable(p) for m, p in zip(mask, entry.params))
    j = Jvp(module)
    name = j.function(entry.name, mask)
    out = Module([j.out[name]] + [f for n, f in j.out.items() if n != name])
    _add_called_originals(out, module)
    return out, {jvp_name: name for (name, _), jvp_name in j.done.items()}


def _add_called_originals(out: Module, src: Module):
    """Functions called without tangents are called as they were: bring them along."""
    todo = True
    while todo:
        todo = False
        for fn in list(out.functions.values()):
            for op in walk_ops(fn.body):
                callee = op.attrs.get("callee") if op.prim == "call" else None
                if callee and callee not in out.functions:
                    f = src.functions[callee]
                    out.functions[callee] = Function(callee, clone_region(f.body, {}), f.result_types)
                    todo = True
