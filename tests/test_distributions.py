"""Every distribution's log density against scipy.stats, across random parameters and
values, through the whole path (model -> sample op -> log_joint pass -> JAX or TF); every
sampler, on both backends, by its moments and a Kolmogorov-Smirnov test at fixed seeds."""
import jax
import numpy as np
import pytest
from scipy import stats

import ppc
from ppc.distributions import beta_log_prob

import data.rv_models as M

rng = np.random.default_rng(0)
N = 7  # batch of parameter/value draws per distribution


def pos(*shape):
    return rng.uniform(0.5, 3.0, size=shape)


def real(*shape):
    return rng.normal(size=shape)


def unit(*shape):
    return rng.uniform(0.05, 0.95, size=shape)


def tril(k):
    a = rng.normal(size=(k, k)) * 0.3
    return np.tril(a, -1) + np.diag(rng.uniform(0.5, 2.0, size=k))


def simplex(n, k):
    x = rng.uniform(0.1, 1.0, size=(n, k))
    return x / x.sum(-1, keepdims=True)


loc, scale, x = real(N), pos(N), real(N)
CASES = [
    ("normal", M.normal, (loc, scale), x, stats.norm(loc, scale).logpdf(x)),
    ("half_normal", M.half_normal, (scale,), pos(N), None),
    ("half_cauchy", M.half_cauchy, (scale,), pos(N), None),
    ("log_normal", M.log_normal, (loc, scale), pos(N), None),
    ("exponential", M.exponential, (scale,), pos(N), None),
    ("gamma", M.gamma, (pos(N), pos(N)), pos(N), None),
    ("beta", M.beta, (pos(N), pos(N)), unit(N), None),
    ("student_t", M.student_t, (pos(N) + 1, loc, scale), x, None),
    ("cauchy", M.cauchy, (loc, scale), x, None),
    ("uniform", M.uniform, (loc - 2.0, loc + 2.0), loc + rng.uniform(-1.9, 1.9, N), None),
    ("bernoulli_probs", M.bernoulli_probs, (unit(N),), rng.integers(0, 2, N), None),
    ("bernoulli_logits", M.bernoulli_logits, (real(N),), rng.integers(0, 2, N), None),
    ("binomial", M.binomial, (rng.integers(1, 10, N).astype(float), unit(N)), None, None),
    ("poisson", M.poisson, (pos(N),), rng.integers(0, 8, N), None),
    ("categorical_probs", M.categorical_probs, (simplex(N, 4),), rng.integers(0, 4, N), None),
    ("categorical_logits", M.categorical_logits, (real(N, 4),), rng.integers(0, 4, N), None),
    ("dirichlet", M.dirichlet, (pos(3, 4),), simplex(3, 4), None),
    ("mvn", M.mvn, (real(3), tril(3)), real(5, 3), None),
]


def scipy_logpdf(name, params, value):
    p = params
    if name == "half_normal":
        return stats.halfnorm(scale=p[0]).logpdf(value)
    if name == "half_cauchy":
        return stats.halfcauchy(scale=p[0]).logpdf(value)
    if name == "log_normal":
        return stats.lognorm(s=p[1], scale=np.exp(p[0])).logpdf(value)
    if name == "exponential":
        return stats.expon(scale=1 / p[0]).logpdf(value)
    if name == "gamma":
        return stats.gamma(a=p[0], scale=1 / p[1]).logpdf(value)
    if name == "beta":
        return stats.beta(p[0], p[1]).logpdf(value)
    if name == "student_t":
        return stats.t(df=p[0], loc=p[1], scale=p[2]).logpdf(value)
    if name == "cauchy":
        return stats.cauchy(p[0], p[1]).logpdf(value)
    if name == "uniform":
        return stats.uniform(p[0], p[1] - p[0]).logpdf(value)
    if name == "bernoulli_probs":
        return stats.bernoulli(p[0]).logpmf(value)
    if name == "bernoulli_logits":
        return stats.bernoulli(1 / (1 + np.exp(-p[0]))).logpmf(value)
    if name == "binomial":
        return stats.binom(p[0], p[1]).logpmf(value)
    if name == "poisson":
        return stats.poisson(p[0]).logpmf(value)
    if name == "categorical_probs":
        return np.log(p[0][np.arange(len(value)), value])
    if name == "categorical_logits":
        lp = p[0] - np.log(np.exp(p[0]).sum(-1, keepdims=True))
        return lp[np.arange(len(value)), value]
    if name == "dirichlet":
        return np.array([stats.dirichlet(a).logpdf(v) for a, v in zip(p[0], value)])
    if name == "mvn":
        cov = p[1] @ p[1].T
        return stats.multivariate_normal(p[0], cov).logpdf(value)
    return stats.norm(p[0], p[1]).logpdf(value)


@pytest.mark.parametrize("name,model,params,value,_", CASES, ids=[c[0] for c in CASES])
def test_log_density_matches_scipy(name, model, params, value, _, backend):
    if name == "binomial":
        value = np.minimum(rng.integers(0, 10, N), params[0].astype(int))
    lj = ppc.log_joint(ppc.compile(model, backend=backend))
    if name == "mvn":  # a batch of 5 vectors under one distribution
        params = (np.broadcast_to(params[0], value.shape), params[1])
    got = lj(*params, x=value)
    want = np.sum(scipy_logpdf(name, params if name != "mvn" else (params[0][0], params[1]), value))
    assert np.isfinite(want)
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_log_density_gradient_matches_finite_differences():
    a, b = pos(4), pos(4)
    v = unit(4)
    lj = ppc.log_joint(M.beta)

    def f(aa):
        return lj(aa, b, x=v)
    g = ppc.grad(lambda_beta_lp)(a, b, v)
    eps = 1e-6
    fd = np.array([(f(a + eps * e) - f(a - eps * e)) / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def lambda_beta_lp(a, b, v):
    return np.sum(beta_log_prob(v, a, b))


SAMPLER_CASES = [
    ("normal", M.normal, (1.5, 2.0), stats.norm(1.5, 2.0)),
    ("half_normal", M.half_normal, (2.0,), stats.halfnorm(scale=2.0)),
    ("log_normal", M.log_normal, (0.3, 0.5), stats.lognorm(s=0.5, scale=np.exp(0.3))),
    ("exponential", M.exponential, (2.5,), stats.expon(scale=0.4)),
    ("gamma", M.gamma, (2.5, 1.5), stats.gamma(a=2.5, scale=1 / 1.5)),
    ("beta", M.beta, (2.0, 3.0), stats.beta(2.0, 3.0)),
    ("student_t", M.student_t, (4.0, 1.0, 2.0), stats.t(df=4.0, loc=1.0, scale=2.0)),
    ("cauchy", M.cauchy, (0.5, 1.5), stats.cauchy(0.5, 1.5)),
    ("half_cauchy", M.half_cauchy, (1.5,), stats.halfcauchy(scale=1.5)),
    ("uniform", M.uniform, (-1.0, 3.0), stats.uniform(-1.0, 4.0)),
]


@pytest.mark.parametrize("name,model,params,ref", SAMPLER_CASES, ids=[c[0] for c in SAMPLER_CASES])
def test_continuous_sampler_ks(name, model, params, ref, backend):
    n = 4000
    batched = [np.full(n, p) for p in params]
    draws = np.asarray(ppc.sample(ppc.compile(model, backend=backend), jax.random.key(1), *batched)["x"])
    assert draws.shape == (n,)
    assert stats.kstest(draws, ref.cdf).pvalue > 1e-3
    if "cauchy" not in name:
        assert abs(draws.mean() - ref.mean()) < 5 * ref.std() / np.sqrt(n)


@pytest.mark.parametrize("model,params,mean,var", [
    (M.bernoulli_probs, (0.3,), 0.3, 0.21),
    (M.bernoulli_logits, (0.0,), 0.5, 0.25),
    (M.binomial, (10.0, 0.3), 3.0, 2.1),
    (M.poisson, (3.5,), 3.5, 3.5),
], ids=["bernoulli_probs", "bernoulli_logits", "binomial", "poisson"])
def test_discrete_sampler_moments(model, params, mean, var, backend):
    n = 4000
    draws = np.asarray(ppc.sample(ppc.compile(model, backend=backend), jax.random.key(2),
                                  *[np.full(n, p) for p in params])["x"])
    assert draws.dtype == np.int64
    assert abs(draws.mean() - mean) < 5 * np.sqrt(var / n)
    assert abs(draws.var() - var) < 0.15 * var


def test_categorical_and_dirichlet_and_mvn_samplers(backend):
    n = 4000
    p = np.array([0.1, 0.2, 0.3, 0.4])
    cat = np.asarray(ppc.sample(ppc.compile(M.categorical_probs, backend=backend), jax.random.key(3), np.tile(p, (n, 1)))["x"])
    freq = np.bincount(cat, minlength=4) / n
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / n))
    alpha = np.array([1.0, 2.0, 3.0])
    d = np.asarray(ppc.sample(ppc.compile(M.dirichlet, backend=backend), jax.random.key(4), np.tile(alpha, (n, 1)))["x"])
    np.testing.assert_allclose(d.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(d.mean(0), alpha / alpha.sum(), atol=0.02)
    L = np.array([[1.0, 0.0], [0.8, 0.5]])
    mvn = np.asarray(ppc.sample(ppc.compile(M.mvn, backend=backend), jax.random.key(5), np.zeros((n, 2)), L)["x"])
    np.testing.assert_allclose(np.cov(mvn.T), L @ L.T, atol=0.08)


def test_eager_constructors_draw():
    x = ppc.Normal(np.zeros(3), 1.0)
    assert x.shape == (3,)
    assert 0 <= ppc.Beta(2.0, 2.0) <= 1
