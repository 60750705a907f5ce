"""Random variables: Edward2's single abstraction, as compiler input.

`ppc.Normal(loc, scale, name="w")` inside a model is lowered to a `sample` op carrying
the distribution, its parameters and the variable's name (an unnamed variable takes the
name it is assigned to); the ppl passes turn sampling programs into log densities, draws
and conditioned models. Run eagerly, a constructor simply draws with NumPy, so a model is
also a plain Python program.

Each distribution is declared once below: parameters (in NumPyro's order), support,
event rank, and its log density and sampler written as ppc-compilable Python, which ppc
lowers to IR for whatever operand types a model uses; AD, batching and both backends
then apply to them unchanged.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import jax
import numpy as np
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import expit, gammaln, logsumexp

from .frontend.numpy_api import register_callable
from .ir import CompileError, Module
from .ir.distributions import DistributionRules, declare_distribution
from .ir.types import numpy_dtype

LOG_2PI = math.log(2 * math.pi)
# How far from one a simplex value's sum may be: looser than NumPyro's 1e-6, for data rounded
# to a few digits and for finite differences taken along one coordinate; any real mistake
# (counts, percentages, a missing category) is still far outside.
SIMPLEX_ATOL = 1e-4
_RNG = np.random.default_rng()


# ----------------------------------------------------------------- log densities and samplers
# (module-level Python in ppc's subset: ppc reads their source)
#
# Outside its support a density is -inf (as NumPyro's and scipy's); on the support's edge it
# is the density's limit, as scipy gives it (Beta(1, 3) at 0 is log 3). Where a formula
# would be NaN off the support, its value is first moved to a point inside ("double where"):
# a NaN in the branch np.where discards still turns the gradient to NaN.

def on_support(inside, lp):
    """`lp` where the value lies in the support, -inf elsewhere. Added, not selected: summed
    over observations, the penalty reads only the data, so the likelihood keeps the form
    canonicalization turns into a dot product (and its gradient never sees the check)."""
    zero = np.zeros((), lp.dtype)
    return lp + np.where(inside, zero, zero - np.inf)


def xlogy(x, y):
    """x * log(y), 0 where x and y are 0 (as scipy's: a density's limit at its support's
    edge, such as Gamma(1, b) at 0); its derivative in x is log(y) at x = 0 as elsewhere, so
    a concentration of exactly 1 still gets its gradient."""
    edge = (x == 0) & (y == 0)
    return np.where(edge, 0.0, x * np.log(np.where(edge, 1.0, y)))


def xlog1py(x, y):
    """x * log1p(y), as xlogy: Beta(a, 1) at 1."""
    edge = (x == 0) & (y == -1)
    return np.where(edge, 0.0, x * np.log1p(np.where(edge, 0.0, y)))


def is_count(x):
    """Whether x is a nonnegative integer (a count read as float data included)."""
    return (x >= 0) & (np.floor(x) == x)


def on_simplex(x):
    """Whether each event (last axis) of x is a probability vector, to SIMPLEX_ATOL."""
    return np.all(x >= 0, axis=-1) & (np.abs(np.sum(x, axis=-1) - 1.0) <= SIMPLEX_ATOL)


def normal_log_prob(x, loc, scale):
    z = (x - loc) / scale
    return -0.5 * z * z - np.log(scale) - 0.5 * LOG_2PI


def normal_sample(key, loc, scale):
    return loc + scale * jax.random.normal(key, loc.shape, loc.dtype)


def half_normal_log_prob(x, scale):
    z = x / scale
    return on_support(x >= 0, math.log(2.0) - 0.5 * LOG_2PI - np.log(scale) - 0.5 * z * z)


def half_normal_sample(key, scale):
    return scale * np.abs(jax.random.normal(key, scale.shape, scale.dtype))


def log_normal_log_prob(x, loc, scale):
    inside = x > 0  # (the density tends to 0 at 0)
    y = np.log(np.where(inside, x, 1.0))
    z = (y - loc) / scale
    return on_support(inside, -0.5 * z * z - np.log(scale) - 0.5 * LOG_2PI - y)


def log_normal_sample(key, loc, scale):
    return np.exp(loc + scale * jax.random.normal(key, loc.shape, loc.dtype))


def exponential_log_prob(x, rate):
    inside = x >= 0
    x = np.where(inside, x, 0.0)  # (at x = -inf, -rate * x would be +inf, and inf - inf NaN)
    return on_support(inside, np.log(rate) - rate * x)


def exponential_sample(key, rate):
    return -np.log1p(-jax.random.uniform(key, rate.shape, rate.dtype)) / rate


def gamma_log_prob(x, concentration, rate):
    a, b = concentration, rate
    inside = x >= 0
    x = np.where(inside, x, 1.0)
    return on_support(inside, a * np.log(b) - gammaln(a) + xlogy(a - 1.0, x) - b * x)


def gamma_sample(key, concentration, rate):
    return jax.random.gamma(key, concentration) / rate


def beta_log_prob(x, concentration1, concentration0):
    a, b = concentration1, concentration0
    inside = (x >= 0) & (x <= 1)
    x = np.where(inside, x, 0.5)
    return on_support(inside, xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - gammaln(a) - gammaln(b) + gammaln(a + b))


def log_gamma_draw(key, concentration):
    """The log of a Gamma(concentration) draw, as log G(a + 1) + log(U) / a (Marsaglia and
    Tsang's boost): finite where a draw of G(a) itself underflows to zero, as float32
    draws for small a do (Beta(0.05, 0.05) gave NaN 0.03% of the time, 0 / 0)."""
    k1, k2 = jax.random.split(key)
    u = jax.random.uniform(k2, concentration.shape, concentration.dtype)
    return np.log(jax.random.gamma(k1, concentration + 1.0)) + np.log(u) / concentration


def beta_sample(key, concentration1, concentration0):
    k1, k2 = jax.random.split(key)
    return jax.nn.sigmoid(log_gamma_draw(k1, concentration1) - log_gamma_draw(k2, concentration0))


def student_t_log_prob(x, df, loc, scale):
    z = (x - loc) / scale
    return (gammaln(0.5 * (df + 1.0)) - gammaln(0.5 * df) - 0.5 * np.log(df * math.pi) - np.log(scale)
            - 0.5 * (df + 1.0) * np.log1p(z * z / df))


def student_t_sample(key, df, loc, scale):
    k1, k2 = jax.random.split(key)
    z = jax.random.normal(k1, loc.shape, loc.dtype)
    chi2 = 2.0 * jax.random.gamma(k2, 0.5 * df)
    return loc + scale * z / np.sqrt(chi2 / df)


def cauchy_log_prob(x, loc, scale):
    z = (x - loc) / scale
    return -math.log(math.pi) - np.log(scale) - np.log1p(z * z)


def cauchy_sample(key, loc, scale):
    u = jax.random.uniform(key, loc.shape, loc.dtype)
    return loc + scale * np.tan(math.pi * (u - 0.5))


def half_cauchy_log_prob(x, scale):
    z = x / scale
    return on_support(x >= 0, math.log(2.0 / math.pi) - np.log(scale) - np.log1p(z * z))


def half_cauchy_sample(key, scale):
    u = jax.random.uniform(key, scale.shape, scale.dtype)
    return scale * np.tan(0.5 * math.pi * u)


def laplace_log_prob(x, loc, scale):
    return -np.log(2.0 * scale) - np.abs(x - loc) / scale


def laplace_sample(key, loc, scale):
    """loc + scale (E1 - E2), the difference of two unit exponential draws (finite: U < 1)."""
    u = jax.random.uniform(key, (2,) + loc.shape, loc.dtype)
    return loc + scale * (np.log1p(-u[1]) - np.log1p(-u[0]))


def inverse_gamma_log_prob(x, concentration, rate):
    a, b = concentration, rate
    inside = x > 0  # (the density tends to 0 at 0)
    x = np.where(inside, x, 1.0)
    return on_support(inside, a * np.log(b) - gammaln(a) - (a + 1.0) * np.log(x) - b / x)


def inverse_gamma_sample(key, concentration, rate):
    """rate / G(concentration), through the log-gamma draw: finite where G underflows to 0."""
    return np.exp(np.log(rate) - log_gamma_draw(key, concentration))


def uniform_log_prob(x, low, high):
    return on_support((x >= low) & (x <= high), -np.log(high - low))


def uniform_sample(key, low, high):
    return low + (high - low) * jax.random.uniform(key, low.shape, low.dtype)


def bernoulli_logits_log_prob(x, logits):
    x = x.astype(logits.dtype)  # an integer observation must not widen float32 logits
    return on_support((x == 0) | (x == 1), x * logits - np.logaddexp(0.0, logits))


def bernoulli_logits_sample(key, logits):
    u = jax.random.uniform(key, logits.shape, logits.dtype)
    return (u < expit(logits)).astype(np.int64)


def bernoulli_probs_log_prob(x, probs):
    # (xlogy, not np.where(x == 1, log p, log1p(-p)): the branch np.where discards is -inf
    # at p = 1 or p = 0, and turned the gradient to NaN there, where expit(u) rounds to 1)
    x = x.astype(probs.dtype)
    inside = (x == 0) | (x == 1)
    x = np.where(inside, x, 0.0)  # (off the support at p = 0 or 1, xlogy would give inf - inf)
    return on_support(inside, xlogy(x, probs) + xlog1py(1.0 - x, -probs))


def bernoulli_probs_sample(key, probs):
    return (jax.random.uniform(key, probs.shape, probs.dtype) < probs).astype(np.int64)


def binomial_log_prob(x, total_count, probs):
    n, k = total_count, x.astype(probs.dtype)
    inside = is_count(k) & (k <= n)
    k = np.where(inside, k, 0.0)  # (gammaln has poles at the negative integers)
    return on_support(inside, gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)
                      + xlogy(k, probs) + xlogy(n - k, 1.0 - probs))


def binomial_sample(key, total_count, probs):
    return jax.random.binomial(key, total_count, probs).astype(np.int64)


def binomial_logits_log_prob(x, total_count, logits):
    n, k = total_count, x.astype(logits.dtype)
    inside = is_count(k) & (k <= n)
    k = np.where(inside, k, 0.0)
    # k * logits - n * softplus(logits): no sigmoid to round to 0 or 1 at large |logits|
    return on_support(inside, gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)
                      + k * logits - n * np.logaddexp(0.0, logits))


def binomial_logits_sample(key, total_count, logits):
    return jax.random.binomial(key, total_count, expit(logits)).astype(np.int64)


def negative_binomial2_log_prob(x, mean, concentration):
    """NumPyro's NegativeBinomial2: Gamma-Poisson with mean `mean` and variance
    mean + mean^2 / concentration."""
    mu, phi = mean, concentration
    k = x.astype(mu.dtype)
    inside = is_count(k)
    k = np.where(inside, k, 0.0)
    # (phi * log(phi / (phi + mu)) as -phi * log1p(mu / phi): exact as phi grows to the Poisson limit)
    return on_support(inside, gammaln(k + phi) - gammaln(phi) - gammaln(k + 1.0)
                      - phi * np.log1p(mu / phi) + xlogy(k, mu) - k * np.log(phi + mu))


def negative_binomial2_sample(key, mean, concentration):
    k1, k2 = jax.random.split(key)
    rate = jax.random.gamma(k1, concentration) * (mean / concentration)
    return jax.random.poisson(k2, rate).astype(np.int64)


def poisson_log_prob(x, rate):
    x = x.astype(rate.dtype)
    inside = is_count(x)
    x = np.where(inside, x, 0.0)
    return on_support(inside, xlogy(x, rate) - rate - gammaln(x + 1.0))


def poisson_sample(key, rate):
    return jax.random.poisson(key, rate)


def categorical_logits_log_prob(x, logits):
    logp = logits - logsumexp(logits, axis=-1, keepdims=True)
    onehot = np.arange(logits.shape[-1]) == np.expand_dims(x, -1)  # all False off the support
    return on_support(np.any(onehot, axis=-1), np.sum(np.where(onehot, logp, 0.0), axis=-1))


def categorical_logits_sample(key, logits):
    return jax.random.categorical(key, logits)


def categorical_probs_log_prob(x, probs):
    onehot = np.arange(probs.shape[-1]) == np.expand_dims(x, -1)
    return np.log(np.sum(np.where(onehot, probs, 0.0), axis=-1))


def categorical_probs_sample(key, probs):
    return jax.random.categorical(key, np.log(probs))


def dirichlet_log_prob(x, concentration):
    a = concentration
    inside = on_simplex(x)
    x = np.where(np.expand_dims(inside, -1), x, 1.0 / x.shape[-1])
    return on_support(inside, np.sum(xlogy(a - 1.0, x), axis=-1) + gammaln(np.sum(a, axis=-1))
                      - np.sum(gammaln(a), axis=-1))


def dirichlet_sample(key, concentration):
    return np.exp(jax.nn.log_softmax(log_gamma_draw(key, concentration), axis=-1))


def mvn_log_prob(x, loc, scale_tril):
    k = loc.shape[-1]
    d = x - loc
    if scale_tril.ndim == 2:  # one matrix for the batch: one solve, the batch the columns of a (k, n) right side
        z = np.reshape(solve_triangular(scale_tril, np.reshape(d, (-1, k)).T, lower=True).T, d.shape)
    else:  # a matrix per batch element (the batch shapes agree: see the frontend's random_variable)
        z = solve_triangular(scale_tril, np.expand_dims(d, -1), lower=True)[..., 0]
    log_det = np.sum(np.log(np.sum(scale_tril * np.eye(k, dtype=scale_tril.dtype), axis=-1)), axis=-1)
    return -0.5 * np.sum(z * z, axis=-1) - log_det - 0.5 * k * LOG_2PI


def mvn_sample(key, loc, scale_tril):
    eps = jax.random.normal(key, loc.shape, loc.dtype)
    k = loc.shape[-1]
    tril = np.where(np.arange(k)[:, None] >= np.arange(k), scale_tril, 0.0)  # (the density reads only this too)
    if tril.ndim == 2:
        return loc + eps @ tril.T
    return loc + np.sum(tril * np.expand_dims(eps, -2), axis=-1)


def mvn_cov_log_prob(x, loc, covariance_matrix):
    """MultivariateNormal(covariance_matrix=): the Cholesky factor's density (NaN where the
    matrix is not positive definite, as NumPyro's)."""
    return mvn_log_prob(x, loc, np.linalg.cholesky(covariance_matrix))


def mvn_cov_sample(key, loc, covariance_matrix):
    return mvn_sample(key, loc, np.linalg.cholesky(covariance_matrix))


# ----------------------------------------------------------------- transforms to supports
# u (unconstrained) -> (value, log |det d value / d u|), given the distribution's parameters
# (which only the interval transform reads)

def real_transform(u, p1=None, p2=None, p3=None):  # parameters unused
    return u, np.sum(np.zeros_like(u))


def positive_transform(u, p1=None, p2=None, p3=None):  # parameters unused
    return np.exp(u), np.sum(u)


def unit_interval_transform(u, p1=None, p2=None, p3=None):  # parameters unused
    return expit(u), -np.sum(np.logaddexp(0.0, u) + np.logaddexp(0.0, -u))


def interval_transform(u, low, high):
    width = high - low
    return low + width * expit(u), np.sum(np.log(width) - np.logaddexp(0.0, u) - np.logaddexp(0.0, -u))


def simplex_transform(u, p1=None, p2=None, p3=None):  # parameters unused
    """Stick-breaking: K-1 reals to K probabilities summing to one; u = 0 is uniform."""
    k1 = u.shape[-1]
    a = u - np.log(np.arange(k1, 0, -1.0, dtype=u.dtype))
    log_z = -np.logaddexp(0.0, -a)
    log1m_z = -np.logaddexp(0.0, a)
    log_rest = np.concatenate([np.zeros_like(u[..., :1]), np.cumsum(log1m_z, axis=-1)], axis=-1)
    x = np.concatenate([np.exp(log_z + log_rest[..., :-1]), np.exp(log_rest[..., -1:])], axis=-1)
    return x, np.sum(log_z + log1m_z + log_rest[..., :-1])


TRANSFORMS = {"real": real_transform, "positive": positive_transform, "unit_interval": unit_interval_transform,
              "interval": interval_transform, "simplex": simplex_transform}


def inverse_transform(support: str, x, *params):
    """Host-side inverse of the support's transform (NumPy): a constrained value to u."""
    x = np.asarray(x, dtype=float)
    if support == "real":
        return x
    if support == "positive":
        return np.log(x)
    if support == "unit_interval":
        return np.log(x) - np.log1p(-x)
    if support == "interval":
        low, high = (np.asarray(p, float) for p in params)
        y = (x - low) / (high - low)
        return np.log(y) - np.log1p(-y)
    if support == "simplex":
        k1 = x.shape[-1] - 1
        rest = 1.0 - np.concatenate([np.zeros_like(x[..., :1]), np.cumsum(x[..., :-1], axis=-1)], axis=-1)[..., :-1]
        z = x[..., :-1] / rest
        u = np.log(z) - np.log1p(-z) + np.log(np.arange(k1, 0, -1.0))
        # the map reads only the first K-1 entries: an event off the simplex would silently
        # become another one ([.2, .3, .1] -> [.2, .3, .5]), so it is NaN (outside the support)
        return np.where(on_simplex(x)[..., None], u, np.nan)
    raise ValueError(f"no transform for support {support!r}")


# Host-side tests of data against a support (NumPy), by support: (values, the parameters'
# shapes) -> whether each value (each event, for a simplex) lies in it. Bounds that parameter
# values set (a Uniform's interval, a Binomial's total count) are left to the density.
SUPPORT_TESTS = {
    "real": lambda x, shapes: np.isfinite(x),
    "positive": lambda x, shapes: (x >= 0) & (x < np.inf),
    "unit_interval": lambda x, shapes: (x >= 0) & (x <= 1),
    "interval": lambda x, shapes: ~np.isnan(x),
    "simplex": lambda x, shapes: on_simplex(x),
    "boolean": lambda x, shapes: (x == 0) | (x == 1),
    "count": lambda x, shapes: is_count(x),
    "index": lambda x, shapes: is_count(x) & (x < shapes[0][-1]),  # (shapes[0]: probs')
}


def outside_support(support: str, x, param_shapes):
    """(index, value) of the first element of data `x` outside `support` (the first event,
    for a simplex), or None: what names the culprit when observed data makes a model's
    density -inf everywhere."""
    x = np.asarray(x)
    index = _first_outside(lambda: SUPPORT_TESTS[support](x, param_shapes))
    return None if index is None else (index, x[index])


def _first_outside(test):
    """The index of the first False of the elementwise test `test()` (NaN comparisons
    quiet), or None."""
    with np.errstate(invalid="ignore"):
        inside = np.asarray(test())
    return None if inside.all() else np.unravel_index(int(np.argmin(inside)), inside.shape)


# Bounds that parameter values set, by distribution: the parameters they read, a test
# (value, those parameters...) -> whether each value lies inside, and how a message writes them.
PARAMETER_BOUNDS = {
    "uniform": (("low", "high"), lambda x, low, high: (x >= low) & (x <= high), "low <= x <= high"),
    "binomial": (("total_count",), lambda x, total_count: x <= total_count, "x <= total_count"),
    "binomial_logits": (("total_count",), lambda x, total_count: x <= total_count, "x <= total_count"),
}


def outside_bounds(dist: str, x, params: dict):
    """(index, value, each bounding parameter's value there) of the first element of data
    `x` outside the bounds its parameters (by name) set, or None."""
    names, test, _ = PARAMETER_BOUNDS[dist]
    x, *bounds = np.broadcast_arrays(*(np.asarray(a) for a in [x, *(params[n] for n in names)]))
    index = _first_outside(lambda: test(x, *bounds))
    return None if index is None else (index, x[index], [b[index] for b in bounds])


# ----------------------------------------------------------------- declarations

@dataclass(eq=False)
class Distribution:
    """A user-facing constructor: `Normal(loc, scale, name=None)`."""

    name: str
    params: tuple[str, ...]
    support: str
    event_rank: int  # rank of one draw's event (the value's trailing axes it spans)
    discrete: bool
    log_prob: Callable
    sample: Callable
    param_event_rank: tuple[int, ...] = ()  # trailing axes of each parameter that are event axes

    @property
    def title(self) -> str:
        """The name NumPyro's class has: 'half_normal' -> 'HalfNormal', for messages."""
        return "".join(w.capitalize() for w in self.name.split("_"))


def _abstract(t):
    from .ir.types import numpy_dtype
    if t.dtype == "key":
        return jax.ShapeDtypeStruct(t.shape, jax.random.key(0).dtype)
    return jax.ShapeDtypeStruct(t.shape, numpy_dtype(t.dtype))


@lru_cache(maxsize=None)
def _lowered(fn, types) -> Module:
    """`fn` lowered to IR for arguments of these types (canonical, cached)."""
    from .frontend import lower_entry
    from .passes import run_passes
    module, _, _ = lower_entry(fn, [_abstract(t) for t in types])
    return run_passes(module, ["canonicalize"])


DISTRIBUTIONS: dict[str, Distribution] = {}


def _declare(name, params, support, log_prob, sample, event_rank=0, discrete=False, param_event_rank=None):
    d = Distribution(name, params, support, event_rank, discrete, log_prob, sample,
                     param_event_rank or (event_rank,) * len(params))
    DISTRIBUTIONS[name] = d
    transform = TRANSFORMS.get(support)
    declare_distribution(DistributionRules(
        name, params, support, event_rank,
        log_prob=lambda value_t, param_ts: _lowered(log_prob, (value_t,) + tuple(param_ts)),
        sampler=lambda key_t, param_ts: _lowered(sample, (key_t,) + tuple(param_ts)),
        transform=None if transform is None else (
            lambda u_t, param_ts: _lowered(transform, (u_t,) + tuple(param_ts))),
        unconstrained_shape=(lambda shape: shape[:-1] + (shape[-1] - 1,)) if support == "simplex" else
        (lambda shape: shape)))
    return d


_declare("normal", ("loc", "scale"), "real", normal_log_prob, normal_sample)
_declare("half_normal", ("scale",), "positive", half_normal_log_prob, half_normal_sample)
_declare("log_normal", ("loc", "scale"), "positive", log_normal_log_prob, log_normal_sample)
_declare("exponential", ("rate",), "positive", exponential_log_prob, exponential_sample)
_declare("gamma", ("concentration", "rate"), "positive", gamma_log_prob, gamma_sample)
_declare("beta", ("concentration1", "concentration0"), "unit_interval", beta_log_prob, beta_sample)
_declare("student_t", ("df", "loc", "scale"), "real", student_t_log_prob, student_t_sample)
_declare("cauchy", ("loc", "scale"), "real", cauchy_log_prob, cauchy_sample)
_declare("half_cauchy", ("scale",), "positive", half_cauchy_log_prob, half_cauchy_sample)
_declare("uniform", ("low", "high"), "interval", uniform_log_prob, uniform_sample)
_declare("laplace", ("loc", "scale"), "real", laplace_log_prob, laplace_sample)
_declare("inverse_gamma", ("concentration", "rate"), "positive", inverse_gamma_log_prob, inverse_gamma_sample)
_declare("bernoulli_logits", ("logits",), "boolean", bernoulli_logits_log_prob, bernoulli_logits_sample,
         discrete=True)
_declare("bernoulli_probs", ("probs",), "boolean", bernoulli_probs_log_prob, bernoulli_probs_sample,
         discrete=True)
_declare("binomial", ("total_count", "probs"), "count", binomial_log_prob, binomial_sample, discrete=True)
_declare("binomial_logits", ("total_count", "logits"), "count", binomial_logits_log_prob, binomial_logits_sample,
         discrete=True)
_declare("poisson", ("rate",), "count", poisson_log_prob, poisson_sample, discrete=True)
_declare("negative_binomial2", ("mean", "concentration"), "count", negative_binomial2_log_prob,
         negative_binomial2_sample, discrete=True)
_declare("categorical_logits", ("logits",), "index", categorical_logits_log_prob, categorical_logits_sample,
         discrete=True, param_event_rank=(1,))
_declare("categorical_probs", ("probs",), "index", categorical_probs_log_prob, categorical_probs_sample,
         discrete=True, param_event_rank=(1,))
_declare("dirichlet", ("concentration",), "simplex", dirichlet_log_prob, dirichlet_sample, event_rank=1)
_declare("multivariate_normal", ("loc", "scale_tril"), "real", mvn_log_prob, mvn_sample, event_rank=1,
         param_event_rank=(1, 2))
_declare("multivariate_normal_cov", ("loc", "covariance_matrix"), "real", mvn_cov_log_prob, mvn_cov_sample,
         event_rank=1, param_event_rank=(1, 2))


# ----------------------------------------------------------------- constructors

def _eager_draw(dist: Distribution, params):
    import jax.numpy as jnp
    key = jax.random.key(int(_RNG.integers(2 ** 31)))
    arrays = _broadcast_params(dist, [jnp.asarray(p) for p in params])
    return np.asarray(dist.sample(key, *arrays))


def _broadcast_params(dist, params):
    """Parameters broadcast to one batch shape (each keeping its event axes; one matrix,
    such as a scale_tril, is shared by the whole batch), as the frontend does."""
    import jax.numpy as jnp
    ranks = dist.param_event_rank
    batch = np.broadcast_shapes(*[np.shape(p)[:np.ndim(p) - r] for p, r in zip(params, ranks)])
    dtype = jnp.result_type(*params, float)
    return [jnp.asarray(p, dtype) if r == 2 and np.ndim(p) == 2 else
            jnp.broadcast_to(jnp.asarray(p, dtype), batch + np.shape(p)[np.ndim(p) - r:])
            for p, r in zip(params, ranks)]


def _constructor(public_name, choose):
    """A constructor whose keyword/positional parameters `choose` maps to
    (distribution, parameter values)."""
    def construct(*args, name=None, **kwargs):
        try:
            dist, params = choose(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"bad call to ppc.{public_name}: {_reason(e)}") from None
        return _eager_draw(DISTRIBUTIONS[dist], params)
    construct.__name__ = construct.__qualname__ = public_name
    construct.__doc__ = f"The {public_name} random variable (parameters as in NumPyro)."

    def lower(lw, *args, name=None, **kwargs):
        try:
            dist, params = choose(*args, **kwargs)
        except TypeError as e:
            lw.error(f"bad call to ppc.{public_name}: {_reason(e)}")
        return lw.random_variable(DISTRIBUTIONS[dist], params, name)
    register_callable(construct, lower)
    return construct


def _reason(e: TypeError) -> str:
    """A bad call's reason without the name of the function that found it ('<lambda>()
    missing 1 required positional argument' reads 'missing 1 ...'), which the user never wrote."""
    return re.sub(r"^[\w<>.]+\(\) ", "", str(e))


def _probs_or_logits(kind):
    def choose(probs=None, logits=None):
        if (probs is None) == (logits is None):
            raise TypeError("give exactly one of probs= or logits=")
        return (f"{kind}_probs", [probs]) if probs is not None else (f"{kind}_logits", [logits])
    return choose


def _binomial(total_count=1, probs=None, logits=None):
    if probs is None and logits is None:
        raise TypeError("probs= is required (or logits=)")
    if probs is not None and logits is not None:
        raise TypeError("give exactly one of probs= or logits=")
    return ("binomial", [total_count, probs]) if probs is not None else ("binomial_logits", [total_count, logits])


def _mvn(loc=0.0, scale_tril=None, *, covariance_matrix=None):
    """A number for loc (its default 0.0 too) is every coordinate's, as NumPyro reads it.
    The matrix is `scale_tril` (positional, as ppc has always read it) or, by keyword,
    NumPyro's `covariance_matrix`, whose Cholesky factor the density takes."""
    if scale_tril is not None and covariance_matrix is not None:
        raise TypeError("give exactly one of scale_tril= (a lower-triangular matrix) or covariance_matrix=")
    if scale_tril is None and covariance_matrix is None:
        raise TypeError("scale_tril= (a lower-triangular matrix) is required (or covariance_matrix=)")
    what, matrix = ("scale_tril", scale_tril) if scale_tril is not None else ("covariance_matrix", covariance_matrix)
    shape = tuple(np.shape(matrix))  # (np.shape reads a traced value's .shape)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise TypeError(f"{what} must be a square matrix (or a batch of them), got shape {shape}")
    if isinstance(loc, (int, float, np.number)):
        dtype = getattr(matrix, "dtype", np.float64)
        dtype = np.dtype(numpy_dtype(dtype) if isinstance(dtype, str) else dtype)
        loc = np.full(shape[-1:], loc, dtype if dtype.kind == "f" else np.float64)
    k = tuple(np.shape(loc))[-1:]
    if k and k[0] != shape[-1]:
        raise TypeError(f"loc has {k[0]} coordinates, but {what} is {shape[-1]} x {shape[-1]}")
    return ("multivariate_normal", [loc, scale_tril]) if scale_tril is not None else (
        "multivariate_normal_cov", [loc, covariance_matrix])


Normal = _constructor("Normal", lambda loc=0.0, scale=1.0: ("normal", [loc, scale]))
HalfNormal = _constructor("HalfNormal", lambda scale=1.0: ("half_normal", [scale]))
LogNormal = _constructor("LogNormal", lambda loc=0.0, scale=1.0: ("log_normal", [loc, scale]))
Exponential = _constructor("Exponential", lambda rate=1.0: ("exponential", [rate]))
Gamma = _constructor("Gamma", lambda concentration, rate=1.0: ("gamma", [concentration, rate]))
Beta = _constructor("Beta", lambda concentration1, concentration0: ("beta", [concentration1, concentration0]))
StudentT = _constructor("StudentT", lambda df, loc=0.0, scale=1.0: ("student_t", [df, loc, scale]))
Cauchy = _constructor("Cauchy", lambda loc=0.0, scale=1.0: ("cauchy", [loc, scale]))
HalfCauchy = _constructor("HalfCauchy", lambda scale=1.0: ("half_cauchy", [scale]))
Uniform = _constructor("Uniform", lambda low=0.0, high=1.0: ("uniform", [low, high]))
Laplace = _constructor("Laplace", lambda loc=0.0, scale=1.0: ("laplace", [loc, scale]))
InverseGamma = _constructor("InverseGamma", lambda concentration, rate=1.0: ("inverse_gamma", [concentration, rate]))
Bernoulli = _constructor("Bernoulli", _probs_or_logits("bernoulli"))
Binomial = _constructor("Binomial", _binomial)
Poisson = _constructor("Poisson", lambda rate: ("poisson", [rate]))
Categorical = _constructor("Categorical", _probs_or_logits("categorical"))
NegativeBinomial2 = _constructor("NegativeBinomial2", lambda mean, concentration: ("negative_binomial2",
                                                                                    [mean, concentration]))
Dirichlet = _constructor("Dirichlet", lambda concentration: ("dirichlet", [concentration]))
MultivariateNormal = _constructor("MultivariateNormal", _mvn)

__all__ = ["Normal", "HalfNormal", "HalfCauchy", "LogNormal", "Exponential", "Gamma", "Beta", "StudentT", "Cauchy",
           "Uniform", "Laplace", "InverseGamma", "Bernoulli", "Binomial", "Poisson", "NegativeBinomial2",
           "Categorical", "Dirichlet", "MultivariateNormal", "DISTRIBUTIONS", "CompileError"]
