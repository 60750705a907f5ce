"""Reverse mode through recursion.

Linearize hoists residuals out of every scope, but a recursive call's residuals cannot
be hoisted: how many there are depends on the depth the call reaches. So the call stays
a call on both sides of the split. The primal program calls the original function for
the call's results; the linear program calls the callee's JVP, its primal arguments
becoming residuals. Transposing that linear call calls the callee's VJP, built here: it
runs the callee's primal program (calling the original function at each recursive call
inside) and then its transposed linear program (calling VJPs again at those calls).

Each call's primal is thus recomputed from its arguments when its cotangent arrives, one
level at a time: the stacks hold one level's residuals per active call (memory grows with
the depth, not with the number of calls), and the time is the calls times the depth.
The program-counter machine runs the result like any recursion.
"""
from __future__ import annotations

from ...ir import Builder, Function, Module, Op, Region, Value, walk_ops
from .linearize import Linearize
from .transpose import transpose_function


class Recursion:
    """The VJPs of the recursive functions a reverse-mode program calls. `source` is the
    differentiated module, `jvp` its (canonical) JVP module and `origins` maps each JVP
    function's name to the function it differentiates."""

    def __init__(self, source: Module, jvp: Module, origins: dict[str, str], max_iterations: int):
        self.source, self.jvp, self.origins = source, jvp, origins
        self.max_iterations = max_iterations
        self.functions: dict[str, Function] = {}  # what the split programs call, built or brought
        self.vjps: dict[str, str] = {}
        entry = source.entry.name  # (and the names reverse mode gives the entry's programs)
        self.used = set(source.functions) | set(jvp.functions) | {f"{entry}_{s}" for s in ("primal", "lin", "lin_t", "vjp")}

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
        todo = [name]
        while todo:
            n = todo.pop()
            if n in self.functions:
                continue
            fn = self.functions[n] = self.source.functions[n]
            todo += [op.attrs["callee"] for op in walk_ops(fn.body) if op.prim == "call"]
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
        split = Linearize(self.jvp.functions[callee], n_params, n_out, self.max_iterations, self, within=user)
        primal, linear, n_res = split.run(self.fresh(f"{user}_primal"), self.fresh(f"{user}_lin"))
        transposed = transpose_function(linear, n_res, self.fresh(f"{user}_lin_t"), self)
        params = [Value(p.type, p.hint) for p in primal.params]
        cts = [Value(t, "ct") for t in linear.result_types]
        body = Region(params + cts)
        b = Builder(body)
        outs = [Value(t) for t in primal.result_types]
        b.append(Op("call", params, {"callee": primal.name}, outs))
        grads = [Value(t) for t in transposed.result_types]
        b.append(Op("call", outs[n_out:n_out + n_res] + cts, {"callee": transposed.name}, grads))
        b.append(Op("return", grads, {}, []))
        for fn in (Function(name, body, [v.type for v in grads]), primal, transposed):
            self.functions[fn.name] = fn
        return name
