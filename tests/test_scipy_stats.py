"""scipy.stats / jax.scipy.stats in compiled code (ppc/frontend/stats.py): values against
scipy.stats itself over hypothesis-drawn arguments (shapes that broadcast, values off the
support, parameters' edges), positional and keyword spellings, dtypes against JAX and
scipy, derivatives against jax.grad of the jax.scipy.stats function, both batching
strategies, the TF backend, the distribution functions' tails, the refusals (located,
naming the function), and that scipy.stats is imported only by programs that use it."""
import math
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import jax.scipy.special as jss
import jax.scipy.stats as js
import numpy as np
import pytest
import scipy.special as sps
import scipy.stats as ss
from hypothesis import given, settings
from hypothesis import strategies as st

import ppc
from ppc.ir import CompileError

STRATEGIES = ["local_static", "program_counter"]
rng = np.random.default_rng(7)


def _close(got, want, rtol=1e-9, atol=1e-12, dtype=None):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if dtype is not None:
        assert got.dtype == dtype, (got.dtype, dtype)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def _scipy(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)


# ------------------------------------------------------------------ the univariate distributions
# name: (x values (some off the support), parameter strategies (shape parameters, then loc[, scale]))

_X = [-3.0, -1.0, -0.25, 0.0, 0.1, 0.5, 1.0, 1.7, 3.0, 8.0]
_K = [-2.0, -1.0, 0.0, 1.0, 2.0, 2.5, 3.0, 5.0, 9.0, 14.0]
_LOC = st.sampled_from([-1.0, 0.0, 0.3, 1.5])
_SCALE = st.sampled_from([0.4, 1.0, 2.5])
_POS = st.floats(0.3, 6.0)
_PROB = st.sampled_from([0.0, 0.05, 0.3, 0.5, 0.9, 1.0])

CONTINUOUS = {
    "norm": [], "expon": [], "cauchy": [], "logistic": [], "laplace": [], "uniform": [],
    "halfnorm": [], "halfcauchy": [],
    "t": [_POS], "gamma": [st.sampled_from([0.5, 1.0, 2.5, 7.0])], "chi2": [st.sampled_from([1.0, 2.0, 5.0])],
    "beta": [st.sampled_from([0.5, 1.0, 2.5]), st.sampled_from([0.7, 1.0, 4.0])], "lognorm": [_POS],
}
DISCRETE = {
    "poisson": [st.sampled_from([0.0, 0.4, 3.0, 11.0])], "bernoulli": [_PROB],
    "binom": [st.sampled_from([0.0, 1.0, 5.0, 12.0]), _PROB],
    "nbinom": [st.sampled_from([0.5, 1.0, 4.0]), st.sampled_from([0.05, 0.3, 0.9, 1.0])],
    "geom": [st.sampled_from([0.05, 0.3, 0.9, 1.0])],
}
# the methods each has beyond its log density and density
EXTRA = {"norm": ("cdf", "logcdf", "sf", "logsf"), "expon": ("cdf", "logcdf", "sf", "logsf"),
         "cauchy": ("cdf", "logcdf", "sf", "logsf"), "logistic": ("cdf", "logcdf", "sf", "logsf"),
         "laplace": ("cdf", "logcdf", "sf", "logsf"), "uniform": ("cdf", "logcdf")}
SHAPES = [(), (3,), (2, 1), (1, 3)]


def _methods(name):
    continuous = name in CONTINUOUS
    return (("logpdf", "pdf") if continuous else ("logpmf", "pmf")) + EXTRA.get(name, ())


def _calls(name):
    """Every method of both libraries (those the library has)."""
    return [getattr(getattr(mod, name), m) for mod in (ss, js) if hasattr(mod, name)
            for m in _methods(name) if hasattr(getattr(mod, name), m)]


def _nshape(name):
    return len((CONTINUOUS if name in CONTINUOUS else DISCRETE)[name])


def _program(name):
    calls = _calls(name)

    def program(x, params):
        out = ()
        for fn in calls:  # (unrolled: a loop over a tuple of functions)
            out = out + (fn(x, *params),)
        return out
    return ppc.compile(program)


PROGRAMS = {}


@st.composite
def _arguments(draw, name):
    continuous = name in CONTINUOUS
    strategies = (CONTINUOUS if continuous else DISCRETE)[name] + [_LOC] + ([_SCALE] if continuous else [])
    if not continuous:
        strategies[-1] = st.sampled_from([0.0, 1.0, -2.0])  # (a count's shift)
    values = _X if continuous else _K

    def array(strategy):
        shape = draw(st.sampled_from(SHAPES))
        n = int(np.prod(shape))
        return np.array(draw(st.lists(strategy, min_size=n, max_size=n)), np.float64).reshape(shape)
    x = array(st.sampled_from(values))
    params = tuple(array(s) for s in strategies)
    return x, params


@pytest.mark.parametrize("name", sorted(CONTINUOUS) + sorted(DISCRETE))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_values_match_scipy(name, data):
    """Every method, scipy.stats and jax.scipy.stats spellings, against scipy.stats on the
    same arguments (drawn shapes broadcast together; values include points off the
    support, where a log density is -inf as scipy's, and parameters at their edges)."""
    x, params = data.draw(_arguments(name))
    if name not in PROGRAMS:
        PROGRAMS[name] = _program(name)
    for fn, got in zip(_calls(name), PROGRAMS[name](x, params)):
        _close(got, _scipy(getattr(getattr(ss, name), fn.__name__), x, *params), dtype=np.float64)


def keyword_forms(x, a, b, loc, scale, k, n, p):
    """loc and scale by keyword (and shape parameters by name), in any order."""
    return (ss.norm.logpdf(x, scale=scale, loc=loc), js.norm.cdf(x, loc, scale=scale), ss.norm.logsf(x=x, loc=loc),
            js.gamma.logpdf(x, a, scale=scale), ss.gamma.logpdf(x, a=a, loc=loc), js.beta.pdf(x, a, b, loc, scale),
            ss.beta.logpdf(x, b=b, a=a, scale=scale), js.t.logpdf(x, df=a, scale=scale), ss.expon.logcdf(x, scale=scale),
            js.uniform.logpdf(x, loc=loc, scale=scale), ss.lognorm.logpdf(x, a, scale=scale),
            ss.poisson.logpmf(k, mu=a, loc=loc), js.binom.logpmf(k, n, p, loc=loc), js.bernoulli.pmf(k=k, p=p),
            ss.nbinom.logpmf(k, n=n, p=p), js.geom.logpmf(k, p, loc), ss.laplace.logpdf(x, scale=scale),
            js.logistic.sf(x, loc, scale), js.cauchy.logcdf(x, scale=scale), ss.chi2.logpdf(x, df=a, loc=loc))


def keyword_reference(x, a, b, loc, scale, k, n, p):
    return (ss.norm.logpdf(x, loc, scale), ss.norm.cdf(x, loc, scale), ss.norm.logsf(x, loc),
            ss.gamma.logpdf(x, a, 0, scale), ss.gamma.logpdf(x, a, loc), ss.beta.pdf(x, a, b, loc, scale),
            ss.beta.logpdf(x, a, b, 0, scale), ss.t.logpdf(x, a, 0, scale), ss.expon.logcdf(x, 0, scale),
            ss.uniform.logpdf(x, loc, scale), ss.lognorm.logpdf(x, a, 0, scale),
            ss.poisson.logpmf(k, a, loc), ss.binom.logpmf(k, n, p, loc), ss.bernoulli.pmf(k, p),
            ss.nbinom.logpmf(k, n, p), ss.geom.logpmf(k, p, loc), ss.laplace.logpdf(x, 0, scale),
            ss.logistic.sf(x, loc, scale), ss.cauchy.logcdf(x, 0, scale), ss.chi2.logpdf(x, a, loc))


def test_keyword_forms_match_scipy():
    x = np.array(_X).reshape(2, 5)
    k = np.array(_K).reshape(2, 5)
    args = (x, 2.5, np.array([0.7, 1.0, 4.0, 2.0, 1.5]), -0.5, 1.3, k, 6.0, np.array([0.3, 0.9]).reshape(2, 1))
    for g, w in zip(ppc.compile(keyword_forms)(*args), _scipy(keyword_reference, *args)):
        _close(g, w, dtype=np.float64)


# ------------------------------------------------------------------ dtypes and weak types

def mixed_dtypes(x32, k, p32):
    return (js.norm.logpdf(x32, 0.5, 2.0), js.gamma.logpdf(x32, 2.0, scale=3.0), ss.norm.logpdf(x32),
            js.poisson.logpmf(k, p32), js.binom.logpmf(k, 10, p32 * 0.1), ss.poisson.logpmf(k, 3.0),
            js.norm.logpdf(k), js.multivariate_normal.logpdf(jnp.stack([x32, x32], -1), jnp.zeros(2, x32.dtype),
                                                              jnp.eye(2, dtype=x32.dtype)))


def test_dtypes_as_jax_and_scipy():
    """jax.scipy.stats keeps float32 (an integer count does not widen it, a Python number
    neither); scipy.stats computes in float64; integers alone give the default float."""
    x32 = np.linspace(0.1, 3.0, 4).astype(np.float32)
    k = np.array([0, 1, 3, 7])
    p32 = np.float32(2.5)
    got = ppc.compile(mixed_dtypes)(x32, k, p32)
    want = mixed_dtypes(jnp.asarray(x32), jnp.asarray(k), jnp.asarray(p32))  # (ppc turns on 64-bit JAX)
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.asarray(w).dtype, (np.asarray(g).dtype, np.asarray(w).dtype)
        _close(g, w, rtol=2e-6, atol=2e-6)


# ------------------------------------------------------------------ multivariate

def mvn_forms(x, mean, cov, covs, xb):
    return (ss.multivariate_normal.logpdf(x, mean, cov), ss.multivariate_normal.pdf(x[0], mean=mean, cov=cov),
            ss.multivariate_normal.logpdf(x, cov=cov), ss.multivariate_normal.logpdf(x[:1], mean, np.diag(cov)),
            ss.multivariate_normal.logpdf(x[:, :1], mean[:1], 2.0), ss.multivariate_normal.logpdf(x[:, 0], 0.5, 2.0),
            ss.multivariate_normal.logpdf(x[0, 0], 0.5),
            js.multivariate_normal.logpdf(x, mean, cov), js.multivariate_normal.pdf(x, mean, cov),
            js.multivariate_normal.logpdf(xb, mean, covs), js.multivariate_normal.logpdf(xb, mean, 1.5),
            js.multivariate_normal.logpdf(x[:, 0], 0.5, 1.5))


def _spd(k, batch=()):
    a = rng.normal(size=batch + (k, k))
    return a @ np.swapaxes(a, -1, -2) + k * np.eye(k)


def test_multivariate_normal_matches_scipy_and_jax():
    """scipy's reading (mean optional, a number or a vector for the covariance, one
    coordinate makes a vector a set of points, size-1 axes squeezed) and JAX's (batched
    covariances broadcast with x and the mean)."""
    x, mean, cov = rng.normal(size=(4, 3)), rng.normal(size=3), _spd(3)
    covs, xb = _spd(3, (2,)), rng.normal(size=(5, 2, 3))
    got = ppc.compile(mvn_forms)(x, mean, cov, covs, xb)
    want = _scipy(mvn_forms, x, mean, cov, covs, xb)
    for g, w in zip(got, want):
        _close(g, w, rtol=1e-10)
    _close(got[0], [ss.multivariate_normal(mean, cov).logpdf(r) for r in x], rtol=1e-10)


def dirichlet_forms(x, alpha):
    return (ss.dirichlet.logpdf(x, alpha), ss.dirichlet.pdf(x[:, 0], alpha), ss.dirichlet.logpdf(x[:-1], alpha),
            js.dirichlet.logpdf(x, alpha), js.dirichlet.pdf(x[:-1, 1], alpha))


def test_dirichlet_matches_scipy():
    """Categories along the first axis (the last one may be left out), as scipy and JAX."""
    alpha = np.array([1.5, 2.0, 0.7, 3.0])
    x = rng.dirichlet(alpha, size=5).T
    got = ppc.compile(dirichlet_forms)(x, alpha)
    want = (ss.dirichlet.logpdf(x, alpha), ss.dirichlet.pdf(x[:, 0], alpha), ss.dirichlet.logpdf(x[:-1], alpha),
            ss.dirichlet.logpdf(x, alpha), ss.dirichlet.pdf(x[:, 1], alpha))
    for g, w in zip(got, want):
        _close(g, w, rtol=1e-10)
    off = x.copy()
    off[0, 1] += 0.1  # (no longer sums to one: -inf, as JAX's; scipy raises)
    assert np.asarray(ppc.compile(dirichlet_forms)(off, alpha)[3])[1] == -np.inf


# ------------------------------------------------------------------ tails

def norm_functions(z):
    return ss.norm.logcdf(z), ss.norm.cdf(z), ss.norm.logsf(z), ss.norm.sf(z), js.norm.logcdf(z)


def test_normal_distribution_function_tails():
    """log ndtr to float64 precision from z = -60 to 40 (its three branches and their
    seams), as scipy's log_ndtr; and its gradient finite everywhere, as jax's."""
    z = np.array([-60., -40., -37.5, -30., -20.5, -20., -19.5, -10., -5., -1, -1e-3, 0., 1e-3, 1., 4.9, 5.0, 8.,
                  10., 40.])
    got = ppc.compile(norm_functions)(z)
    want = (ss.norm.logcdf(z), ss.norm.cdf(z), ss.norm.logsf(z), ss.norm.sf(z), ss.norm.logcdf(z))
    for g, w in zip(got, want):
        _close(g, w, rtol=2e-15, atol=0.0)
    g = ppc.grad(ppc.compile(lambda z: np.sum(js.norm.logcdf(z))))(z)
    assert np.all(np.isfinite(g))
    _close(g, np.exp(ss.norm.logpdf(z) - ss.norm.logcdf(z)), rtol=1e-12, atol=1e-300)  # (pdf / cdf)
    j = jax.grad(lambda z: jnp.sum(js.norm.logcdf(z)))(z)
    _close(g, j, rtol=1e-8, atol=1e-300)  # (jax's own is off by 4e-9 at z = -20.5)
    z32 = np.concatenate([z, [-15.0, -13.5, -10.5, -9.5]]).astype(np.float32)  # (float32's seam is at -10)
    got = ppc.compile(norm_functions)(z32)
    _close(got[0], ss.norm.logcdf(z32.astype(float)), rtol=3e-6, atol=0.0, dtype=np.float64)  # (scipy: float64)
    _close(got[4], ss.norm.logcdf(z32.astype(float)), rtol=3e-6, atol=0.0, dtype=np.float32)


def erfcs(x):
    return sps.erfc(x), jss.erfc(x * 2.0), jax.lax.erfc(x - 1.0), math.erfc(0.5)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_erfc(backend):
    """erfc (a primitive the distribution functions use), in all its spellings: values
    against scipy.special, its derivative against jax.grad."""
    x = np.array([-3.0, -0.5, 0.0, 0.7, 4.0, 9.0, 26.0])
    got = ppc.compile(erfcs, backend=backend)(x)
    for g, w in zip(got, (sps.erfc(x), sps.erfc(2 * x), sps.erfc(x - 1), sps.erfc(0.5))):
        _close(g, w, rtol=1e-14, atol=0.0)
    loss = lambda x: jnp.sum(jss.erfc(x) * x)  # noqa: E731
    _close(ppc.grad(ppc.compile(loss, backend=backend))(x), jax.grad(loss)(x), rtol=1e-13, atol=1e-300)


# ------------------------------------------------------------------ derivatives against jax.grad

GRADIENT_CASES = {  # name: (x, parameters): interior points, every float argument differentiated
    "norm": (np.array([-1.0, 0.2, 2.5]), (0.3, 1.7)),
    "expon": (np.array([0.1, 0.9, 3.0]), (-0.5, 1.3)),
    "cauchy": (np.array([-1.0, 0.2, 2.5]), (0.3, 1.7)),
    "logistic": (np.array([-1.0, 0.2, 2.5]), (0.3, 1.7)),
    "laplace": (np.array([-1.0, 0.2, 2.5]), (0.3, 1.7)),
    "t": (np.array([-1.0, 0.2, 2.5]), (3.5, 0.3, 1.7)),
    "gamma": (np.array([0.1, 0.9, 3.0]), (2.5, -0.5, 1.3)),
    "chi2": (np.array([0.1, 0.9, 3.0]), (3.0, -0.5, 1.3)),
    "beta": (np.array([0.1, 0.5, 0.9]), (2.5, 0.7, -0.2, 1.5)),
    "uniform": (np.array([0.1, 0.5, 0.9]), (-0.5, 2.0)),
}
DISCRETE_GRADIENTS = {"poisson": (np.array([0.0, 2.0, 7.0]), (3.2,)), "bernoulli": (np.array([0.0, 1.0, 1.0]), (0.3,)),
                      "binom": (np.array([0.0, 2.0, 7.0]), (10.0, 0.3)), "nbinom": (np.array([0.0, 2.0, 7.0]), (4.0, 0.3)),
                      "geom": (np.array([1.0, 2.0, 7.0]), (0.3,))}


def _loss(fn):
    def loss(x, params):
        return np.sum(fn(x, *params))
    return loss


@pytest.mark.parametrize("name,method", [(n, m) for n in sorted(GRADIENT_CASES) for m in _methods(n)
                                         if getattr(getattr(js, n), m, None) is not None])
def test_gradients_match_jax(name, method):
    """d/d(x, every parameter) of the sum of jax.scipy.stats.<name>.<method>, compiled
    (reverse mode), against jax.grad of the jax.scipy.stats function itself."""
    x, params = GRADIENT_CASES[name]
    params = tuple(np.float64(p) for p in params)
    fn = getattr(getattr(js, name), method)
    loss = _loss(fn)
    got = ppc.grad(ppc.compile(loss), argnums=(0, 1))(x, params)
    want = jax.grad(loss, argnums=(0, 1))(jnp.asarray(x), tuple(jnp.asarray(p) for p in params))
    _close(got[0], want[0], rtol=1e-9)
    for g, w in zip(got[1], want[1]):
        _close(g, w, rtol=1e-9)


@pytest.mark.parametrize("name", sorted(DISCRETE_GRADIENTS))
def test_discrete_gradients_match_jax(name):
    """d/d(parameters) of a log mass function (its counts are data)."""
    k, params = DISCRETE_GRADIENTS[name]
    params = tuple(np.float64(p) for p in params)
    loss = _loss(getattr(js, name).logpmf)
    got = ppc.grad(ppc.compile(loss), argnums=1)(k, params)
    want = jax.grad(loss, argnums=1)(jnp.asarray(k), tuple(jnp.asarray(p) for p in params))
    for g, w in zip(got, want):
        _close(g, w, rtol=1e-9)


def scipy_only(x, s, loc, scale):
    return np.sum(ss.lognorm.logpdf(x, s, loc, scale) + ss.halfnorm.logpdf(x, loc, scale)
                  + ss.halfcauchy.logpdf(x, loc, scale))


def test_scipy_only_gradients_match_finite_differences():
    """lognorm, halfnorm and halfcauchy (not in jax.scipy.stats): central differences."""
    args = [np.array([0.4, 1.1, 2.5]), 0.8, -0.2, 1.3]
    got = ppc.grad(ppc.compile(scipy_only), argnums=(0, 1, 2, 3))(*args)
    for i in range(4):
        for j in range(np.size(args[i])):
            h = 1e-6
            up, down = [np.array(a, float) for a in args], [np.array(a, float) for a in args]
            up[i].flat[j] += h
            down[i].flat[j] -= h
            fd = (scipy_only(*up) - scipy_only(*down)) / (2 * h)
            np.testing.assert_allclose(np.asarray(got[i]).flat[j], fd, rtol=1e-6, atol=1e-8)


def mvn_loss(x, mean, cov):
    return jnp.sum(js.multivariate_normal.logpdf(x, mean, cov)) + jnp.sum(js.dirichlet.logpdf(
        jax.nn.softmax(x, axis=-1).T, jnp.exp(mean)))


def test_multivariate_gradients_match_jax():
    x, mean, cov = rng.normal(size=(4, 3)), rng.normal(size=3), _spd(3)
    got = ppc.grad(ppc.compile(mvn_loss), argnums=(0, 1, 2))(x, mean, cov)
    want = jax.grad(mvn_loss, argnums=(0, 1, 2))(x, mean, cov)
    for g, w in zip(got, want):
        _close(g, w, rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------------ batching, the TF backend

def member_density(x, y, k, mu, sigma):
    """A hand-written log density, as users write them."""
    lp = ss.norm.logpdf(mu, 0.0, 10.0) + ss.halfcauchy.logpdf(sigma, scale=2.0)
    lp = lp + np.sum(js.norm.logpdf(y, mu + x, sigma)) + np.sum(ss.poisson.logpmf(k, np.exp(mu)))
    if mu > 0:  # (a traced branch: masked when batched)
        lp = lp + js.t.logpdf(mu, 3.0)
    return lp + js.norm.logcdf(mu) + ss.multivariate_normal.logpdf(y[:2], x[:2], np.eye(2) * sigma)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_matches_members(strategy):
    B = 5
    x, y = rng.normal(size=(B, 6)), rng.normal(size=(B, 6))
    k = rng.poisson(2.0, size=(B, 6))
    mu, sigma = np.array([-0.5, 0.3, 1.2, 0.0, -2.0]), np.array([0.5, 1.0, 2.0, 0.1, 3.0])
    got = np.asarray(ppc.autobatch(member_density, strategy=strategy)(x, y, k, mu, sigma))
    for b in range(B):
        _close(got[b], member_density(x[b], y[b], k[b], mu[b], sigma[b]), rtol=1e-12)


def tf_program(x, k, mean, cov):
    return (ss.norm.logpdf(x, 0.5, 2.0), js.gamma.logpdf(x, 2.0, scale=1.5), ss.beta.logpdf(x / 4.0, 2.0, 3.0),
            js.norm.logcdf(x * 10.0 - 30.0), ss.poisson.logpmf(k, 2.5), js.binom.pmf(k, 6, 0.4),
            ss.multivariate_normal.logpdf(x.reshape(2, 3), mean, cov), js.t.pdf(x, 4.0))


def test_tf_backend_matches_scipy():
    x = np.array([-0.5, 0.3, 1.0, 2.0, 3.5, 0.0])
    k = np.array([0, 1, 2, 3, 7, -1])
    mean, cov = rng.normal(size=3), _spd(3)
    got = ppc.compile(tf_program, backend="tf")(x, k, mean, cov)
    want = _scipy(tf_program, x, k, mean, cov)
    for g, w in zip(got, want):
        _close(g, w, rtol=1e-10)
    ref = ppc.compile(tf_program)(x, k, mean, cov)
    for g, w in zip(got, ref):
        _close(g, w, rtol=1e-12)


# ------------------------------------------------------------------ refusals

def no_x(x):
    return ss.norm.logpdf()


def no_shape(x):
    return js.gamma.logpdf(x)


def too_many(x):
    return ss.norm.logpdf(x, 0.0, 1.0, 2.0)


def bad_keyword(x):
    return js.norm.logpdf(x, mean=1.0)


def unsupported_scipy(x):
    return ss.vonmises.logpdf(x, 1.0)


def unsupported_jax(x):
    return js.vonmises.logpdf(x, 1.0)


def unsupported_method(x):
    return ss.gamma.cdf(x, 2.0)


def frozen(x):
    return ss.norm(0.0, 1.0).logpdf(x)


def no_broadcast(x):
    return ss.norm.logpdf(x, np.zeros(4))


def bad_cov(x):
    return js.multivariate_normal.logpdf(x, np.zeros(3), np.eye(2))


def bad_alpha(x):
    return js.dirichlet.logpdf(x, np.ones((2, 3)))


@pytest.mark.parametrize("fn,message", [
    (no_x, r"bad call to scipy\.stats\.norm\.logpdf: missing a required argument: 'x'"),
    (no_shape, r"bad call to jax\.scipy\.stats\.gamma\.logpdf: missing a required argument: 'a'"),
    (too_many, r"bad call to scipy\.stats\.norm\.logpdf: too many positional arguments"),
    (bad_keyword, r"bad call to jax\.scipy\.stats\.norm\.logpdf: got an unexpected keyword argument 'mean'"),
    (unsupported_scipy, r"scipy\.stats\.vonmises\.logpdf is not supported in compiled code"),
    (unsupported_jax, r"jax\.scipy\.stats\.vonmises\.logpdf is not supported in compiled code"),
    (unsupported_method, r"scipy\.stats\.gamma\.cdf is not supported in compiled code"),
    (frozen, r"frozen distributions \(scipy\.stats\.norm\(\.\.\.\)\) are not supported"),
    (no_broadcast, r"shapes \(3,\) and \(4,\) do not broadcast"),
    (bad_cov, r"jax\.scipy\.stats\.multivariate_normal\.logpdf: the covariance must be 3 x 3"),
    (bad_alpha, r"jax\.scipy\.stats\.dirichlet\.logpdf: alpha must be one-dimensional"),
])
def test_refusals_are_located(fn, message):
    with pytest.raises(CompileError, match=message) as e:
        ppc.compile(fn)(np.ones(3))
    msg = str(e.value)
    line = fn.__code__.co_firstlineno + 1
    assert f"test_scipy_stats.py:{line}:" in msg, msg


def test_refusal_lists_what_is_supported():
    with pytest.raises(CompileError) as e:
        ppc.compile(unsupported_scipy)(np.ones(3))
    assert "norm (logpdf, pdf, cdf, logcdf, sf, logsf)" in str(e.value)
    assert "multivariate_normal (logpdf, pdf)" in str(e.value)


# ------------------------------------------------------------------ scipy.stats is imported lazily

def test_scipy_stats_not_imported_until_used(tmp_path):
    """import ppc and a first compile leave scipy.stats unimported (it costs ~0.4 s); a
    program that imports it afterwards still compiles its calls (the table is rebuilt)."""
    model = tmp_path / "user_model.py"
    model.write_text("import scipy.stats\n\ndef g(x):\n    return scipy.stats.norm.logpdf(x, 1.0)\n")
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import importlib.util, sys
        import numpy as np
        import ppc

        def f(x):
            return np.sin(x)

        ppc.compile(f)(np.ones(2))
        assert "scipy.stats" not in sys.modules
        spec = importlib.util.spec_from_file_location("user_model", {str(model)!r})
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # (imports scipy.stats)
        got = ppc.compile(mod.g)(np.array([0.0, 2.0]))
        import scipy.stats
        assert np.allclose(got, scipy.stats.norm.logpdf([0.0, 2.0], 1.0)), got
        print("ok")
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-3000:]
