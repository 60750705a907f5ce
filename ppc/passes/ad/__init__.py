"""Automatic differentiation as IR passes: forward mode (jvp), partial evaluation into a
primal and a linear program (linearize), and transposition of the linear program
(transpose). Reverse mode is transpose after linearize; `Reverse.vjp_module` composes them."""
from __future__ import annotations

from ...ir import Builder, Function, Module, Op, Region, Value, walk_ops
from ..canonicalize import canonicalize
from ..flags import LOOP, thread_flags
from ..manager import register_pass
from .algebra import Cx
from .jvp import differentiable, jvp_module, jvp_with_origins
from .linearize import DEFAULT_MAX_ITERATIONS, Linearize
from .recursion import Recursion, drop_dead_tangent_calls
from .transpose import transpose_function


@register_pass("jvp")
def jvp_pass(module: Module) -> Module:
    """Forward mode with respect to every float parameter of the entry."""
    return jvp_module(module)


class Reverse:
    """The pieces of reverse mode for one function: its JVP, the primal and linear
    programs, and the transposed linear program."""

    def __init__(self, module: Module, mask: tuple[bool, ...], max_iterations: int = DEFAULT_MAX_ITERATIONS):
        entry = module.entry
        self.n_params, self.n_out = len(entry.params), len(entry.result_types)
        self.mask = tuple(m and differentiable(p) for m, p in zip(mask, entry.params))
        jvp, origins = jvp_with_origins(module, self.mask)
        self.jvp = drop_dead_tangent_calls(canonicalize(jvp), origins, module)
        for tape in (True, False):  # (a tape of recursive calls where it pays: recursion.py)
            recursion = Recursion(module, self.jvp, origins, max_iterations, tape)
            names = self.names = recursion.entry_names
            primal, linear, n_res = Linearize(self.jvp.entry, self.n_params, self.n_out, max_iterations,
                                              recursion).run(names["primal"], names["lin"])
            transposed = transpose_function(linear, n_res, names["lin_t"], recursion)
            if not recursion.records:
                break
            if recursion.pays():
                primal, linear, transposed, n_res = recursion.finish(primal, linear, transposed, n_res)
                break
        self.primal, self.linear, self.transposed, self.n_res = primal, linear, transposed, n_res
        # functions the programs call: callees without tangents (a recursion on integers),
        # recursive functions, their JVPs and VJPs
        called = {op.attrs["callee"] for f in self.jvp.functions.values() for op in walk_ops(f.body) if op.prim == "call"}
        self.callees = [f for f in self.jvp.functions.values() if f is not self.jvp.entry or f.name in called]
        self.callees += [f for n, f in recursion.functions.items() if n not in self.jvp.functions]
        # which results have tangents (float results), in order
        self.float_outs = [i for i, t in enumerate(entry.result_types) if differentiable(t)]

    def vjp_module(self, layout, seeds: dict[int, float] | None = None, flags=()) -> Module:
        """One function `(params...[, result cotangents...]) -> (layout..., overflow)` that runs
        the primal program, then the transposed linear one. `layout` lists the outputs:
        ("out", i) for primal result i, ("grad", k) for the cotangent of the k-th
        differentiated parameter. `seeds` fixes result cotangents (result index ->
        constant); without it they are parameters. Results listed in `flags` are booleans
        or-ed into the overflow output."""
        params = self.jvp.entry.params[:self.n_params]
        entry_params = [Value(p.type, p.hint) for p in params]
        body = Region(entry_params)
        b = Builder(body)
        outs = [Value(t) for t in self.primal.result_types]
        b.append(Op("call", entry_params, {"callee": self.primal.name}, outs))
        results, res, overflow = outs[:self.n_out], outs[self.n_out:-1], outs[-1]
        if seeds is None:
            cts = [Value(results[i].type, "ct") for i in self.float_outs]
            body.params += cts
        else:
            cts = [Cx(b).zeros(results[i].type) if i not in seeds else b.constant(seeds[i], results[i].type)
                   for i in self.float_outs]
        grads = [Value(t) for t in self.transposed.result_types]
        b.append(Op("call", res + cts, {"callee": self.transposed.name}, grads))
        for i in flags:
            overflow = b.op("or", [overflow, results[i]], "overflow")
        ret = [results[i] if kind == "out" else grads[i] for kind, i in layout] + [overflow]
        b.append(Op("return", ret, {}, []))
        fn = Function(self.names["vjp"], body, [v.type for v in ret])
        module, raised = thread_flags(Module([fn, self.primal, self.transposed] + self.callees))
        if raised:  # (loops inside recursive functions' VJPs: their flags join the overflow result)
            entry = module.entry
            ret = entry.body.ops[-1]
            *rest, own, theirs = ret.operands
            joined = Value(own.type, "overflow")
            entry.body.ops.insert(len(entry.body.ops) - 1, Op("or", [own, theirs], {}, [joined]))
            ret.operands = rest + [joined]
            entry.result_types = entry.result_types[:-1]
        return _drop_constant_flag(canonicalize(module))


def _drop_constant_flag(module: Module) -> tuple[Module, tuple[str, ...]]:
    """(module, limits): a program without run-time-bounded loops has a constant false
    overflow flag, which is dropped so that it costs nothing."""
    entry = module.entry
    ret = entry.body.ops[-1]
    flag = ret.operands[-1]
    for op in entry.body.ops:
        if flag in op.results and op.prim == "constant" and op.attrs["value"] is False:
            ret.operands = ret.operands[:-1]
            entry.result_types = entry.result_types[:-1]
            return canonicalize(module), ()
    return module, (LOOP,)


__all__ = ["jvp_module", "Linearize", "transpose_function", "Reverse", "DEFAULT_MAX_ITERATIONS",
           "differentiable"]
