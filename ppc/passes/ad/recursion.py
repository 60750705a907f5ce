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
"""
from __future__ import annotations

from ...ir import Builder, Function, Module, Op, Region, Value, clone_region, walk_ops
from ...ir.callgraph import recursive_functions, with_callees
from ..canonicalize import canonicalize
from ..flags import LOOP
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
