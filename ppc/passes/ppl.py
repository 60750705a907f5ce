"""The model transformations: random variables (`sample`/`observe` ops) rewritten into
the programs inference needs.

- log_joint: every latent variable becomes a parameter; the program returns the sum of
  every variable's log density at its value (Edward2's log-joint, as a rewrite).
- unconstrained: the latent variables are read from one flat unconstrained vector,
  mapped into their supports; the log density includes the log-Jacobians.
- sample: draws every latent variable from an explicit PRNG key, split once per draw.
- condition: pins named variables to data (they become `observe` ops).

Densities, samplers and transforms come from the distribution registry as IR functions,
called here and inlined by canonicalize.
"""
from __future__ import annotations

import numpy as np

from ..ir import (Builder, CompileError, Function, Module, Op, TensorType, Value, clone_region, walk_ops)
from ..ir.distributions import distribution
from ..ir.types import is_float, is_int, numpy_dtype
from .canonicalize import canonicalize, clone_module
from .manager import register_pass

RANDOM = ("sample", "observe")
MODEL_OPS = RANDOM + ("factor",)  # what only a model transformation can run


def random_variables(module: Module) -> list[Op]:
    """The model's random variables, in program order; each must stand at the entry's top
    level (after inlining), be named, and be named uniquely."""
    entry = module.entry
    top = [op for op in entry.body.ops if op.prim in RANDOM]
    for fn in module.functions.values():
        for op in walk_ops(fn.body):
            if op.prim in RANDOM and op not in top:
                raise CompileError("random variables inside an `if`, a loop or a recursive function are not "
                                   "supported", op.loc, "write the model with vectorized random variables")
            if op.prim == "factor" and op not in entry.body.ops:
                raise CompileError("ppc.factor inside an `if`, a loop or a recursive function is not supported",
                                   op.loc, "compute the term with np.where and add it at the model's top level")
    seen = {}
    for op in top:
        name = op.attrs["name"]
        if name is None:
            raise CompileError("this random variable has no name", op.loc,
                               "assign it to a variable or pass name=")
        if name in seen:
            raise CompileError(f"two random variables are named '{name}'", op.loc,
                               "give each random variable its own name= (a helper function called twice "
                               "needs a name argument)")
        seen[name] = op
    for op in entry.body.ops:  # a named factor shares the namespace of random variables
        name = op.attrs["name"] if op.prim == "factor" else None
        if name in seen:
            other = "another factor" if seen[name].prim == "factor" else "a random variable"
            raise CompileError(f"this factor and {other} are both named '{name}'", op.loc,
                               "give each factor a name no random variable or other factor has")
        if name is not None:
            seen[name] = op
    return top


def refuse_model(module: Module) -> None:
    """A CompileError at a model's first random variable: running or batching a model as
    a plain program has no meaning (which draw? whose density?) until a model
    transformation rewrites its random variables."""
    rv = next((op for fn in module.functions.values() for op in walk_ops(fn.body) if op.prim in MODEL_OPS), None)
    if rv is not None:
        name = module.entry.name
        which = f" '{rv.attrs['name']}'" if rv.attrs["name"] else ""
        what = "factor" if rv.prim == "factor" else "random variable"
        raise CompileError(
            f"'{name}' is a model (its {what}{which} is here), which runs only through a "
            "model transformation", rv.loc,
            f"draw its variables with ppc.sample({name}, key, ...), evaluate its density with "
            f"ppc.log_joint({name}), or sample its posterior with ppc.infer")


class _Splicer:
    """Adds IR functions from the registry's modules to a module under fresh names."""

    def __init__(self, module: Module):
        self.module = module

    def add(self, source: Module, base: str) -> str:
        renames = {}
        for name in source.functions:
            new, k = f"{base}", 0
            while new in self.module.functions or new in renames.values():
                k += 1
                new = f"{base}_{k}"
            renames[name] = new
        for name, fn in source.functions.items():
            body = clone_region(fn.body, {})
            for op in walk_ops(body):
                if op.prim == "call":
                    op.attrs = dict(op.attrs, callee=renames[op.attrs["callee"]])
            self.module.functions[renames[name]] = Function(renames[name], body, fn.result_types)
        return renames[source.entry.name]


def _replace_uses(region, mapping: dict):
    for op in walk_ops(region):
        op.operands = [mapping.get(v, v) for v in op.operands]


def _summed(b: Builder, lp: Value) -> Value:
    """A log-density term summed over its elements (a scalar stays as it is)."""
    return b.op("reduce_sum", [lp], axes=tuple(range(lp.type.rank))) if lp.type.rank else lp


def _rewrite(module: Module, value_of, with_density: bool = True):
    """Remove every random variable and factor from a copy of `module`: `value_of(op, builder, splice)`
    gives (its value, an extra log-density term or None) built before the op's position.
    Returns (module, ops, total log density or None, the map from each variable's old
    result to its value)."""
    m = canonicalize(clone_module(module))
    entry = m.entry
    rvs = random_variables(m)
    splice = _Splicer(m)
    terms = []
    new_ops = []
    mapping = {}
    b = Builder(entry.body)
    for op in list(entry.body.ops):
        if op.prim not in MODEL_OPS:
            new_ops.append(op)
            continue
        b.region.ops, b.loc = new_ops, op.loc
        if op.prim == "factor":  # a term of the density, or nothing
            if with_density:
                terms.append(_summed(b, op.operands[0]))
            continue
        value, extra = value_of(op, b, splice)
        mapping[op.results[0]] = value
        if with_density:
            rules = distribution(op.attrs["dist"])
            params = op.operands if op.prim == "sample" else op.operands[1:]
            lp_name = splice.add(rules.log_prob(value.type, [p.type for p in params]), f"{op.attrs['dist']}_log_prob")
            lp_fn = m.functions[lp_name]
            lp = Value(lp_fn.result_types[0], f"{op.attrs['name']}_lp")
            b.append(Op("call", [value] + list(params), {"callee": lp_name}, [lp]))
            terms.append(_summed(b, lp))
        if extra is not None:
            terms.append(extra)
        new_ops = b.region.ops
    entry.body.ops = new_ops
    _replace_uses(entry.body, mapping)
    total = None
    if with_density:
        b.region.ops = entry.body.ops[:-1]
        ret = entry.body.ops[-1]
        dtypes = {t.type.dtype for t in terms}
        dt = "f64" if "f64" in dtypes or not dtypes else dtypes.pop()
        total = b.constant(0.0, TensorType((), dt))
        for t in terms:
            if t.type.dtype != dt:
                t = b.op("convert", [t], dtype=dt)
            total = b.op("add", [total, t], "log_joint")
        b.region.ops.append(ret)
    return m, rvs, total, mapping


def _set_return(m: Module, values):
    entry = m.entry
    entry.body.ops[-1] = Op("return", list(values), {}, [])
    entry.result_types = [v.type for v in values]


def log_joint_module(module: Module) -> tuple[Module, list[str]]:
    """(module whose entry is (args..., latent values...) -> log density, latent names)."""
    latent = []

    def value_of(op, b, splice):
        if op.prim == "observe":
            return op.operands[0], None
        p = Value(op.results[0].type, op.attrs["name"])
        latent.append(p)
        return p, None
    m, rvs, total, _ = _rewrite(module, value_of)
    m.entry.body.params += latent
    _set_return(m, [total])
    return canonicalize(m), [p.hint for p in latent]


@register_pass("log_joint")
def log_joint_pass(module: Module) -> Module:
    return log_joint_module(module)[0]


def latent_layout(module: Module) -> list[tuple[str, TensorType, tuple[int, ...], str, str]]:
    """(name, constrained type, unconstrained shape, support, distribution) of each latent variable."""
    m = canonicalize(clone_module(module))
    out = []
    for op in random_variables(m):
        if op.prim != "sample":
            continue
        rules = distribution(op.attrs["dist"])
        t = op.results[0].type
        if rules.transform is None:
            raise CompileError(f"latent variable '{op.attrs['name']}' is discrete ({op.attrs['dist']}); "
                               "gradient-based inference needs continuous latents", op.loc,
                               "observe it with ppc.condition, or marginalize it out")
        out.append((op.attrs["name"], t, rules.unconstrained_shape(t.shape), rules.support, op.attrs["dist"]))
    return out


def unconstrained_module(module: Module, constrained_out: bool = False) -> Module:
    """Entry (theta, args...) -> log density of the latents read from the flat vector
    theta and mapped into their supports (log-Jacobians included); with constrained_out,
    returns the constrained values instead."""
    layout = latent_layout(module)
    sizes = [int(np.prod(shape, dtype=np.int64)) for _, _, shape, *_ in layout]
    # the widest latent dtype: a float64 latent beside float32 ones keeps its precision in theta
    dtype = max((t.dtype for _, t, *_ in layout), key=lambda d: np.dtype(numpy_dtype(d)).itemsize, default="f64")
    theta = Value(TensorType((sum(sizes),), dtype), "theta")
    offsets = np.cumsum([0] + sizes)
    values = []
    it = iter(zip(layout, offsets))

    def value_of(op, b, splice):
        if op.prim == "observe":
            return op.operands[0], None
        (name, t, ushape, *_), off = next(it)
        n = int(np.prod(ushape, dtype=np.int64))
        piece = b.op("slice", [theta], start=(int(off),), limit=(int(off) + n,), stride=(1,))
        u = b.op("reshape", [piece], f"{name}_u", shape=tuple(ushape))
        if u.type.dtype != t.dtype:
            u = b.op("convert", [u], dtype=t.dtype)
        rules = distribution(op.attrs["dist"])
        tr = splice.add(rules.transform(u.type, [p.type for p in op.operands]), f"{rules.support}_transform")
        fn = splice.module.functions[tr]
        x, logdet = Value(fn.result_types[0], name), Value(fn.result_types[1], f"{name}_logdet")
        b.append(Op("call", [u] + list(op.operands), {"callee": tr}, [x, logdet]))
        values.append(x)
        return x, logdet
    m, rvs, total, _ = _rewrite(module, value_of, with_density=not constrained_out)
    m.entry.body.params.insert(0, theta)
    if not constrained_out and total.type.dtype != dtype:
        # float32 latents beside float64 data or a float64 factor: the density in theta's
        # dtype, as samplers run each chain (density and gradient) in its state's precision
        ret = m.entry.body.ops.pop()
        total = Builder(m.entry.body, ret.loc).op("convert", [total], "log_density", dtype=dtype)
        m.entry.body.ops.append(ret)
    _set_return(m, values if constrained_out else [total])
    return canonicalize(m)


def parameters_module(module: Module, observed: bool = False) -> tuple[Module, list[str]]:
    """(module whose entry is (args..., latent values...) -> the parameters of every latent
    variable, flattened in order, and the latent names): what inverse transforms need.
    With `observed`, each observed variable's value and parameters instead: what names
    data outside bounds that parameters set (a Uniform's interval)."""
    latent, params = [], []

    def value_of(op, b, splice):
        if op.prim == "observe":
            if observed:
                params.extend(op.operands)
            return op.operands[0], None
        p = Value(op.results[0].type, op.attrs["name"])
        latent.append(p)
        if not observed:
            params.extend(op.operands)
        return p, None
    m, rvs, _, mapping = _rewrite(module, value_of, with_density=False)
    m.entry.body.params += latent
    _set_return(m, [mapping.get(p, p) for p in params])
    return canonicalize(m), [p.hint for p in latent]


def sample_module(module: Module) -> tuple[Module, list[str]]:
    """(module whose entry is (key, args...) -> latent draws, their names)."""
    key = Value(TensorType((), "key"), "key")
    state = {"key": key}
    draws = []

    def value_of(op, b, splice):
        if op.prim == "observe":
            return op.operands[0], None
        keys = b.op("random_split", [state["key"]], "keys", num=2)
        state["key"] = b.op("reshape", [b.op("slice", [keys], start=(0,), limit=(1,), stride=(1,))], "key", shape=())
        sub = b.op("reshape", [b.op("slice", [keys], start=(1,), limit=(2,), stride=(1,))], "subkey", shape=())
        rules = distribution(op.attrs["dist"])
        s = splice.add(rules.sampler(sub.type, [p.type for p in op.operands]), f"{op.attrs['dist']}_sample")
        x = Value(op.results[0].type, op.attrs["name"])
        b.append(Op("call", [sub] + list(op.operands), {"callee": s}, [x]))
        if splice.module.functions[s].result_types[0] != x.type:
            raise CompileError(f"internal: the {op.attrs['dist']} sampler returns "
                               f"{splice.module.functions[s].result_types[0]}, not {x.type}", op.loc)
        draws.append(x)
        return x, None
    m, rvs, _, _ = _rewrite(module, value_of, with_density=False)
    m.entry.body.params.insert(0, key)
    _set_return(m, draws)
    return canonicalize(m), [d.hint for d in draws]


def condition_module(module: Module, names: list[str], types: list[TensorType] | None = None) -> Module:
    """Variables `names` become `observe` ops of new entry parameters (appended, in order),
    typed as the data given (`types`) and converted to the variable's dtype where they differ
    (float 0/1 data for a Bernoulli, say), so the function is called with the data as it is."""
    m = canonicalize(clone_module(module))
    rvs = {op.attrs["name"]: op for op in random_variables(m)}
    params, body = [], m.entry.body.ops
    m.entry.body.ops = []
    b = Builder(m.entry.body)  # (the conversions, built ahead of the body)
    for i, name in enumerate(names):
        op = rvs.get(name)
        if op is None:
            raise CompileError(f"cannot condition on '{name}': the model has no random variable of that name "
                               f"(it has {', '.join(sorted(rvs)) or 'none'})")
        if op.prim == "observe":
            raise CompileError(f"'{name}' is already conditioned", op.loc)
        want = op.results[0].type
        given = types[i] if types is not None else want
        if given.shape != want.shape:
            # (NumPyro broadcasts a scalar variable's density over a vector of data: here the
            # variable's shape is its parameters', so the fix is to broadcast those)
            wider = (len(given.shape) > len(want.shape)
                     and all(w in (1, g) for w, g in zip(want.shape[::-1], given.shape[::-1])))
            raise CompileError(f"the data for '{name}' has shape {given.shape}, but the random variable has "
                               f"shape {want.shape}", op.loc,
                               f"a random variable's shape is its parameters' broadcast shape: for one draw per "
                               f"observation, broadcast a parameter to the data's shape (e.g. loc * "
                               f"np.ones({given.shape[0] if len(given.shape) == 1 else given.shape}))"
                               if wider else None)
        data = Value(given, f"{name}_obs")
        params.append(data)
        value = data
        if given.dtype != want.dtype:
            b.loc = op.loc
            value = b.op("convert", [data], name, dtype=want.dtype)
            if not is_float(want.dtype) and not (is_int(given.dtype) and is_int(want.dtype)):
                # data the conversion changes (2.5 or NaN for a count, 0.5 for a Bernoulli)
                # lie outside the support: the density is -inf, as log_joint gives it
                kept = b.op("eq", [b.op("convert", [value], dtype=given.dtype), data])
                t = TensorType(given.shape, given.dtype if is_float(given.dtype) else "f32")  # (keeps f32 models f32)
                lp = b.op("select", [kept, b.constant(0.0, t), b.constant(-np.inf, t)])
                b.append(Op("factor", [lp], {"name": f"{name}_data_in_support"}, [], loc=op.loc))
        op.prim = "observe"
        op.operands = [value] + op.operands
    m.entry.body.ops += body
    m.entry.body.params += params
    return m
