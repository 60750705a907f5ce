"""Randomness. PRNG keys (dtype `key`) are explicit values, split before each use, so
random ops are pure functions of their key and CSE/DCE treat them like any other op.
`sample` and `observe` are the random variables of a model: they have no emission; the
ppl passes rewrite them (into log densities, draws, or conditioned values)."""
from __future__ import annotations

from ..registry import ShapeError, declare
from ..types import TensorType, is_float
from .common import JNP_DTYPE, tensor


def _no_tangent(cx, primals, tangents, **attrs):
    return cx.primal(), [None] * len(cx.out_types)


def _key(k, what):
    if tensor(k).dtype != "key" or k.shape != ():
        raise ShapeError(f"{what} needs a single PRNG key (key[]), got {k}")


def _split(k, num):
    _key(k, "random_split")
    return [TensorType((num,), "key")]


def _draw(k, shape, dtype):
    _key(k, "random draws")
    if not is_float(dtype):
        raise ShapeError(f"random draws are floating point, not {dtype}")
    return [TensorType(tuple(shape), dtype)]


def _elementwise_draw(out_dtype):
    def infer(k, param):
        _key(k, "random draws")
        return [tensor(param).with_dtype(out_dtype or param.dtype)]
    return infer


declare("random_seed", lambda seed: [TensorType((), "key")], jax="jax.random.key({0})", jvp=_no_tangent)
declare("random_split", _split, jax="jax.random.split({0}, {num})", jvp=_no_tangent)
declare("random_normal", _draw, jvp=_no_tangent,
        jax=lambda a, at: f"jax.random.normal({a[0]}, {at['shape']}, {JNP_DTYPE[at['dtype']]})")
declare("random_uniform", _draw, jvp=_no_tangent,
        jax=lambda a, at: f"jax.random.uniform({a[0]}, {at['shape']}, {JNP_DTYPE[at['dtype']]})")
# Gamma(concentration, 1) draws, shaped like the concentration
declare("random_gamma", _elementwise_draw(None), jvp=_no_tangent,
        jax="jax.random.gamma({0}, {1}, {1}.shape, {1}.dtype)")
declare("random_poisson", _elementwise_draw("i64"), jvp=_no_tangent,
        jax="jax.random.poisson({0}, {1}, {1}.shape, jnp.int64)")


def _categorical(k, logits):
    _key(k, "random_categorical")
    return [TensorType(tensor(logits).shape[:-1], "i64")]


declare("random_categorical", _categorical, jvp=_no_tangent,
        jax="jax.random.categorical({0}, {1}, axis=-1).astype(jnp.int64)")


def _binomial(k, n, p):
    _key(k, "random_binomial")
    if tensor(n).shape != tensor(p).shape:
        raise ShapeError("random_binomial needs n and p of one shape")
    return [p]


declare("random_binomial", _binomial, jvp=_no_tangent,
        jax="jax.random.binomial({0}, {1}, {2}, {2}.shape, {2}.dtype)")


def _random_variable(*operands, dist, name, shape, dtype, observed=False):
    return [TensorType(tuple(shape), dtype)]


# value = sample(params...) and value = observe(data, params...): a named random variable
# of distribution `dist` (see ppc/distributions.py), drawn or pinned to data.
declare("sample", _random_variable, effect=True)
declare("observe", _random_variable, effect=True)
