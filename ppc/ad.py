"""Derivatives of ppc functions: jvp, linearize, linear_transpose, vjp, grad,
value_and_grad and hessian.

Each is a function whose IR is built from another function's canonical IR by the AD
passes (forward mode, then linearize and transpose for reverse mode) and compiled like
any ppc function, specialized and cached per argument signature. They accept plain
Python functions or compiled ones, and compose: grad(grad(f)), jvp(grad(f)), and
compiled code may call ppc.grad(g)(x).
"""
from __future__ import annotations

import numpy as np

from .api import Compiled, LoopLimitError, Specialization, _check_flag, _check_stack, backend_module
from .frontend.arrays import NUMPY_SCALAR
from .frontend.lower import Slot
from .frontend.values import leaves as _leaves
from .ir import CompileError, Module, Op, TensorType, TupleType, Value
from .ir.callgraph import recursive_functions
from .ir.types import numpy_dtype
from .passes import run_passes
from .passes.flags import thread_flags
from .passes.ppl import refuse_model
from .passes.ad import DEFAULT_MAX_ITERATIONS, Reverse, differentiable, jvp_module, transpose_function


def as_compiled(f) -> Compiled:
    """`f` as a compiled function: itself, or, for a plain Python function, one Compiled
    kept on the function, so whatever is made of it shares one compile cache (a second
    `ppc.infer.nuts(model)` compiles nothing). The identity check keeps a wrapper that
    copied a function's attributes (functools.wraps) from borrowing its Compiled."""
    if isinstance(f, Compiled):
        return f
    compiled = getattr(f, "__ppc_compiled__", None)
    if compiled is None or compiled.__ppc_function__ is not f:
        compiled = Compiled(f)
        f.__ppc_compiled__ = compiled
    return compiled


class Derived(Compiled):
    """A compiled function whose IR derives from another's (`build` makes it). Its first
    `drop_first` and last `drop_last` arguments are its own (a key, theta, tangents,
    values); the rest go to the base function. Only a model transformation (`models`)
    takes a base with random variables."""

    def __init__(self, base: Compiled, build, name: str, drop_first: int = 0, drop_last: int = 0,
                 models: bool = False):
        self.base, self.build, self.models = base, build, models
        self.drop_first, self.drop_last = drop_first, drop_last
        self.__name__ = self.__qualname__ = name
        self.__doc__ = base.__doc__
        self.__ppc_function__ = base.__ppc_function__
        self.backend = base.backend
        self.static_argnums = frozenset(i + drop_first for i in base.static_argnums)  # (its own come first)
        self.max_stack_depth = base.max_stack_depth
        self._cache = {}
        self.derived = {}

    def _lower(self, args, kwargs):
        base_args = args[self.drop_first:len(args) - self.drop_last]
        spec = self.base.specialize(*base_args, **kwargs)
        if not self.models:
            refuse_model(spec.canonical)
        return self.build(spec, base_args, kwargs)

    def __ppc_call_ir__(self, args, kwargs):
        """For compiled code calling this function: (canonical module, template, flagged)."""
        spec = self.specialize(*args, **kwargs)
        return spec.canonical, spec.template, spec.flagged


def _param_indices(f: Compiled, args, argnums) -> list[int]:
    """Entry-parameter positions of positional arguments `argnums` (static ones have none)."""
    out = []
    for a in argnums:
        if not -len(args) <= a < len(args):
            raise ValueError(f"argnums {a} is out of range for {len(args)} positional arguments")
        a %= len(args)  # (negative counts from the end, as JAX's)
        if a in f.static_argnums:
            raise ValueError(f"cannot differentiate with respect to static argument {a}")
        out.append(sum(1 for i in range(a) if i not in f.static_argnums))
    return out


def _grad_builder(base: Compiled, argnums, has_aux: bool, with_value: bool, max_iterations: int):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)

    def build(spec: Specialization, args, kwargs):
        module = spec.canonical
        entry = module.entry
        idx = _param_indices(base, args, nums)
        template = spec.template
        if has_aux:
            if not (isinstance(template, tuple) and len(template) == 2):
                raise CompileError("has_aux=True needs the function to return a pair (output, aux)")
            out_t, aux_t = template
        else:
            out_t, aux_t = template, None
        if not isinstance(out_t, Slot) or out_t.type.shape != () or not differentiable(out_t.type):
            got = str(out_t.type) if isinstance(out_t, Slot) else "a tuple"
            raise CompileError(f"grad of '{base.__name__}' needs a function returning a float scalar; it returns "
                               f"{got}", entry.body.terminator.loc)
        for i in idx:
            if not differentiable(entry.params[i]):
                raise CompileError(f"grad with respect to argument '{entry.params[i].hint}' of type "
                                   f"{entry.params[i].type}: only float arrays (and tuples of them) have gradients")
        mask = tuple(i in idx for i in range(len(entry.params)))
        rev = Reverse(module, mask, max_iterations)
        order = sorted(idx)
        grad_slots = [("grad", order.index(i)) for i in idx]
        aux_layout = [("out", k) for k in range(1, len(_leaves(aux_t)) + 1)] if has_aux else []
        value_layout = [("out", 0)]
        flags = [len(entry.result_types) - 1] if spec.flagged else []
        grads_t = tuple(Slot(entry.params[i].type, False) for i in idx)
        grads_t = grads_t[0] if single else grads_t
        if with_value:
            layout = value_layout + aux_layout + grad_slots
            tmpl = ((out_t, aux_t) if has_aux else out_t, grads_t)
        else:
            layout = grad_slots + aux_layout
            tmpl = (grads_t, aux_t) if has_aux else grads_t
        module, flagged = rev.vjp_module(layout, seeds={0: 1.0}, flags=flags)
        return module, tmpl, flagged
    return build


def grad(f, argnums=0, has_aux: bool = False, max_iterations: int = DEFAULT_MAX_ITERATIONS):
    """The gradient of a float-scalar function, by reverse mode (transpose of linearize).
    `max_iterations` bounds the iterations recorded for each `while` loop whose trip
    count is only known at run time (exceeding it raises LoopLimitError)."""
    base = as_compiled(f)
    _check_argnums(base, argnums)
    return Derived(base, _grad_builder(base, argnums, has_aux, False, max_iterations), f"grad_{base.__name__}")


def value_and_grad(f, argnums=0, has_aux: bool = False, max_iterations: int = DEFAULT_MAX_ITERATIONS):
    """(f(x), grad f(x)) in one program; with has_aux, ((f(x), aux), grad)."""
    base = as_compiled(f)
    _check_argnums(base, argnums)
    return Derived(base, _grad_builder(base, argnums, has_aux, True, max_iterations), f"value_and_grad_{base.__name__}")


def value_and_grad_with_overflow(f, max_iterations: int = DEFAULT_MAX_ITERATIONS):
    """((f(x), grad f(x)), overflow): value_and_grad of f in its first argument whose
    loop-limit flag is an ordinary last result rather than a check Python makes after the
    call, so that compiled code (a sampler's transition) can call it and carry the flag
    out itself. `overflow` is True where a `while` loop ran past `max_iterations` (the
    gradient is then wrong); always False for a function without one."""
    base = as_compiled(f)
    inner = _grad_builder(base, 0, False, True, max_iterations)

    def build(spec: Specialization, args, kwargs):
        module, template, flagged = inner(spec, args, kwargs)
        if not flagged:
            entry = module.entry
            no = Value(TensorType((), "bool"))
            entry.body.ops.insert(len(entry.body.ops) - 1, Op("constant", [], {"value": False, "shape": (),
                                                                               "dtype": "bool"}, [no]))
            entry.body.terminator.operands.append(no)
            entry.result_types.append(no.type)
        return module, (template, Slot(TensorType((), "bool"), False)), ()
    return Derived(base, build, f"value_grad_overflow_{base.__name__}")


def _check_argnums(base, argnums):
    for a in (argnums,) if isinstance(argnums, int) else argnums:
        if a in base.static_argnums:
            raise ValueError(f"cannot differentiate with respect to static argument {a}")


def _tangent_template(template):
    if isinstance(template, Slot):
        return template if differentiable(template.type) else None
    if isinstance(template, (tuple, list)):
        return type(template)(_tangent_template(t) for t in template)
    return None


def _jvp_builder(spec: Specialization, args, kwargs):
    module = spec.canonical
    entry = module.entry
    j = run_passes(jvp_module(module), ["canonicalize"])
    n_out = len(entry.result_types)
    if spec.flagged:  # keep the overflow flag last
        ret = j.entry.body.ops[-1]
        ops = ret.operands
        ret.operands = ops[:n_out - 1] + ops[n_out:] + [ops[n_out - 1]]
        types = j.entry.result_types
        j.entry.result_types = types[:n_out - 1] + types[n_out:] + [types[n_out - 1]]
    tmpl = (spec.template, _tangent_template(spec.template))
    return j, tmpl, spec.flagged


def _jvp_function(base: Compiled, n_tangents: int) -> Derived:
    """jvp of `base`, called as (primals..., tangents of the float primals...)."""
    cache = base.__dict__.setdefault("_derived", {})
    if ("jvp", n_tangents) not in cache:
        cache["jvp", n_tangents] = Derived(base, _jvp_builder, f"jvp_{base.__name__}", drop_last=n_tangents)
    return cache["jvp", n_tangents]


def jvp(f, primals, tangents):
    """(f(*primals), the derivative of f at primals along tangents), by forward mode.
    Tangents of non-float primals are ignored; non-float outputs get tangent None."""
    base = as_compiled(f)
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals but {len(tangents)} tangents")
    _refuse_mixed_tuples("jvp", base, primals)
    floats = [_check_tangent(i, p, t) for i, (p, t) in enumerate(zip(primals, tangents)) if _is_float_value(p)]
    return _jvp_function(base, len(floats))(*primals, *floats)


def _check_tangent(i: int, primal, tangent):
    """A tangent of its primal's shape and dtype (a Python number takes the primal's,
    a Python float primal is float64), element by element through tuples, as jax.jvp checks."""
    if isinstance(primal, (tuple, list)):
        if not isinstance(tangent, (tuple, list)) or len(tangent) != len(primal):
            raise ValueError(f"jvp: tangent {i} must be a {type(primal).__name__} of {len(primal)} like its primal")
        return type(tangent)(_check_tangent(i, p, t) for p, t in zip(primal, tangent))
    p_shape, t_shape = np.shape(primal), np.shape(tangent)
    if p_shape != t_shape:
        raise ValueError(f"jvp: tangent {i} has shape {t_shape}, but its primal has shape {p_shape}")
    p_dt = np.dtype(NUMPY_SCALAR[float] if type(primal) is float else primal.dtype)
    if type(tangent) in (int, float):  # (weak; NumPy's np.float64 is a float, but not weak)
        return p_dt.type(tangent)
    t_dt = np.result_type(tangent)
    if p_dt != t_dt:
        raise ValueError(f"jvp: tangent {i} has dtype {t_dt}, but its primal has dtype {p_dt}")
    return tangent


def _refuse_mixed_tuples(what: str, base: Compiled, primals) -> None:
    """A tuple argument is differentiated whole, when all its leaves are floats; one that
    mixes in integers would get no tangent at all, a silently zero derivative."""
    for i, p in enumerate(primals):
        if i not in base.static_argnums and len({_is_float_value(x) for x in _leaves(p)}) == 2:
            raise ValueError(f"{what}: argument {i} is a tuple mixing float and non-float values, which has no "
                             "tangent; pass its float and its integer parts as separate arguments")


def _is_float_value(v) -> bool:
    if isinstance(v, (tuple, list)):
        return all(_is_float_value(x) for x in v)
    if isinstance(v, float):
        return True
    dt = getattr(v, "dtype", None)
    return dt is not None and np.dtype(dt).kind == "f"


class LinearFunction:
    """The linear map t -> df(x)[t] at a fixed x: the linear program with its residuals."""

    def __init__(self, rev: Reverse, residuals, out_template, base: Compiled):
        self.rev, self.residuals, self.out_template, self.base = rev, list(residuals), out_template, base
        self.backend = base.backend
        self.source, self._run = _program(Module([rev.linear] + rev.callees), base, f"{base.__name__}_lin")

    def __call__(self, *tangents):
        tangents = _check_linear_args("the linearized function (one tangent per float primal)", tangents,
                                      self.rev.linear.params[len(self.residuals):])
        out = self._run(*self.residuals, *tangents)
        return _fill_template(_tangent_template(self.out_template), out)

    def transpose(self):
        fn = self.rev.transposed
        _, run = _program(Module([fn] + self.rev.callees), self.base, "linear_transpose")
        residuals = self.residuals

        def transposed(*cotangents):
            cotangents = _check_linear_args("the transposed function (one cotangent per float result)", cotangents,
                                            fn.params[len(residuals):])
            return tuple(run(*residuals, *cotangents))
        return transposed


def _check_linear_args(what: str, values, params) -> list:
    """`values` as arguments for `params`: as many, each of its parameter's shape (the
    compiled program would broadcast a wrong one silently), converted to its dtype (a
    float64 cotangent of a float32 result would otherwise make float64 cotangents)."""
    if len(values) != len(params):
        raise TypeError(f"{what} takes {len(params)} arguments, got {len(values)}")
    return [_check_linear_arg(what, k, v, p.type) for k, (v, p) in enumerate(zip(values, params))]


def _check_linear_arg(what: str, k: int, v, t):
    if isinstance(t, TupleType):
        if not isinstance(v, (tuple, list)) or len(v) != len(t.elements):
            raise ValueError(f"{what}: argument {k} must be a tuple of {len(t.elements)}, like {t}")
        return tuple(_check_linear_arg(what, k, x, e) for x, e in zip(v, t.elements))
    if np.shape(v) != t.shape:
        raise ValueError(f"{what}: argument {k} has shape {np.shape(v)}, but should have {t.shape} ({t})")
    dtype = numpy_dtype(t.dtype)
    return v.astype(dtype) if hasattr(v, "astype") else np.asarray(v, dtype)


def _fill_template(template, flat: list):
    it = iter(flat)

    def walk(t):
        if isinstance(t, Slot):
            return next(it)
        if isinstance(t, (tuple, list)):
            return type(t)(walk(x) for x in t)
        return t
    return walk(template)


def _reverse_at(what: str, f, primals, max_iterations):
    base = as_compiled(f)
    _refuse_mixed_tuples(what, base, primals)
    spec = base.specialize(*primals)
    entry = spec.canonical.entry
    mask = tuple(differentiable(p) for p in entry.params)
    rev = Reverse(spec.canonical, mask, max_iterations)
    _, run = _program(Module([rev.primal] + rev.callees), base, f"{base.__name__}_primal")
    dyn = [p for i, p in enumerate(primals) if i not in base.static_argnums]
    out = list(run(*[_runtime(p) for p in dyn]))
    n_out = len(entry.result_types)
    _check_flag(out[-1])
    results, residuals = out[:n_out], out[n_out:-1]
    if spec.flagged:
        _check_flag(results[-1])
        results = results[:-1]
    return base, spec, rev, _fill_template(spec.template, results), residuals


def _program(module: Module, base: Compiled, origin: str):
    """(source, run): `run` runs `module`'s entry (with the functions it calls) and returns
    its results as a list: compiled, or, where it recurses on traced values, the
    program-counter machine with a batch of one (as `ppc.compile` runs recursion), whose
    stack overflow is an error; so is a loop past its recorded iterations inside a
    recursive function's VJP (a raised flag, passes/flags.py)."""
    from .passes.pc import machine_module
    module, raised = thread_flags(_reachable(module))
    module = run_passes(module, ["canonicalize"])
    compile_module = backend_module(base.backend).compile_module

    def checked(out):
        if raised:
            _check_flag(out.pop())
        return out
    if not recursive_functions(module):
        source, run = compile_module(module, origin)
        return source, lambda *args: checked(list(run(*args)))
    machine, _ = machine_module(module, [False] * len(module.entry.params), 1, base.max_stack_depth, squeeze=True)
    source, run = compile_module(machine, origin, machine=True)

    def run_machine(*args):
        out = list(run(*args))
        _check_stack(out, base.max_stack_depth)
        return checked(out[:-3])
    return source, run_machine


def _runtime(v):
    from .api import _to_runtime
    return _to_runtime(v)


def linearize(f, *primals, max_iterations: int = DEFAULT_MAX_ITERATIONS):
    """(f(*primals), f_lin) where f_lin(*tangents) is the derivative at primals: the
    linear program of reverse mode, with its residuals already computed."""
    base, spec, rev, out, residuals = _reverse_at("linearize", f, primals, max_iterations)
    return out, LinearFunction(rev, residuals, spec.template, base)


def vjp(f, *primals, max_iterations: int = DEFAULT_MAX_ITERATIONS):
    """(f(*primals), vjp_fn) where vjp_fn(cotangent) returns one cotangent per float
    primal (None for the others), by transposing the linear program."""
    base, spec, rev, out, residuals = _reverse_at("vjp", f, primals, max_iterations)
    transposed = LinearFunction(rev, residuals, spec.template, base).transpose()
    float_params = [differentiable(p) for p in spec.canonical.entry.params]

    def vjp_fn(cotangent):
        leaves = _leaves(cotangent) if isinstance(spec.template, (tuple, list)) else [cotangent]
        template = _leaves(spec.template)
        if len(leaves) != len(template):
            raise ValueError(f"vjp_fn takes a cotangent structured like the function's result: "
                             f"{len(template)} values, got {len(leaves)}")
        cts = [c for t, c in zip(template, leaves) if isinstance(t, Slot) and differentiable(t.type)]
        grads = iter(transposed(*cts))
        dyn = iter(float_params)
        result = []
        for i in range(len(primals)):
            if i in base.static_argnums:
                result.append(None)
            else:
                result.append(next(grads) if next(dyn) else None)
        return tuple(result)
    return out, vjp_fn


def linear_transpose(f_lin, *example):
    """The transpose of a linear function: from ppc.linearize, or any Python function
    that is linear in all its arguments (given example arguments for their types)."""
    if isinstance(f_lin, LinearFunction):
        return f_lin.transpose()
    base = as_compiled(f_lin)
    spec = base.specialize(*example)
    fn = transpose_function(spec.canonical.entry, 0, f"{spec.canonical.entry.name}_t")
    _, run = backend_module(base.backend).compile_module(run_passes(Module([fn]), ["canonicalize"]),
                                                         f"{base.__name__}_t")

    def transposed(*cotangents):
        cotangents = _check_linear_args("the transposed function (one cotangent per result)", cotangents, fn.params)
        return tuple(run(*cotangents))
    return transposed


def hessian(f, argnums: int = 0, max_iterations: int = DEFAULT_MAX_ITERATIONS):
    """The Hessian by forward over reverse, as one compiled program: a loop over the
    basis directions e_k of argument `argnums`, each row the JVP of grad f along e_k."""
    if not isinstance(argnums, int) or isinstance(argnums, bool):
        raise TypeError(f"ppc.hessian takes one argument position (an int) as argnums, got {argnums!r}: for "
                        "several arguments, pass them as one array (np.concatenate) and split it inside")
    base = as_compiled(f)
    g = grad(base, argnums, max_iterations=max_iterations)

    def build(spec: Specialization, args, kwargs):
        gspec = g.specialize(*args, **kwargs)
        (i,) = _param_indices(base, args, (argnums,))
        gm = gspec.canonical
        x = gm.entry.params[i]
        if not isinstance(x.type, TensorType):
            raise CompileError(f"hessian with respect to argument '{x.hint}' of type {x.type}: only arrays "
                               "are supported (pass the tuple's arrays as separate arguments)")
        mask = tuple(k == i for k in range(len(gm.entry.params)))
        jm = run_passes(jvp_module(gm, mask), ["canonicalize"])
        module = _hessian_module(jm, i, len(gm.entry.result_types), gspec.flagged)
        return module, Slot(_hessian_type(gm.entry.params[i].type), False), gspec.flagged
    return Derived(base, build, f"hessian_{base.__name__}")


def _hessian_type(t):
    return TensorType(t.shape + t.shape, t.dtype)


def _hessian_module(jm: Module, i: int, n_grad_out: int, flagged: bool) -> Module:
    """`(params...) -> H`: H[k] = the tangent of grad along the k-th basis vector of param i.
    The JVP of grad returns grad's `n_grad_out` results (the gradient first, then, when
    `flagged`, the loop-overflow flag), then their tangents; a flagged Hessian or-s the
    flags of every row into its own last result, so a loop past max_iterations is caught."""
    from .ir import Builder, Function, Op, Region, Value
    jvp_fn = jm.entry
    n_params = len(jvp_fn.params) - 1
    params = [Value(p.type, p.hint) for p in jvp_fn.params[:n_params]]
    x_t = params[i].type
    n = int(np.prod(x_t.shape, dtype=np.int64))
    rows_t = TensorType((n,) + x_t.shape, x_t.dtype)
    body = Region(params)
    b = Builder(body)
    idx, flag_t = TensorType((), "i64"), TensorType((), "bool")
    carried = [Value(idx, "k"), Value(rows_t, "H")] + ([Value(flag_t, "overflow")] if flagged else [])
    inits = [b.constant(0, idx), b.constant(0, rows_t)] + ([b.constant(False, flag_t)] if flagged else [])
    cond = Region([Value(v.type, v.hint) for v in carried])
    cb = Builder(cond)
    cond.ops.append(Op("yield", [cb.op("lt", [cond.params[0], cb.constant(n, idx)])], {}, []))
    loop = Region(carried)
    lb = Builder(loop)
    k, rows = carried[:2]
    onehot = lb.op("eq", [lb.op("iota", [], shape=(n,), dimension=0, dtype="i64"),
                          lb.op("broadcast_in_dim", [k], shape=(n,), dims=())])
    e = lb.op("reshape", [lb.op("convert", [onehot], dtype=x_t.dtype)], "e", shape=x_t.shape)
    outs = [Value(t) for t in jvp_fn.result_types]
    lb.append(Op("call", params + [e], {"callee": jvp_fn.name}, outs))
    row = lb.op("reshape", [outs[n_grad_out]], shape=(1,) + x_t.shape)
    zero = lb.constant(0, idx)
    rows2 = lb.op("dynamic_update_slice", [rows, row, k] + [zero] * len(x_t.shape), "H")
    flags = [lb.op("or", [carried[2], outs[n_grad_out - 1]], "overflow")] if flagged else []
    loop.ops.append(Op("yield", [lb.op("add", [k, lb.constant(1, idx)], "k"), rows2] + flags, {}, []))
    res = [Value(v.type, v.hint) for v in carried]
    b.append(Op("while", inits, {"trip_count": n}, res, [cond, loop]))
    hess = b.op("reshape", [res[1]], "hessian", shape=x_t.shape + x_t.shape)
    ret = [hess] + res[2:]
    b.append(Op("return", ret, {}, []))
    fn = Function(f"{jvp_fn.name.removesuffix('_jvp')}_hessian", body, [v.type for v in ret])
    return run_passes(Module([fn] + list(jm.functions.values())), ["canonicalize"])


def _reachable(module: Module) -> Module:
    from .frontend.lower import _prune
    return _prune(module)


def stage_text(f: Compiled, args, stage: str) -> str:
    """The `jvp`, `linear`, `transpose` or `grad` stage of f at these arguments, as text
    (with respect to every float argument; `grad` seeds the first result with ones)."""
    from .ir import print_module
    spec = f.specialize(*args)
    module = spec.canonical
    mask = tuple(differentiable(p) for p in module.entry.params)
    if stage == "jvp":
        return print_module(run_passes(jvp_module(module, mask), ["canonicalize"]))
    rev = Reverse(module, mask)

    def alone(fn):  # (with the functions it calls: a recursion on integers has no tangent)
        return print_module(run_passes(_reachable(Module([fn] + rev.callees)), ["canonicalize"]))
    if stage == "linear":
        return alone(rev.primal) + "\n" + alone(rev.linear)
    if stage == "transpose":
        return alone(rev.transposed)
    if stage == "grad":
        layout = [("grad", k) for k in range(sum(mask))]
        return print_module(rev.vjp_module(layout, seeds={0: 1.0})[0])
    raise ValueError(f"unknown AD stage {stage!r}")


__all__ = ["grad", "value_and_grad", "value_and_grad_with_overflow", "jvp", "vjp", "linearize", "linear_transpose", "hessian",
           "LinearFunction", "LoopLimitError"]
