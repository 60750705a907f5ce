"""More of jax.nn in compiled code: the activations and helpers JAX writes in jax.numpy,
written here the same way (jax/_src/nn/functions.py) as compilable Python, so each
gives JAX's values and, through ppc's own AD, its derivatives (ppc differentiates the
formula where JAX has a custom rule: log1mexp). jax.nn's sigmoid, relu, softplus,
log_sigmoid, logsumexp, softmax and log_softmax are primitives or handlers of their own
(numpy_api.py)."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from .numpy_api import register


def _compiled(fn):
    """A handler lowering `fn` on the call's arguments, as compiled code calls it."""
    def handler(lw, *args, **kwargs):
        return lw.call_user(fn, list(args), kwargs, None)
    handler.__name__ = fn.__name__
    return handler


def elu(x, alpha=1.0):
    return jnp.where(x > 0, x, alpha * jnp.expm1(jnp.where(x > 0, 0.0, x)))


def celu(x, alpha=1.0):
    return jnp.maximum(x, 0.0) + alpha * jnp.expm1(jnp.minimum(x, 0.0) / alpha)


def selu(x):
    return 1.0507009873554804934193349852946 * elu(x, 1.6732632423543772848170429916717)


def gelu(x, approximate=True):
    if approximate:
        cdf = 0.5 * (1.0 + jnp.tanh(0.7978845608028654 * (x + 0.044715 * (x ** 3))))
        return x * cdf
    return 0.5 * x * jax.lax.erfc(-x * 0.7071067811865476)


def leaky_relu(x, negative_slope=0.01):
    return jnp.where(x >= 0, x, negative_slope * x)


def relu6(x):
    # (JAX's derivative is 0 at both kinks, where min/max would split it: the clipped
    # values are constants there; NaN stays NaN)
    return jnp.where((x > 0) & (x < 6), x, jax.lax.stop_gradient(jnp.minimum(jnp.maximum(x, 0), 6.0)))


def silu(x):
    return x * jax.nn.sigmoid(x)


def mish(x):
    return x * jnp.tanh(jax.nn.softplus(x))


def soft_sign(x):
    return x / (jnp.abs(x) + 1)


def hard_tanh(x):
    return jnp.where(x > 1, 1, jnp.where(x < -1, -1, x))


def hard_sigmoid(x):
    return relu6(x + 3.0) / 6.0


def hard_silu(x):
    return x * hard_sigmoid(x)


def squareplus(x, b=4):
    return (x + jnp.sqrt(x * x + b)) / 2


def sparse_plus(x):
    return jnp.where(x <= -1.0, 0.0, jnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


def sparse_sigmoid(x):
    return 0.5 * jnp.clip(x + 1.0, 0.0, 2.0)


def log1mexp(x):
    return jnp.where(x < math.log(2.0), jnp.log(-jnp.expm1(-x)), jnp.log1p(-jnp.exp(-x)))


def logmeanexp(x, axis=None, keepdims=False):
    lse = jax.nn.logsumexp(x, axis=axis, keepdims=keepdims)
    return lse - jnp.log(x.size / lse.size)  # (the count of each result's terms)


def glu(x, axis=-1):
    half = x.shape[axis] // 2
    first = jnp.take(x, jnp.arange(half), axis=axis)
    second = jnp.take(x, jnp.arange(half, 2 * half), axis=axis)
    return first * jax.nn.sigmoid(second)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5):
    if mean is None:
        mean = jnp.mean(x, axis, keepdims=True)
    if variance is None:
        variance = jnp.mean(jnp.square(x), axis, keepdims=True) - jnp.square(mean)
    return (x - mean) / jnp.sqrt(variance + epsilon)


def one_hot(x, num_classes, dtype=jnp.float64, axis=-1):
    hits = jnp.expand_dims(x, -1) == jnp.arange(num_classes)
    return jnp.moveaxis(hits.astype(dtype), -1, axis)


def identity(x):
    return x


for _fn in (elu, celu, selu, gelu, leaky_relu, relu6, silu, mish, soft_sign, hard_tanh, hard_sigmoid, hard_silu,
            squareplus, sparse_plus, sparse_sigmoid, log1mexp, logmeanexp, glu, standardize, one_hot, identity):
    register(f"jax.nn.{_fn.__name__}")(_compiled(_fn))
register("jax.nn.swish")(_compiled(silu))
register("jax.nn.hard_swish")(_compiled(hard_silu))
