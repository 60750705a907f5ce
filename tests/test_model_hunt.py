"""Realistic Bayesian models written as a demanding user writes them, checked against
scipy.stats and NumPyro, and the bugs they found pinned: each test named after what once
went wrong (a silent wrong answer, a NaN gradient, an error naming the wrong thing)."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats as st
from jax.scipy.special import logsumexp

import ppc
import ppc.infer

RNG = np.random.default_rng(20261207)


# ----------------------------------------------------------------- models

def eight_schools(sigma):
    mu = ppc.Normal(0.0, 5.0)
    tau = ppc.HalfCauchy(5.0)
    z = ppc.Normal(np.zeros(sigma.shape[0]), 1.0)
    y = ppc.Normal(mu + tau * z, sigma)
    return y


def poisson_glm(g, X, exposure):
    mu = ppc.Normal(0.0, 2.0)
    tau = ppc.HalfNormal(1.0)
    z = ppc.Normal(np.zeros(5), 1.0)
    beta = ppc.Normal(np.zeros(X.shape[1]), 1.0)
    y = ppc.Poisson(np.exp(mu + tau * z[g] + X @ beta + np.log(exposure)))
    return y


def binomial_glm(X, n):
    b = ppc.Normal(np.zeros(X.shape[1]), 1.0)
    y = ppc.Binomial(n, probs=jax.nn.sigmoid(X @ b))
    return y


def ar1(T):
    rho = ppc.Uniform(-1.0, 1.0)
    sig = ppc.HalfNormal(1.0)
    eps = ppc.Normal(np.zeros(T), 1.0)
    x = np.zeros(T)
    prev = 0.0
    for t in range(T):
        prev = rho * prev + sig * eps[t]
        x = x.at[t].set(prev)
    y = ppc.Normal(x, 0.5)
    return y


def mixture(y):
    w = ppc.Dirichlet(np.ones(3))
    mu = ppc.Normal(np.zeros(3), 5.0)
    lp = np.log(w) + (-0.5 * (y[:, None] - mu) ** 2 - 0.5 * np.log(2 * np.pi))
    ppc.factor(logsumexp(lp, axis=-1))
    return w


def correlated(y):
    s = ppc.HalfNormal(np.ones(2))
    r = ppc.Uniform(-1.0, 1.0)
    L = np.zeros((2, 2))
    L = L.at[0, 0].set(s[0])
    L = L.at[1, 0].set(s[1] * r)
    L = L.at[1, 1].set(s[1] * np.sqrt(1.0 - r * r))
    obs = ppc.MultivariateNormal(np.zeros(2) * np.ones((y.shape[0], 1)), scale_tril=L)
    return obs


def zero_plate(y):
    mu = ppc.Normal(0.0, 1.0)
    z = ppc.Normal(np.zeros(0), 1.0)
    obs = ppc.Normal(mu + np.sum(z) * np.ones(y.shape[0]), 1.0)
    return obs


def only_in_if(flag):
    a = ppc.Normal(0.0, 1.0)
    b = ppc.HalfNormal(1.0)
    if flag > 0:
        r = a * 2.0
    else:
        r = b
    y = ppc.Normal(r, 1.0)
    return y


def f32_model(y):
    mu = ppc.Normal(np.float32(0.0), np.float32(1.0))
    s = ppc.HalfNormal(np.float32(1.0))
    obs = ppc.Normal(mu * np.ones(y.shape[0], np.float32), s)
    return obs


def coin(y):
    p = ppc.Beta(1.0, 1.0)
    obs = ppc.Bernoulli(probs=p * np.ones(y.shape[0]))
    return obs


def negative_binomial_glm(X):
    b0 = ppc.Normal(0.0, 2.0)
    b = ppc.Normal(np.zeros(X.shape[1]), 1.0)
    phi = ppc.Exponential(1.0)
    y = ppc.distributions.NegativeBinomial2(np.exp(b0 + X @ b), phi)
    return y


def binomial_logit_glm(X, n):
    b = ppc.Normal(np.zeros(X.shape[1]), 1.0)
    y = ppc.Binomial(n, logits=X @ b)
    return y


def keyword_scale(x, *, scale=1.0):
    mu = ppc.Normal(0.0, scale)
    y = ppc.Normal(mu * x, 1.0)
    return y


def starred_unpacking(x):
    a, *rest = x, 1.0, 2.0
    return a + rest[0]


# ----------------------------------------------------------------- densities against scipy

def test_a_zoo_of_models_matches_scipy():
    """Non-centred hierarchy, Poisson and Binomial GLMs, AR(1) by a for-loop, a mixture by
    factor and logsumexp, correlated normals through a Cholesky factor built from latents,
    a zero-size plate, a latent used only in an `if`: each log joint equals scipy's sum."""
    sigma = np.array([15.0, 10, 16, 11, 9, 11, 10, 18])
    y8 = np.array([28.0, 8, -3, 7, -1, 1, 18, 12])
    z = RNG.normal(size=8)
    got = ppc.log_joint(eight_schools)(sigma, mu=1.0, tau=2.0, z=z, y=y8)
    want = (st.norm(0, 5).logpdf(1) + st.halfcauchy(scale=5).logpdf(2) + st.norm.logpdf(z).sum()
            + st.norm(1 + 2 * z, sigma).logpdf(y8).sum())
    assert float(got) == pytest.approx(want, rel=1e-12)

    g, X, expo = RNG.integers(0, 5, 30), RNG.normal(size=(30, 2)), RNG.uniform(0.5, 2, 30)
    yp = RNG.poisson(2.0, size=30)
    zz, beta = RNG.normal(size=5), np.array([0.1, -0.2])
    got = ppc.log_joint(ppc.condition(poisson_glm, y=yp))(g, X, expo, mu=0.3, tau=0.7, z=zz, beta=beta)
    rate = np.exp(0.3 + 0.7 * zz[g] + X @ beta + np.log(expo))
    want = (st.norm(0, 2).logpdf(0.3) + st.halfnorm.logpdf(0.7) + st.norm.logpdf(zz).sum()
            + st.norm.logpdf(beta).sum() + st.poisson(rate).logpmf(yp).sum())
    assert float(got) == pytest.approx(want, rel=1e-12)

    n = RNG.integers(0, 10, size=30)
    yb = RNG.binomial(n, 0.4)
    got = ppc.log_joint(ppc.condition(binomial_glm, y=yb))(X, n, b=beta)
    want = st.norm.logpdf(beta).sum() + st.binom(n, 1 / (1 + np.exp(-(X @ beta)))).logpmf(yb).sum()
    assert float(got) == pytest.approx(want, rel=1e-12)

    eps, ya = RNG.normal(size=5), RNG.normal(size=5)
    x, prev = [], 0.0
    for e in eps:
        prev = 0.3 * prev + 0.8 * e
        x.append(prev)
    got = ppc.log_joint(ppc.compile(ar1, static_argnums=(0,)))(5, rho=0.3, sig=0.8, eps=eps, y=ya)
    want = (st.uniform(-1, 2).logpdf(0.3) + st.halfnorm.logpdf(0.8) + st.norm.logpdf(eps).sum()
            + st.norm(np.array(x), 0.5).logpdf(ya).sum())
    assert float(got) == pytest.approx(want, rel=1e-12)

    ym = np.concatenate([RNG.normal(-3, 1, 10), RNG.normal(3, 1, 10)])
    w, mu = np.array([0.2, 0.3, 0.5]), np.array([-1.0, 0.0, 2.0])
    got = ppc.log_joint(mixture)(ym, w=w, mu=mu)
    want = (st.dirichlet(np.ones(3)).logpdf(w) + st.norm(0, 5).logpdf(mu).sum()
            + np.sum(scipy.special.logsumexp(np.log(w) + st.norm.logpdf(ym[:, None] - mu), axis=-1)))
    assert float(got) == pytest.approx(want, rel=1e-12)

    yc = RNG.multivariate_normal([0, 0], [[1, 0.5], [0.5, 2]], size=10)
    s, r = np.array([1.0, 1.5]), 0.3
    L = np.array([[s[0], 0], [s[1] * r, s[1] * np.sqrt(1 - r * r)]])
    got = ppc.log_joint(ppc.condition(correlated, obs=yc))(yc, s=s, r=r)
    want = st.halfnorm.logpdf(s).sum() + np.log(0.5) + st.multivariate_normal([0, 0], L @ L.T).logpdf(yc).sum()
    assert float(got) == pytest.approx(want, rel=1e-12)

    got = ppc.log_joint(ppc.condition(zero_plate, obs=np.zeros(0)))(np.zeros(0), mu=0.1, z=np.zeros(0))
    assert float(got) == pytest.approx(st.norm.logpdf(0.1), rel=1e-12)
    assert ppc.unconstrained(ppc.condition(zero_plate, obs=np.ones(2)), np.ones(2)).size == 1

    got = ppc.log_joint(only_in_if)(1.0, a=0.3, b=0.5, y=0.2)
    want = st.norm.logpdf(0.3) + st.halfnorm.logpdf(0.5) + st.norm(0.6, 1).logpdf(0.2)
    assert float(got) == pytest.approx(want, rel=1e-12)


def test_unconstrained_gradient_of_a_correlated_model_matches_jax():
    yc = RNG.multivariate_normal([0, 0], [[1, 0.5], [0.5, 2]], size=10)
    u = ppc.unconstrained(ppc.condition(correlated, obs=yc), yc)
    theta = np.array([0.1, 0.2, 0.3])

    def reference(t):
        s, r = jnp.exp(t[:2]), -1.0 + 2.0 * jax.nn.sigmoid(t[2])
        L = jnp.array([[s[0], 0.0], [s[1] * r, s[1] * jnp.sqrt(1 - r * r)]])
        cov = L @ L.T
        return (jnp.sum(jax.scipy.stats.norm.logpdf(s) + np.log(2.0)) + jnp.sum(t[:2]) + jnp.log(0.5)
                + jnp.log(2.0) + jax.nn.log_sigmoid(t[2]) + jax.nn.log_sigmoid(-t[2])
                + jnp.sum(jax.scipy.stats.multivariate_normal.logpdf(yc, jnp.zeros(2), cov)))
    assert float(u.log_density(theta)) == pytest.approx(float(reference(theta)), rel=1e-12)
    np.testing.assert_allclose(ppc.grad(u.log_density_fn)(theta, *u.args), jax.grad(reference)(theta), rtol=1e-10)


# ----------------------------------------------------------------- bugs found

def test_theta_of_another_length_or_dtype_is_a_clear_error_not_a_silent_slice():
    """The density is built from the model alone: a theta one too long was read in part
    (its last entry ignored, without a word, and its gradient 0), one too short failed deep
    inside JAX's slice, and a float64 theta for a float32 model computed in float64 (its
    gradient failed inside JAX's pad)."""
    y = np.ones(3, np.float32)
    u = ppc.unconstrained(ppc.condition(f32_model, obs=y), y)
    f, g = u.log_density_fn, ppc.grad(u.log_density_fn)
    for bad, got in ((np.zeros(3, np.float32), "f32\\[3\\]"), (np.zeros(1, np.float32), "f32\\[1\\]"),
                     (np.zeros(2), "f64\\[2\\]")):
        for fn in (f, g):
            with pytest.raises(ppc.CompileError, match=f"takes theta as f32\\[2\\], got {got}"):
                fn(bad, *u.args)
    good = np.array([0.1, 0.2], np.float32)
    assert np.asarray(f(good, *u.args)).dtype == np.float32
    # from Python, u.log_density takes a list or a float64 vector and converts it, as log_joint does
    assert float(u.log_density([0.1, 0.2])) == pytest.approx(float(f(good, *u.args)), rel=1e-6)
    assert float(u.log_density(np.array([0.1, 0.2]))) == pytest.approx(float(f(good, *u.args)), rel=1e-6)


def test_a_batch_of_keys_for_one_draw_is_a_clear_error():
    keys = jax.random.split(jax.random.key(0), 3)
    with pytest.raises(ppc.CompileError, match="sample_eight_schools takes key as key\\[\\], got shape \\(3,\\) "
                                               "\\(for a draw per key, map with jax.vmap"):
        ppc.sample(eight_schools, keys, np.ones(8))
    draws = jax.vmap(lambda k: ppc.sample(eight_schools, k, np.ones(8)))(keys)
    assert draws["z"].shape == (3, 8) and len(set(np.asarray(draws["mu"]).tolist())) == 3


def test_bernoulli_probs_gradient_is_finite_where_the_probability_rounds_to_one():
    """np.where(x == 1, log p, log1p(-p)) discards a -inf branch at p = 1, and its gradient
    turned NaN there: expit(u) is exactly 1.0 from u = 37 in float64 (17 in float32)."""
    y = np.array([1, 1, 1])
    u = ppc.unconstrained(ppc.condition(coin, obs=y), np.zeros(3))
    # log density in u: 3 log p + log p + log(1 - p) (Beta(1, 1), then the logit Jacobian)
    for t in (40.0, 2.0, -40.0):
        p = 1 / (1 + np.exp(-t))
        want = 4 * (1 - p) - p
        np.testing.assert_allclose(ppc.grad(u.log_density_fn)(np.array([t]), *u.args), [want], rtol=1e-9)
    lj = ppc.log_joint(ppc.condition(coin, obs=np.array([1, 0, 1])))
    assert float(lj(np.zeros(3), p=0.3)) == pytest.approx(2 * np.log(0.3) + np.log(0.7), rel=1e-12)
    at_one = float(ppc.log_joint(ppc.condition(coin, obs=np.array([1, 1])))(np.zeros(2), p=1.0))
    assert at_one == pytest.approx(0.0, abs=1e-12)
    assert float(ppc.log_joint(ppc.condition(coin, obs=np.array([1, 0])))(np.zeros(2), p=1.0)) == -np.inf
    # float 0/1 data, and NumPyro's value inside
    import numpyro.distributions as dist
    lj = ppc.log_joint(ppc.condition(coin, obs=np.array([1.0, 0.0, 1.0])))
    want = dist.Bernoulli(probs=0.3).log_prob(jnp.array([1.0, 0.0, 1.0])).sum() + dist.Beta(1.0, 1.0).log_prob(0.3)
    assert float(lj(np.zeros(3), p=0.3)) == pytest.approx(float(want), rel=1e-12)


def test_a_conditioned_density_called_without_its_data_says_so():
    """Without the conditioned data (`*u.args` left out), the data's places once went to
    the model's own arguments, and the error named 'flag', which was given."""
    u = ppc.unconstrained(ppc.condition(only_in_if, y=0.2), 1.0)
    assert len(u.args) == 2
    for call in (lambda: u.log_density_fn(np.array([0.3, 0.5]), 1.0),
                 lambda: ppc.grad(u.log_density_fn)(np.array([0.3, 0.5]), 1.0)):
        with pytest.raises(ppc.CompileError, match="only_in_if_conditioned takes 2 argument\\(s\\), 'flag', the "
                                                   "data of 'y': got 1"):
            call()
    with pytest.raises(ppc.CompileError, match="takes 2 argument\\(s\\), 'flag', the data of 'y': got 1"):
        ppc.log_joint(ppc.condition(only_in_if, y=0.2))(a=0.3, b=0.5)
    np.testing.assert_allclose(ppc.grad(u.log_density_fn)(np.array([0.3, 0.5]), *u.args), [-1.1, 1 - np.e],
                               rtol=1e-12)


def test_starred_unpacking_is_refused_as_starred():
    with pytest.raises(ppc.CompileError, match="starred assignment is not supported"):
        ppc.compile(starred_unpacking)(1.0)


# ----------------------------------------------------------------- GLM likelihoods that were missing

def test_negative_binomial2_glm_matches_scipy_and_its_draws_have_its_moments():
    """NumPyro's NegativeBinomial2(mean, concentration), the overdispersed count GLM's
    likelihood, had no ppc distribution (a factor written by hand was the only way)."""
    X, y = RNG.normal(size=(30, 2)), RNG.poisson(3, size=30)
    b, phi = np.array([0.2, -0.1]), 1.7
    mu = np.exp(0.5 + X @ b)
    got = ppc.log_joint(ppc.condition(negative_binomial_glm, y=y))(X, b0=0.5, b=b, phi=phi)
    want = (st.norm(0, 2).logpdf(0.5) + st.norm.logpdf(b).sum() + st.expon.logpdf(phi)
            + st.nbinom(phi, phi / (phi + mu)).logpmf(y).sum())
    assert float(got) == pytest.approx(want, rel=1e-12)
    u = ppc.unconstrained(ppc.condition(negative_binomial_glm, y=y), X)
    theta = np.array([0.5, 0.2, -0.1, np.log(phi)])

    def reference(t):
        m, c = jnp.exp(t[0] + X @ t[1:3]), jnp.exp(t[3])
        nb = (jax.scipy.special.gammaln(y + c) - jax.scipy.special.gammaln(c) - jax.scipy.special.gammaln(y + 1.0)
              + c * jnp.log(c / (c + m)) + y * jnp.log(m / (c + m)))
        return (jax.scipy.stats.norm.logpdf(t[0], 0, 2) + jnp.sum(jax.scipy.stats.norm.logpdf(t[1:3])) - c + t[3]
                + jnp.sum(nb))
    assert float(u.log_density(theta)) == pytest.approx(float(reference(theta)), rel=1e-12)
    np.testing.assert_allclose(ppc.grad(u.log_density_fn)(theta, *u.args), jax.grad(reference)(theta), rtol=1e-9)
    # off the support: -inf, and observed data there is named
    lj = ppc.log_joint(ppc.condition(negative_binomial_glm, y=np.array([1.0, 2.5])))
    assert float(lj(X[:2], b0=0.5, b=b, phi=phi)) == -np.inf
    # draws: mean mu, variance mu + mu^2 / phi
    fixed = ppc.condition(negative_binomial_glm, b0=np.log(3.0), b=np.zeros(2), phi=2.0)
    keys = jax.random.split(jax.random.key(1), 4000)
    draws = np.asarray(jax.vmap(lambda k: ppc.sample(fixed, k, np.zeros((1, 2))))(keys)["y"])[:, 0]
    assert draws.dtype == np.int64
    assert abs(draws.mean() - 3.0) < 4 * np.sqrt(7.5 / 4000)
    assert abs(draws.var() - 7.5) < 0.15 * 7.5


def test_binomial_takes_logits_as_numpyros_does():
    """`ppc.Binomial(n, logits=eta)`, the logistic GLM for counts, was a TypeError
    (probs= only); logits far from 0 keep their exact density, where expit rounds."""
    X, n = RNG.normal(size=(30, 2)), RNG.integers(0, 10, 30)
    k = RNG.binomial(n, 0.4)
    b = np.array([0.2, -0.1])
    got = ppc.log_joint(ppc.condition(binomial_logit_glm, y=k))(X, n, b=b)
    want = st.norm.logpdf(b).sum() + st.binom(n, 1 / (1 + np.exp(-(X @ b)))).logpmf(k).sum()
    assert float(got) == pytest.approx(want, rel=1e-12)
    big = np.array([40.0, -40.0])
    got = ppc.log_joint(ppc.condition(binomial_logit_glm, y=np.array([4, 1])))(np.eye(2), np.array([5, 5]), b=big)
    want = st.norm.logpdf(big).sum() + np.log(5) - np.logaddexp(0, 40) + np.log(5) - 40 - 5 * np.logaddexp(0, -40)
    assert float(got) == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="'y' is outside the bounds of its BinomialLogits \\(x <= total_count\\)"):
        ppc.infer.nuts(ppc.condition(binomial_logit_glm, y=np.array([6, 0])), np.eye(2), np.array([5, 5]),
                       chains=1, num_warmup=1, num_samples=1, progress=False)
    fixed = ppc.condition(binomial_logit_glm, b=np.array([0.5, 0.0]))
    keys = jax.random.split(jax.random.key(2), 4000)
    draws = np.asarray(jax.vmap(lambda key: ppc.sample(fixed, key, np.eye(2), np.array([10, 10])))(keys)["y"])
    p = 1 / (1 + np.exp(-0.5))
    np.testing.assert_allclose(draws.mean(0), [10 * p, 5.0], atol=4 * np.sqrt(2.5 / 4000))
    with pytest.raises(TypeError, match="give exactly one of probs= or logits="):
        ppc.Binomial(3, probs=0.5, logits=0.0)


def test_negative_binomial2_is_exported_at_the_top_level():
    assert ppc.NegativeBinomial2 is ppc.distributions.NegativeBinomial2


def test_a_model_with_keyword_data_bound_by_partial():
    got = ppc.log_joint(functools.partial(keyword_scale, scale=3.0))(2.0, mu=0.5, y=1.0)
    assert float(got) == pytest.approx(st.norm(0, 3).logpdf(0.5) + st.norm(1.0, 1).logpdf(1.0), rel=1e-12)
