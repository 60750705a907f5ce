"""Randomness. PRNG keys (dtype `key`) are explicit values, split before each use, so
random ops are pure functions of their key and CSE/DCE treat them like any other op.
`sample` and `observe` are the random variables of a model: they have no emission; the
ppl passes rewrite them (into log densities, draws, or conditioned values)."""
from __future__ import annotations

from ..diagnostics import CompileError
from ..registry import ShapeError, declare
from ..types import TensorType, is_float
from . import batching, costs, tiling
from .common import JNP_DTYPE, TF_DTYPE, tensor


def _no_tangent(cx, primals, tangents, **attrs):
    return cx.primal(), [None] * len(cx.out_types)


def _key(k, what, batched=False):
    if tensor(k).dtype != "key" or k.rank != (1 if batched else 0):
        raise ShapeError(f"{what} needs {'one PRNG key per member (key[B])' if batched else 'a single PRNG key (key[])'}, "
                         f"got {k}")


def _batch_axis(k, batched):
    return k.shape[:1] if batched else ()


def _split(k, num, batched=False):
    _key(k, "random_split", batched)
    return [TensorType(_batch_axis(k, batched) + (num,), "key")]


def _wrap(data):
    d = tensor(data)
    if d.dtype != "u32" or d.shape[-1:] != (2,):
        raise ShapeError(f"random_wrap makes keys of uint32 key data (..., 2), got {data}")
    return [TensorType(d.shape[:-1], "key")]


def _fold_in(k, data, batched=False):
    _key(k, "random_fold_in", batched)
    d = tensor(data)
    if not d.dtype.startswith(("i", "u")) or d.shape != _batch_axis(k, batched):
        raise ShapeError(f"random_fold_in folds in one integer per key, got {data} for {k}")
    return [TensorType(k.shape, "key")]


def _draw(k, shape, dtype, batched=False):
    _key(k, "random draws", batched)
    if not is_float(dtype):
        raise ShapeError(f"random draws are floating point, not {dtype}")
    return [TensorType(_batch_axis(k, batched) + tuple(shape), dtype)]


def _elementwise_draw(out_dtype):
    def infer(k, param, batched=False):
        _key(k, "random draws", batched)
        if batched and tensor(param).shape[:1] != k.shape:
            raise ShapeError(f"batched random draws need one parameter row per key, got {param} for {k}")
        return [tensor(param).with_dtype(out_dtype or param.dtype)]
    return infer


def _emit(plain, per_member):
    """JAX emission of a draw: `plain` for one key; with batched=True (one key per member,
    from local static batching), `per_member` mapped over the keys with jax.vmap. (The TF
    runtime's draws take any array of keys, so TF emits both cases alike.)"""
    def emit(a, at):
        if at.get("batched"):
            return f"jax.vmap({per_member.format(**at)})({', '.join(a)})"
        return plain.format(*a, **at)
    return emit


def _batch_draw(cx, operands, batched, **attrs):
    """Local static batching: every member draws from its own key (an unbatched key is
    shared, so each member draws exactly what it would alone)."""
    lifted = [v if b else cx.broadcast(v) for v, b in zip(operands, batched)]
    return cx.b.op_n(cx.prim, lifted, **dict(attrs, batched=True)), [True]


def _jdt(name):
    return JNP_DTYPE[name]


declare("random_seed", lambda seed, batched=False: [TensorType(seed.shape, "key")], jvp=_no_tangent,
        tile=tiling.replicated,
        jax=_emit("jax.random.key({0})", "jax.random.key"), batch=_batch_draw, tf="ppc_tf.random_seed({0})", cost=costs.free)
declare("random_split", _split, jvp=_no_tangent, batch=_batch_draw, tile=tiling.replicated,
        jax=_emit("jax.random.split({0}, {num})", "lambda k: jax.random.split(k, {num})"),
        tf="ppc_tf.random_split({0}, {num})", cost=costs.free)
declare("random_wrap", _wrap, jvp=_no_tangent, batch=batching.elementwise, tile=tiling.replicated,
        jax="jax.random.wrap_key_data({0})", tf="ppc_tf.random_wrap({0})", cost=costs.free)
declare("random_fold_in", _fold_in, jvp=_no_tangent, batch=_batch_draw, tile=tiling.replicated,
        jax=_emit("jax.random.fold_in({0}, {1})", "jax.random.fold_in"), tf="ppc_tf.random_fold_in({0}, {1})",
        cost=costs.free)
declare("random_normal", _draw, jvp=_no_tangent, batch=_batch_draw, tile=tiling.replicated,
        jax=lambda a, at: _emit(f"jax.random.normal({{0}}, {at['shape']}, {_jdt(at['dtype'])})",
                                f"lambda k: jax.random.normal(k, {at['shape']}, {_jdt(at['dtype'])})")(a, at),
        tf=lambda a, at: f"ppc_tf.random_normal({a[0]}, {at['shape']}, {TF_DTYPE[at['dtype']]})", cost=costs.draw)
declare("random_uniform", _draw, jvp=_no_tangent, batch=_batch_draw, tile=tiling.replicated,
        jax=lambda a, at: _emit(f"jax.random.uniform({{0}}, {at['shape']}, {_jdt(at['dtype'])})",
                                f"lambda k: jax.random.uniform(k, {at['shape']}, {_jdt(at['dtype'])})")(a, at),
        tf=lambda a, at: f"ppc_tf.random_uniform({a[0]}, {at['shape']}, {TF_DTYPE[at['dtype']]})", cost=costs.draw)


def _gamma_jvp(cx, primals, tangents, **attrs):
    """A gamma draw x moves smoothly with its concentration a while its key holds the
    uniforms fixed: implicit reparameterization (Figurnov et al. 2018), dx/da =
    -(dF/da)(x; a) / f(x; a) for the gamma CDF F and density f, as jax.random.gamma
    differentiates it."""
    (x,) = cx.primal()
    t = tangents[1]
    return [x], [None if t is None else cx.mul(t, cx.op("random_gamma_grad", [primals[1], x]))]


def _gamma_grad(a, x):
    if tensor(a) != tensor(x) or not is_float(a.dtype):
        raise ShapeError(f"random_gamma_grad needs a float concentration and draws of its type, got {a} and {x}")
    return [a]


def _gamma_grad_jvp(cx, primals, tangents, **attrs):
    raise CompileError("cannot differentiate a gamma draw twice with respect to its concentration (its first "
                       "derivative comes from XLA's random_gamma_grad, which has none; jax.random.gamma has no "
                       "second derivative either)", cx.source_op.loc)


# Gamma(concentration, 1) draws, shaped like the concentration
declare("random_gamma", _elementwise_draw(None), jvp=_gamma_jvp, batch=_batch_draw, tile=tiling.replicated,
        jax=_emit("jax.random.gamma({0}, {1}, {1}.shape, {1}.dtype)",
                  "lambda k, a: jax.random.gamma(k, a, a.shape, a.dtype)"), tf="ppc_tf.random_gamma({0}, {1})", cost=costs.draw)
# dx/da of Gamma(a, 1) draws x (the gamma draw's derivative; see _gamma_jvp)
declare("random_gamma_grad", _gamma_grad, jvp=_gamma_grad_jvp, batch=batching.elementwise, tile=tiling.elementwise,
        jax="lax.random_gamma_grad({0}, {1})", tf="tf.raw_ops.RandomGammaGrad(alpha={0}, sample={1})",
        cost=costs.estimated(costs.per_element(200, 20)))
declare("random_poisson", _elementwise_draw("i64"), jvp=_no_tangent, batch=_batch_draw, tile=tiling.replicated,
        jax=_emit("jax.random.poisson({0}, {1}, {1}.shape, jnp.int64)",
                  "lambda k, r: jax.random.poisson(k, r, r.shape, jnp.int64)"), tf="ppc_tf.random_poisson({0}, {1})", cost=costs.draw)


def _categorical(k, logits, batched=False):
    _key(k, "random_categorical", batched)
    return [TensorType(tensor(logits).shape[:-1], "i64")]


declare("random_categorical", _categorical, jvp=_no_tangent, batch=_batch_draw, tile=tiling.replicated,
        jax=_emit("jax.random.categorical({0}, {1}, axis=-1).astype(jnp.int64)",
                  "lambda k, l: jax.random.categorical(k, l, axis=-1).astype(jnp.int64)"),
        tf="ppc_tf.random_categorical({0}, {1})", cost=costs.draw)


def _binomial(k, n, p, batched=False):
    _key(k, "random_binomial", batched)
    if tensor(n).shape != tensor(p).shape:
        raise ShapeError("random_binomial needs n and p of one shape")
    return [p]


declare("random_binomial", _binomial, jvp=_no_tangent, batch=_batch_draw, tile=tiling.replicated,
        jax=_emit("jax.random.binomial({0}, {1}, {2}, {2}.shape, {2}.dtype)",
                  "lambda k, n, p: jax.random.binomial(k, n, p, p.shape, p.dtype)"),
        tf="ppc_tf.random_binomial({0}, {1}, {2})", cost=costs.draw)


def _random_variable(*operands, dist, name, shape, dtype, observed=False):
    return [TensorType(tuple(shape), dtype)]


# value = sample(params...) and value = observe(data, params...): a named random variable
# of distribution `dist` (see ppc/distributions.py), drawn or pinned to data.
declare("sample", _random_variable, effect=True)
declare("observe", _random_variable, effect=True)


def _factor(log_prob, name):
    if not is_float(tensor(log_prob).dtype):
        raise ShapeError(f"factor needs a floating-point log density, not {tensor(log_prob).dtype}")
    return []


# factor(log_prob): a term of the model's log density (ppc.factor), summed over its elements
declare("factor", _factor, effect=True)
