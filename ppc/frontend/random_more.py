"""More of jax.random in compiled code: the draws JAX itself builds from uniform, normal
and gamma draws, built here from ppc's `random_uniform`, `random_normal` and
`random_gamma` the same way (exponential, bernoulli, laplace, logistic, cauchy, gumbel,
lognormal, truncated_normal, rademacher, t, chisquare, beta, dirichlet,
multivariate_normal), plus randint, permutation and choice.

The transforms are JAX's (jax/_src/random), written below as compilable Python, so
the results are JAX's draws for the same key, to rounding (beta, dirichlet and chisquare
too: JAX's log-space gamma draws exponentiate to ppc's); those JAX draws from raw bits
(randint, permutation, choice) have JAX's distribution but not its values. Every draw is a function
of its key alone, so batching, both backends and partitioning treat them as the draws
they are built from.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .numpy_api import _dtype_arg, _key_arg, _shape_arg, _static, register
from .arrays import DEFAULT
from .values import Dyn


def _run(lw, fn, *args):
    """Lower module-level function `fn` (below) on these arguments, as a call from user code."""
    return lw.call_user(fn, list(args), {}, None)


def _float(lw, dtype) -> str:
    dt = _dtype_arg(lw, dtype) or DEFAULT["float"]
    if not dt.startswith("f"):
        lw.error(f"this draw needs a floating dtype, got {np.dtype(dtype)}")
    return dt


def _np_dtype(dt: str):
    return {"f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": jnp.bfloat16}[dt]


def _shape(lw, shape, *params) -> tuple:
    """`shape`, or (None) the parameters' broadcast shape; a given shape must take theirs."""
    return _batch(lw, shape, *[lw.aval(p)[0] for p in params])


def _batch(lw, shape, *shapes) -> tuple:
    """`shape`, or (None) the broadcast of `shapes`; a given shape must take each of them."""
    if shape is None:
        return lw.broadcast_shapes(*shapes) if shapes else ()
    shape = _shape_arg(lw, shape)
    for s in shapes:
        if lw.broadcast_shapes(shape, s) != shape:
            lw.error(f"shape {shape} does not take the parameters' shape {s}")
    return shape


# -- the transforms, as JAX writes them --------------------------------------------------

def _uniform(key, shape, dtype, minval, maxval):
    u = jax.random.uniform(key, shape, dtype)
    return jnp.maximum(minval, u * (maxval - minval) + minval)


def exponential_draw(key, shape, dtype):
    return -jnp.log1p(-jax.random.uniform(key, shape, dtype))


def laplace_draw(key, shape, dtype, epsneg):
    u = _uniform(key, shape, dtype, -1.0 + epsneg, 1.0)
    return jnp.sign(u) * jnp.log1p(-jnp.abs(u))


def logistic_draw(key, shape, dtype, tiny):
    x = _uniform(key, shape, dtype, tiny, 1.0)
    return jnp.log(x) - jnp.log1p(-x)


def cauchy_draw(key, shape, dtype, eps):
    u = _uniform(key, shape, dtype, eps, 1.0)
    return jnp.tan(np.pi * (u - 0.5))


def gumbel_draw(key, shape, dtype, tiny):
    return -jnp.log(-jnp.log(_uniform(key, shape, dtype, tiny, 1.0)))


def truncated_normal_draw(key, lower, upper, shape, dtype):
    sqrt2 = 1.4142135623730951  # (a Python float: float32 bounds draw in float32)
    a = jax.scipy.special.erf(lower / sqrt2)
    b = jax.scipy.special.erf(upper / sqrt2)
    out = sqrt2 * jax.scipy.special.erfinv(_uniform(key, shape, dtype, a, b))
    return jnp.clip(out, lower, upper)  # (JAX clips to the open interval, by nextafter)


def t_draw(key, df, shape, dtype):
    keys = jax.random.split(key)
    n = jax.random.normal(keys[0], shape, dtype)
    half_df = df / 2.0
    g = jax.random.gamma(keys[1], half_df, shape, dtype)
    return n * jnp.sqrt(half_df / g)


def beta_draw(key, a, b, shape, dtype):
    keys = jax.random.split(key)
    ga = jax.random.gamma(keys[0], a, shape, dtype)
    gb = jax.random.gamma(keys[1], b, shape, dtype)
    return ga / (ga + gb)


def dirichlet_draw(key, alpha, shape, dtype):
    g = jax.random.gamma(key, alpha, shape, dtype)
    return g / jnp.sum(g, axis=-1, keepdims=True)


def multivariate_normal_draw(key, mean, factor, shape, dtype):
    z = jax.random.normal(key, shape, dtype)
    return mean + jnp.matmul(factor, z[..., None])[..., 0]


# -- the handlers --------------------------------------------------------------------------

def _one_uniform(fn, *constants):
    """A draw transforming one uniform draw; `constants` name finfo fields it needs."""
    def handler(lw, key, shape=(), dtype=None):
        dt = _float(lw, dtype)
        info = np.finfo(_np_dtype(dt))
        return _run(lw, fn, _key_arg(lw, key), _shape_arg(lw, shape), _np_dtype(dt),
                    *[float(getattr(info, c)) for c in constants])
    return handler


register("jax.random.exponential")(_one_uniform(exponential_draw))
register("jax.random.laplace")(_one_uniform(laplace_draw, "epsneg"))
register("jax.random.logistic")(_one_uniform(logistic_draw, "tiny"))
register("jax.random.cauchy")(_one_uniform(cauchy_draw, "eps"))
register("jax.random.gumbel")(_one_uniform(gumbel_draw, "tiny"))


@register("jax.random.bernoulli")
def _bernoulli(lw, key, p=0.5, shape=None):
    p = lw.to_dyn(p, None if lw.aval(p)[1].startswith("f") else DEFAULT["float"])
    shape = _shape(lw, shape, p)
    u = Dyn(lw.emit("random_uniform", [_key_arg(lw, key).value], shape=shape, dtype=p.dtype))
    return lw.elementwise("lt", u, p, result_kind="bool")


@register("jax.random.rademacher")
def _rademacher(lw, key, shape=(), dtype=None):
    dt = _dtype_arg(lw, dtype) or DEFAULT["int"]
    heads = _bernoulli(lw, key, 0.5, shape)
    return lw.elementwise("sub", lw.elementwise("mul", lw.convert(heads, dt), 2), 1)


@register("jax.random.lognormal")
def _lognormal(lw, key, sigma=1.0, shape=None, dtype=None):
    dt = _float(lw, dtype)
    sigma = lw.to_dyn(sigma, dt)
    z = Dyn(lw.emit("random_normal", [_key_arg(lw, key).value], shape=_shape(lw, shape, sigma), dtype=dt))
    return lw.elementwise("exp", lw.elementwise("mul", z, sigma))


@register("jax.random.truncated_normal")
def _truncated_normal(lw, key, lower, upper, shape=None, dtype=None):
    dt = _float(lw, dtype)
    lower, upper = lw.to_dyn(lower, dt), lw.to_dyn(upper, dt)
    return _run(lw, truncated_normal_draw, _key_arg(lw, key), lower, upper, _shape(lw, shape, lower, upper),
                _np_dtype(dt))


@register("jax.random.t")
def _t(lw, key, df, shape=(), dtype=None):
    dt = _float(lw, dtype)
    df = lw.to_dyn(df, dt)
    shape = _shape(lw, None if shape == () and lw.aval(df)[0] else shape, df)
    return _run(lw, t_draw, _key_arg(lw, key), lw.broadcast_to(df, shape), shape, _np_dtype(dt))


@register("jax.random.chisquare")
def _chisquare(lw, key, df, shape=None, dtype=None):
    dt = _float(lw, dtype)
    df = lw.to_dyn(df, dt)
    half = lw.broadcast_to(lw.elementwise("div", df, 2.0), _shape(lw, shape, df))
    g = Dyn(lw.emit("random_gamma", [_key_arg(lw, key).value, half.value]))
    return lw.elementwise("mul", g, 2.0)


@register("jax.random.beta")
def _beta(lw, key, a, b, shape=None, dtype=None):
    dt = _float(lw, dtype)
    a, b = lw.to_dyn(a, dt), lw.to_dyn(b, dt)
    shape = _shape(lw, shape, a, b)
    return _run(lw, beta_draw, _key_arg(lw, key), lw.broadcast_to(a, shape), lw.broadcast_to(b, shape), shape,
                _np_dtype(dt))


@register("jax.random.dirichlet")
def _dirichlet(lw, key, alpha, shape=None, dtype=None):
    dt = _float(lw, dtype)
    alpha = lw.to_dyn(alpha, dt)
    if not alpha.shape:
        lw.error("jax.random.dirichlet needs alpha with at least one axis (the categories)")
    full = tuple(_batch(lw, shape, alpha.shape[:-1])) + alpha.shape[-1:]
    return _run(lw, dirichlet_draw, _key_arg(lw, key), lw.broadcast_to(alpha, full), full, _np_dtype(dt))


@register("jax.random.multivariate_normal")
def _multivariate_normal(lw, key, mean, cov, shape=None, dtype=None, method="cholesky"):
    from .linalg import _cholesky_lower
    dt = _float(lw, dtype)
    mean, cov = lw.to_dyn(mean, dt), lw.to_dyn(cov, dt)
    if not mean.shape or len(cov.shape) < 2 or cov.shape[-2:] != (mean.shape[-1],) * 2:
        lw.error(f"jax.random.multivariate_normal needs mean (..., n) and cov (..., n, n), got {mean.shape} "
                 f"and {cov.shape}")
    if _static(lw, method, "method") != "cholesky":
        lw.error(f"jax.random.multivariate_normal with method={method!r} is not supported", "use 'cholesky'")
    n = mean.shape[-1]
    batch = _batch(lw, shape, mean.shape[:-1], cov.shape[:-2])
    factor = _cholesky_lower(lw, cov, "jax.random.multivariate_normal")
    return _run(lw, multivariate_normal_draw, _key_arg(lw, key), mean, factor, tuple(batch) + (n,), _np_dtype(dt))


@register("jax.random.randint")
def _randint(lw, key, shape, minval, maxval, dtype=None):
    """floor(u * (maxval - minval)) + minval from a float64 uniform draw u: JAX's
    distribution (not its values); an empty range gives minval, as JAX's does."""
    dt = _dtype_arg(lw, dtype) or DEFAULT["int"]
    u = Dyn(lw.emit("random_uniform", [_key_arg(lw, key).value], shape=_shape_arg(lw, shape), dtype="f64"))
    lo, hi = lw.convert(lw.to_dyn(minval), "f64"), lw.convert(lw.to_dyn(maxval), "f64")
    span = lw.elementwise("max", lw.elementwise("sub", hi, lo), 0.0)
    k = lw.elementwise("floor", lw.elementwise("mul", u, span))
    return lw.convert(lw.elementwise("add", k, lo), dt)


@register("jax.random.permutation")
def _permutation(lw, key, x, axis=0, independent=False):
    """x shuffled along `axis` (an int n: arange(n) shuffled), by sorting uniform keys."""
    from .sorting import _argsort
    if independent:
        lw.error("jax.random.permutation with independent=True is not supported")
    if isinstance(x, int) and not isinstance(x, bool):
        x = np.arange(x)
    x = lw.to_dyn(x)
    if not x.shape:
        lw.error("jax.random.permutation needs an int or an array with an axis to shuffle")
    axis = lw.norm_axis(_static(lw, axis, "axis"), len(x.shape))
    u = Dyn(lw.emit("random_uniform", [_key_arg(lw, key).value], shape=(x.shape[axis],), dtype="f64"))
    order = _argsort(lw, u)
    return Dyn(lw.emit("take", [x.value, order.value], axis=axis, mode="fill"), x.weak)


@register("jax.random.choice")
def _choice(lw, key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """Rows of `a` (an int n: of arange(n)) along `axis`: with replacement, uniform
    (randint) or weighted by p (categorical of log p); without, the first of a uniform
    permutation, or weighted by p the top of Gumbel-perturbed log p (sampling without
    replacement in proportion to p, as JAX's). JAX's distribution, not its values."""
    from .sorting import _argsort
    shape = _shape_arg(lw, shape)
    replace = bool(_static(lw, replace, "replace"))
    if isinstance(a, int) and not isinstance(a, bool):
        a = np.arange(a)
    x = lw.to_dyn(a)
    if not x.shape:
        lw.error("jax.random.choice needs an int or an array with an axis to choose along")
    axis = lw.norm_axis(_static(lw, axis, "axis"), len(x.shape))
    n, count = x.shape[axis], int(np.prod(shape))
    k = _key_arg(lw, key)
    if not replace and count > n:
        lw.error(f"jax.random.choice cannot take {count} rows without replacement from {n}",
                 "draw fewer, or pass replace=True")
    if p is not None:
        logp = lw.elementwise("log", lw.to_dyn(p, DEFAULT["float"] if not lw.aval(p)[1].startswith("f") else None))
        if logp.shape != (n,):
            lw.error(f"jax.random.choice: p must have shape ({n},), got {logp.shape}")
    if replace:
        if p is None:
            flat = _randint(lw, k, (count,), 0, n)
        else:
            rows = lw.broadcast_to(logp, (count, n))
            flat = Dyn(lw.emit("random_categorical", [k.value, rows.value]))
    else:
        u = Dyn(lw.emit("random_uniform", [k.value], shape=(n,), dtype="f64"))
        if p is None:
            score = u
        else:  # (Gumbel top-k: -(log p + gumbel) sorted ascending)
            tiny = float(np.finfo(np.float64).tiny)
            g = lw.elementwise("neg", lw.elementwise("log", lw.elementwise("neg", lw.elementwise(
                "log", lw.elementwise("max", u, tiny)))))
            score = lw.elementwise("neg", lw.elementwise("add", lw.convert(logp, "f64"), g))
        order = _argsort(lw, score)
        flat = Dyn(lw.emit("slice", [order.value], start=(0,), limit=(count,), stride=(1,)))
    picked = Dyn(lw.emit("take", [x.value, lw.convert(flat, "i64").value], axis=axis, mode="fill"), x.weak)
    return lw.reshape(picked, x.shape[:axis] + tuple(shape) + x.shape[axis + 1:])
