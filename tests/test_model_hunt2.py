"""A second hunt with realistic Bayesian models, each written as a user writes it in ppc
and, independently, in NumPyro: the log joint at the same constrained values, and the
unconstrained log density and its ppc.grad at the same unconstrained vector, against
NumPyro's log_density and potential_energy (NumPyro's own transforms and Jacobians); a few
short NUTS runs against analytic posteriors. The gaps found are pinned at the end."""
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from jax.scipy.special import logsumexp
from numpyro.infer.util import constrain_fn, log_density, potential_energy, unconstrain_fn

import ppc
import ppc.infer

RNG = np.random.default_rng(20261208)


def agrees_with_numpyro(model, reference, args, observed, seed=0):
    """ppc's log joint, unconstrained log density and its gradient against NumPyro's at a
    random point of the unconstrained space, laid out as ppc's flat vector (latents in the
    model's order), each site mapped to its support by NumPyro's own transform."""
    conditioned = ppc.condition(model, **observed) if observed else model
    u = ppc.unconstrained(conditioned, *args)

    def unconstrained_prototype():
        trace = numpyro.handlers.trace(numpyro.handlers.seed(reference, 0)).get_trace(*args, **observed)
        latent = {k: v["value"] for k, v in trace.items() if v["type"] == "sample" and not v["is_observed"]}
        return unconstrain_fn(reference, args, observed, latent)
    # (NumPyro's side traced and jitted: run eagerly, each of its operations compiles alone)
    shapes = {k: v.shape for k, v in jax.eval_shape(unconstrained_prototype).items()}
    assert sorted(shapes) == sorted(u.names)

    def split(t):
        out, i = {}, 0
        for name, size in zip(u.names, u.sizes):
            out[name] = t[i:i + size].reshape(shapes[name])
            i += size
        return out
    theta = np.random.default_rng(seed).uniform(-1.5, 1.5, u.size)
    values = jax.jit(lambda t: constrain_fn(reference, args, observed, split(t)))(jnp.asarray(theta))
    # the log joint at constrained values (no Jacobians)
    got = ppc.log_joint(conditioned)(*args, **values)
    want = jax.jit(lambda v: log_density(reference, args, observed, v)[0])(values)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-10)

    def reference_density(t):
        return -potential_energy(reference, args, observed, split(t))
    want, want_grad = jax.jit(jax.value_and_grad(reference_density))(jnp.asarray(theta))
    np.testing.assert_allclose(float(u.log_density(theta)), float(want), rtol=1e-10)
    np.testing.assert_allclose(ppc.grad(u.log_density_fn)(theta, *u.args), want_grad, rtol=1e-8, atol=1e-10)


# ----------------------------------------------------------------- models, each with NumPyro's twin

def poisson_offset(X, log_exposure):
    a = ppc.Normal(0.0, 1.0)
    b = ppc.Normal(np.zeros(X.shape[1]), 1.0)
    y = ppc.Poisson(np.exp(a + X @ b + log_exposure))
    return y


def poisson_offset_np(X, log_exposure, y=None):
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    b = numpyro.sample("b", dist.Normal(jnp.zeros(X.shape[1]), 1.0))
    numpyro.sample("y", dist.Poisson(jnp.exp(a + X @ b + log_exposure)), obs=y)


def negbin_offset(X, log_exposure):
    a = ppc.Normal(0.0, 1.0)
    b = ppc.Normal(np.zeros(X.shape[1]), 1.0)
    phi = ppc.Gamma(2.0, 0.1)
    y = ppc.NegativeBinomial2(np.exp(a + X @ b + log_exposure), phi)
    return y


def negbin_offset_np(X, log_exposure, y=None):
    a = numpyro.sample("a", dist.Normal(0.0, 1.0))
    b = numpyro.sample("b", dist.Normal(jnp.zeros(X.shape[1]), 1.0))
    phi = numpyro.sample("phi", dist.Gamma(2.0, 0.1))
    numpyro.sample("y", dist.NegativeBinomial2(jnp.exp(a + X @ b + log_exposure), phi), obs=y)


def ordered_logistic(x):
    """Cutpoints ordered by positive gaps; the category probabilities as differences of
    the logistic CDF, against NumPyro's OrderedLogistic."""
    beta = ppc.Normal(0.0, 2.0)
    c0 = ppc.Normal(0.0, 5.0)
    gaps = ppc.Exponential(np.ones(2))
    cut = np.concatenate([np.array([c0]), c0 + np.cumsum(gaps)])
    cdf = jax.nn.sigmoid(cut[None, :] - (x * beta)[:, None])
    upper = np.concatenate([cdf, np.ones((x.shape[0], 1))], axis=1)
    lower = np.concatenate([np.zeros((x.shape[0], 1)), cdf], axis=1)
    y = ppc.Categorical(probs=upper - lower)
    return y


def ordered_logistic_np(x, y=None):
    beta = numpyro.sample("beta", dist.Normal(0.0, 2.0))
    c0 = numpyro.sample("c0", dist.Normal(0.0, 5.0))
    gaps = numpyro.sample("gaps", dist.Exponential(jnp.ones(2)))
    cut = jnp.concatenate([jnp.array([c0]), c0 + jnp.cumsum(gaps)])
    numpyro.sample("y", dist.OrderedLogistic(x * beta, cut), obs=y)


def softmax_regression(X, K):
    W = ppc.Normal(np.zeros((X.shape[1], K - 1)), 1.0)
    logits = np.concatenate([np.zeros((X.shape[0], 1)), X @ W], axis=1)  # the first class the reference
    y = ppc.Categorical(logits=logits)
    return y


def softmax_regression_np(X, K, y=None):
    W = numpyro.sample("W", dist.Normal(jnp.zeros((X.shape[1], K - 1)), 1.0))
    logits = jnp.concatenate([jnp.zeros((X.shape[0], 1)), X @ W], axis=1)
    numpyro.sample("y", dist.Categorical(probs=jax.nn.softmax(logits, -1)), obs=y)


def radon(county, floor, J):
    """Varying intercepts and slopes, non-centred."""
    mu_a = ppc.Normal(0.0, 10.0)
    mu_b = ppc.Normal(0.0, 10.0)
    sigma_a = ppc.HalfCauchy(1.0)
    sigma_b = ppc.HalfCauchy(1.0)
    za = ppc.Normal(np.zeros(J), 1.0)
    zb = ppc.Normal(np.zeros(J), 1.0)
    a = mu_a + sigma_a * za
    b = mu_b + sigma_b * zb
    eps = ppc.Uniform(0.0, 5.0)
    y = ppc.Normal(a[county] + b[county] * floor, eps)
    return y


def radon_np(county, floor, J, y=None):
    mu_a = numpyro.sample("mu_a", dist.Normal(0.0, 10.0))
    mu_b = numpyro.sample("mu_b", dist.Normal(0.0, 10.0))
    sigma_a = numpyro.sample("sigma_a", dist.HalfCauchy(1.0))
    sigma_b = numpyro.sample("sigma_b", dist.HalfCauchy(1.0))
    za = numpyro.sample("za", dist.Normal(jnp.zeros(J), 1.0))
    zb = numpyro.sample("zb", dist.Normal(jnp.zeros(J), 1.0))
    eps = numpyro.sample("eps", dist.Uniform(0.0, 5.0))
    a, b = mu_a + sigma_a * za, mu_b + sigma_b * zb
    numpyro.sample("y", dist.Normal(a[county] + b[county] * floor, eps), obs=y)


def gaussian_mixture(y, K):
    w = ppc.Dirichlet(np.ones(K))
    mu = ppc.Normal(np.zeros(K), 10.0)
    sigma = ppc.HalfNormal(2.0 * np.ones(K))
    lp = np.log(w) - 0.5 * ((y[:, None] - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    ppc.factor(logsumexp(lp, axis=1))
    return mu


def gaussian_mixture_np(y, K):
    w = numpyro.sample("w", dist.Dirichlet(jnp.ones(K)))
    mu = numpyro.sample("mu", dist.Normal(jnp.zeros(K), 10.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0 * jnp.ones(K)))
    numpyro.sample("y", dist.MixtureSameFamily(dist.Categorical(w), dist.Normal(mu, sigma)), obs=y)


def ar2(y):
    a1 = ppc.Normal(0.0, 1.0)
    a2 = ppc.Normal(0.0, 1.0)
    c = ppc.Normal(0.0, 1.0)
    s = ppc.HalfNormal(1.0)
    mu = np.zeros(y.shape[0] - 2)
    for t in range(2, y.shape[0]):
        mu = mu.at[t - 2].set(c + a1 * y[t - 1] + a2 * y[t - 2])
    obs = ppc.Normal(mu, s)
    return obs


def ar2_np(y, obs=None):
    a1 = numpyro.sample("a1", dist.Normal(0.0, 1.0))
    a2 = numpyro.sample("a2", dist.Normal(0.0, 1.0))
    c = numpyro.sample("c", dist.Normal(0.0, 1.0))
    s = numpyro.sample("s", dist.HalfNormal(1.0))
    numpyro.sample("obs", dist.Normal(c + a1 * y[1:-1] + a2 * y[:-2], s), obs=obs)


def stochastic_volatility(r):
    """Non-centred log-volatility, AR(1) by a for loop from its stationary start."""
    phi = ppc.Beta(20.0, 1.5)
    sigma = ppc.HalfNormal(1.0)
    mu = ppc.Normal(0.0, 5.0)
    z = ppc.Normal(np.zeros(r.shape[0]), 1.0)
    prev = mu + sigma * z[0] / np.sqrt(1 - phi * phi)
    h = np.zeros(r.shape[0]).at[0].set(prev)
    for t in range(1, r.shape[0]):
        prev = mu + phi * (prev - mu) + sigma * z[t]
        h = h.at[t].set(prev)
    ret = ppc.Normal(0.0, np.exp(h / 2))
    return ret


def stochastic_volatility_np(r, ret=None):
    phi = numpyro.sample("phi", dist.Beta(20.0, 1.5))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    z = numpyro.sample("z", dist.Normal(jnp.zeros(r.shape[0]), 1.0))
    h0 = mu + sigma * z[0] / jnp.sqrt(1 - phi * phi)

    def step(prev, zt):
        h = mu + phi * (prev - mu) + sigma * zt
        return h, h
    _, rest = jax.lax.scan(step, h0, z[1:])
    numpyro.sample("ret", dist.Normal(0.0, jnp.exp(jnp.concatenate([h0[None], rest]) / 2)), obs=ret)


def change_point(t):
    tau = ppc.Uniform(0.0, 10.0)
    m = ppc.Normal(np.zeros(2), 5.0)
    s = ppc.HalfNormal(2.0)
    obs = ppc.Normal(np.where(t < tau, m[0], m[1]), s)
    return obs


def change_point_np(t, obs=None):
    tau = numpyro.sample("tau", dist.Uniform(0.0, 10.0))
    m = numpyro.sample("m", dist.Normal(jnp.zeros(2), 5.0))
    s = numpyro.sample("s", dist.HalfNormal(2.0))
    numpyro.sample("obs", dist.Normal(jnp.where(t < tau, m[0], m[1]), s), obs=obs)


def gp_cholesky(x):
    ls = ppc.LogNormal(0.0, 1.0)
    amp = ppc.HalfNormal(1.0)
    noise = ppc.HalfNormal(1.0)
    d = x[:, None] - x[None, :]
    K = amp ** 2 * np.exp(-0.5 * d ** 2 / ls ** 2) + (noise ** 2 + 1e-6) * np.eye(x.shape[0])
    y = ppc.MultivariateNormal(np.zeros(x.shape[0]), scale_tril=np.linalg.cholesky(K))
    return y


def gp_covariance(x):
    ls = ppc.LogNormal(0.0, 1.0)
    amp = ppc.HalfNormal(1.0)
    noise = ppc.HalfNormal(1.0)
    d = x[:, None] - x[None, :]
    K = amp ** 2 * np.exp(-0.5 * d ** 2 / ls ** 2) + (noise ** 2 + 1e-6) * np.eye(x.shape[0])
    y = ppc.MultivariateNormal(np.zeros(x.shape[0]), covariance_matrix=K)
    return y


def gp_slogdet(x, y):
    """The marginal likelihood by hand: solve and slogdet, added with factor."""
    ls = ppc.LogNormal(0.0, 1.0)
    amp = ppc.HalfNormal(1.0)
    noise = ppc.HalfNormal(1.0)
    d = x[:, None] - x[None, :]
    K = amp ** 2 * np.exp(-0.5 * d ** 2 / ls ** 2) + (noise ** 2 + 1e-6) * np.eye(x.shape[0])
    _, logdet = np.linalg.slogdet(K)
    ppc.factor(-0.5 * y @ np.linalg.solve(K, y) - 0.5 * logdet - 0.5 * x.shape[0] * np.log(2 * np.pi))
    return ls


def gp_np(x, y=None):
    ls = numpyro.sample("ls", dist.LogNormal(0.0, 1.0))
    amp = numpyro.sample("amp", dist.HalfNormal(1.0))
    noise = numpyro.sample("noise", dist.HalfNormal(1.0))
    d = x[:, None] - x[None, :]
    K = amp ** 2 * jnp.exp(-0.5 * d ** 2 / ls ** 2) + (noise ** 2 + 1e-6) * jnp.eye(x.shape[0])
    numpyro.sample("y", dist.MultivariateNormal(jnp.zeros(x.shape[0]), covariance_matrix=K), obs=y)


def masked_missing(x, observed):
    """Missing entries (NaN) masked out; the NaN replaced before the density (the double
    where), so the gradient stays finite, as it must in JAX too."""
    mu = ppc.Normal(0.0, 1.0)
    s = ppc.HalfNormal(1.0)
    safe = np.where(observed, x, 0.0)
    lp = -0.5 * ((safe - mu) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
    ppc.factor(np.where(observed, lp, 0.0))
    return mu


def masked_missing_np(x, observed):
    mu = numpyro.sample("mu", dist.Normal(0.0, 1.0))
    s = numpyro.sample("s", dist.HalfNormal(1.0))
    with numpyro.handlers.mask(mask=observed):
        numpyro.sample("x", dist.Normal(mu, s), obs=jnp.where(observed, x, 0.0))


def zero_inflated_poisson(y):
    pi = ppc.Beta(1.0, 1.0)
    lam = ppc.Gamma(2.0, 1.0)
    lp = y * np.log(lam) - lam - jax.scipy.special.gammaln(y + 1.0)
    ppc.factor(np.where(y == 0, np.logaddexp(np.log(pi), np.log1p(-pi) - lam), np.log1p(-pi) + lp))
    return lam


def zero_inflated_poisson_np(y):
    pi = numpyro.sample("pi", dist.Beta(1.0, 1.0))
    lam = numpyro.sample("lam", dist.Gamma(2.0, 1.0))
    numpyro.sample("y", dist.ZeroInflatedPoisson(pi, lam), obs=y)


def hierarchical_dirichlet(g, J, K):
    """Group simplexes (a (J, K) batch of Dirichlets) shrunk to a shared base simplex."""
    alpha = ppc.Gamma(2.0, 1.0)
    base = ppc.Dirichlet(np.ones(K))
    theta = ppc.Dirichlet(alpha * K * base * np.ones((J, 1)))
    y = ppc.Categorical(probs=theta[g])
    return y


def hierarchical_dirichlet_np(g, J, K, y=None):
    alpha = numpyro.sample("alpha", dist.Gamma(2.0, 1.0))
    base = numpyro.sample("base", dist.Dirichlet(jnp.ones(K)))
    theta = numpyro.sample("theta", dist.Dirichlet(alpha * K * base * jnp.ones((J, 1))))
    numpyro.sample("y", dist.Categorical(probs=theta[g]), obs=y)


def beta_binomial(n):
    a = ppc.Gamma(2.0, 0.5)
    b = ppc.Gamma(2.0, 0.5)
    p = ppc.Beta(a * np.ones(n.shape[0]), b)
    y = ppc.Binomial(n, probs=p)
    return y


def beta_binomial_np(n, y=None):
    a = numpyro.sample("a", dist.Gamma(2.0, 0.5))
    b = numpyro.sample("b", dist.Gamma(2.0, 0.5))
    p = numpyro.sample("p", dist.Beta(a * jnp.ones(n.shape[0]), b))
    numpyro.sample("y", dist.Binomial(n, probs=p), obs=y)


def robust_regression(x):
    nu = ppc.Gamma(2.0, 0.1)
    s = ppc.HalfCauchy(2.0)
    b = ppc.Cauchy(0.0, 2.5)
    y = ppc.StudentT(nu, b * x, s)
    return y


def robust_regression_np(x, y=None):
    nu = numpyro.sample("nu", dist.Gamma(2.0, 0.1))
    s = numpyro.sample("s", dist.HalfCauchy(2.0))
    b = numpyro.sample("b", dist.Cauchy(0.0, 2.5))
    numpyro.sample("y", dist.StudentT(nu, b * x, s), obs=y)


def bounds_from_latents(y):
    lo = ppc.Normal(0.0, 1.0)
    w = ppc.HalfNormal(1.0)
    c = ppc.Uniform(lo, lo + w)
    obs = ppc.Normal(c * np.ones(y.shape[0]), 1.0)
    return obs


def bounds_from_latents_np(y, obs=None):
    lo = numpyro.sample("lo", dist.Normal(0.0, 1.0))
    w = numpyro.sample("w", dist.HalfNormal(1.0))
    c = numpyro.sample("c", dist.Uniform(lo, lo + w))
    numpyro.sample("obs", dist.Normal(c, 1.0), obs=obs)


X = RNG.normal(size=(20, 3))
LOG_EXPOSURE = np.log(RNG.uniform(1, 3, 20))
COUNTS = RNG.poisson(2.0, 20)
X_ORD = RNG.normal(size=15)
Y_ORD = RNG.integers(0, 4, 15)
COUNTY, FLOOR = RNG.integers(0, 6, 40), RNG.integers(0, 2, 40).astype(float)
Y_RADON = RNG.normal(size=40)
Y_AR = RNG.normal(size=12)
RETURNS = 0.1 * RNG.normal(size=10)
T_CP = np.linspace(0, 10, 20)
Y_CP = np.where(T_CP < 4, 1.0, 3.0) + 0.3 * RNG.normal(size=20)
X_GP = np.linspace(0, 5, 8)
X_MISS = RNG.normal(size=10)
OBSERVED = RNG.uniform(size=10) < 0.6
X_MISS[~OBSERVED] = np.nan
N_BB = RNG.integers(5, 20, 6)
X_T = RNG.normal(size=8)

CASES = [
    ("poisson_offset", poisson_offset, poisson_offset_np, (X, LOG_EXPOSURE), {"y": COUNTS}),
    ("negbin_offset", negbin_offset, negbin_offset_np, (X, LOG_EXPOSURE), {"y": COUNTS}),
    ("ordered_logistic", ordered_logistic, ordered_logistic_np, (X_ORD,), {"y": Y_ORD}),
    ("softmax_regression", ppc.compile(softmax_regression, static_argnums=(1,)), softmax_regression_np, (X, 3),
     {"y": RNG.integers(0, 3, 20)}),
    ("radon", ppc.compile(radon, static_argnums=(2,)), radon_np, (COUNTY, FLOOR, 6), {"y": Y_RADON}),
    ("gaussian_mixture", ppc.compile(gaussian_mixture, static_argnums=(1,)), gaussian_mixture_np,
     (3 * RNG.normal(size=25), 3), {}),
    ("ar2", ar2, ar2_np, (Y_AR,), {"obs": Y_AR[2:]}),
    ("stochastic_volatility", stochastic_volatility, stochastic_volatility_np, (RETURNS,), {"ret": RETURNS}),
    ("change_point", change_point, change_point_np, (T_CP,), {"obs": Y_CP}),
    ("gp_cholesky", gp_cholesky, gp_np, (X_GP,), {"y": np.sin(X_GP)}),
    ("gp_covariance", gp_covariance, gp_np, (X_GP,), {"y": np.sin(X_GP)}),
    ("masked_missing", masked_missing, masked_missing_np, (X_MISS, OBSERVED), {}),
    ("zero_inflated_poisson", zero_inflated_poisson, zero_inflated_poisson_np,
     (np.array([0, 0, 3, 1, 0, 2, 5, 0.0]),), {}),
    ("hierarchical_dirichlet", ppc.compile(hierarchical_dirichlet, static_argnums=(1, 2)), hierarchical_dirichlet_np,
     (RNG.integers(0, 3, 25), 3, 4), {"y": RNG.integers(0, 4, 25)}),
    ("beta_binomial", beta_binomial, beta_binomial_np, (N_BB,), {"y": RNG.binomial(N_BB, 0.3)}),
    ("robust_regression", robust_regression, robust_regression_np, (X_T,), {"y": 2 * X_T + RNG.standard_t(3, 8)}),
    ("bounds_from_latents", bounds_from_latents, bounds_from_latents_np, (np.ones(3),), {"obs": np.ones(3)}),
]


@pytest.mark.parametrize("name,model,reference,args,observed", CASES, ids=[c[0] for c in CASES])
def test_model_matches_numpyro(name, model, reference, args, observed):
    agrees_with_numpyro(model, reference, args, observed)


def test_gp_by_slogdet_and_solve_matches_numpyro():
    """The GP's marginal likelihood written by hand (solve, slogdet) through factor; the
    data enters as a model argument here, as NumPyro's observation."""
    y = np.sin(X_GP)
    u = ppc.unconstrained(gp_slogdet, X_GP, y)
    assert u.names == ["ls", "amp", "noise"]
    t = np.array([-0.2, 0.3, -0.8])

    def reference(t):
        return -potential_energy(gp_np, (X_GP,), {"y": y}, {"ls": t[0], "amp": t[1], "noise": t[2]})
    want, want_grad = jax.jit(jax.value_and_grad(reference))(jnp.asarray(t))
    np.testing.assert_allclose(float(u.log_density(t)), float(want), rtol=1e-10)
    np.testing.assert_allclose(ppc.grad(u.log_density_fn)(t, *u.args), want_grad, rtol=1e-8)


# ----------------------------------------------------------------- short NUTS runs against exact posteriors

def gamma_poisson(exposure):
    lam = ppc.Gamma(2.0, 1.0)
    y = ppc.Poisson(lam * exposure)
    return y


def dirichlet_categorical(n):
    p = ppc.Dirichlet(np.array([1.0, 2.0, 3.0]))
    y = ppc.Categorical(probs=p * np.ones((n.shape[0], 1)))
    return y


def test_nuts_on_conjugate_models_matches_the_exact_posterior():
    """A Poisson rate with exposures (Gamma posterior) and a simplex seen through
    categorical draws (Dirichlet posterior): posterior means within Monte Carlo error."""
    import arviz as az
    rng = np.random.default_rng(5)
    exposure = rng.uniform(0.5, 2, 15)
    y = rng.poisson(1.5 * exposure)
    idata = ppc.infer.nuts(ppc.condition(gamma_poisson, y=y), exposure, chains=4, num_warmup=300, num_samples=500,
                           progress=False, diagnose=False)
    a, b = 2 + y.sum(), 1 + exposure.sum()
    s = az.summary(idata, var_names=["lam"])
    assert abs(s["mean"].iloc[0] - a / b) < 4 * s["mcse_mean"].iloc[0] + 1e-3
    assert abs(s["sd"].iloc[0] - np.sqrt(a) / b) < 0.1 * np.sqrt(a) / b

    k = rng.integers(0, 3, 20)
    idata = ppc.infer.nuts(ppc.condition(dirichlet_categorical, y=k), np.zeros(20), chains=4, num_warmup=300,
                           num_samples=500, progress=False, diagnose=False)
    alpha = np.array([1.0, 2.0, 3.0]) + np.bincount(k, minlength=3)
    s = az.summary(idata, var_names=["p"])
    np.testing.assert_array_less(np.abs(s["mean"].values - alpha / alpha.sum()), 4 * s["mcse_mean"].values + 1e-3)
    assert float(az.rhat(idata)["p"].max()) < 1.02


# ----------------------------------------------------------------- gaps found

def mvn_covariance(y, C):
    mu = ppc.Normal(np.zeros(2), 1.0)
    obs = ppc.MultivariateNormal(mu, covariance_matrix=C)
    return obs


def mvn_covariance_np(y, C, obs=None):
    mu = numpyro.sample("mu", dist.Normal(jnp.zeros(2), 1.0))
    numpyro.sample("obs", dist.MultivariateNormal(mu, covariance_matrix=C), obs=obs)


def test_multivariate_normal_takes_numpyros_covariance_matrix():
    """`ppc.MultivariateNormal(loc, covariance_matrix=K)`, how NumPyro's GP and correlated
    models are written, was a TypeError (scale_tril only): the Cholesky factor had to be
    taken by hand. One matrix for the batch or a batch of them, as scale_tril."""
    C = np.array([[[1.0, 0.3], [0.3, 2.0]], [[2.0, -0.5], [-0.5, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    Y = RNG.normal(size=(3, 2))
    agrees_with_numpyro(mvn_covariance, mvn_covariance_np, (Y, C), {"obs": Y})
    got = ppc.log_joint(ppc.condition(mvn_covariance, obs=Y[0]))(Y[0], C[0], mu=np.array([0.2, -0.3]))
    want, _ = log_density(mvn_covariance_np, (Y[0], C[0]), {"obs": Y[0]}, {"mu": jnp.array([0.2, -0.3])})
    np.testing.assert_allclose(float(got), float(want), rtol=1e-12)
    # draws: covariance C + I (the prior on mu adds the identity)
    keys = jax.random.split(jax.random.key(3), 4000)
    draws = np.asarray(jax.vmap(lambda key: ppc.sample(mvn_covariance, key, Y[0], C[0]))(keys)["obs"])
    np.testing.assert_allclose(np.cov(draws.T), C[0] + np.eye(2), atol=0.15)
    np.testing.assert_allclose(draws.mean(0), [0.0, 0.0], atol=4 * np.sqrt(3.0 / 4000))
    # run eagerly, one draw
    assert np.shape(ppc.MultivariateNormal(np.zeros(2), covariance_matrix=C)) == (3, 2)
    for call, message in ((lambda: ppc.MultivariateNormal(np.zeros(2)), "scale_tril= .* is required"),
                          (lambda: ppc.MultivariateNormal(np.zeros(2), np.eye(2), covariance_matrix=np.eye(2)),
                           "give exactly one of scale_tril= .* or covariance_matrix="),
                          (lambda: ppc.MultivariateNormal(np.zeros(3), covariance_matrix=np.eye(2)),
                           "loc has 3 coordinates, but covariance_matrix is 2 x 2")):
        with pytest.raises(TypeError, match="bad call to ppc.MultivariateNormal: " + message):
            call()


def scalar_likelihood(y):
    mu = ppc.Normal(0.0, 1.0)
    s = ppc.Exponential(1.0)
    obs = ppc.LogNormal(mu, s)
    return obs


def test_vector_data_for_a_scalar_variable_hints_at_broadcasting():
    """NumPyro broadcasts a scalar-parameter likelihood over a vector of data; in ppc the
    variable's shape is its parameters', and the error said only that the shapes differ."""
    with pytest.raises(ppc.CompileError, match=r"(?s)the data for 'obs' has shape \(5,\), but the random variable "
                                               r"has shape \(\).*hint: .*broadcast a parameter to the data's shape "
                                               r"\(e.g. loc \* np.ones\(5\)\)"):
        ppc.log_joint(ppc.condition(scalar_likelihood, obs=np.ones(5)))(np.ones(5), mu=0.0, s=1.0)
    with pytest.raises(ppc.CompileError, match=r"np.ones\(\(5, 2\)\)"):
        ppc.log_joint(ppc.condition(scalar_likelihood, obs=np.ones((5, 2))))(np.ones(5), mu=0.0, s=1.0)


# ----------------------------------------------------------------- distributions that were missing

def bayesian_lasso(X):
    """Laplace priors on the coefficients, an InverseGamma prior on the noise variance."""
    lam = ppc.Gamma(2.0, 1.0)
    b = ppc.Laplace(np.zeros(X.shape[1]), 1.0 / lam)
    var = ppc.InverseGamma(3.0, 2.0)
    y = ppc.Normal(X @ b, np.sqrt(var))
    return y


def bayesian_lasso_np(X, y=None):
    lam = numpyro.sample("lam", dist.Gamma(2.0, 1.0))
    b = numpyro.sample("b", dist.Laplace(jnp.zeros(X.shape[1]), 1.0 / lam))
    var = numpyro.sample("var", dist.InverseGamma(3.0, 2.0))
    numpyro.sample("y", dist.Normal(X @ b, jnp.sqrt(var)), obs=y)


def laplace_and_inverse_gamma(n):
    a = ppc.Laplace(1.5 * np.ones(n.shape[0]), 2.0)
    v = ppc.InverseGamma(3.0 * np.ones(n.shape[0]), 2.0)
    return a + v


def test_laplace_and_inverse_gamma_match_scipy_and_numpyro_and_draw_from_their_laws():
    """Laplace (the Bayesian lasso's prior, robust errors) and InverseGamma (the conjugate
    variance prior) had no ppc distribution."""
    import scipy.stats as st
    x = np.array([-3.0, 0.0, 0.7, 2.5])
    v = np.array([-1.0, 0.0, 0.3, 4.0])  # (off the support, its edge, inside)
    lj = ppc.log_joint(laplace_and_inverse_gamma)
    got = lj(np.zeros(4), a=x, v=np.array([0.5, 1.0, 0.3, 4.0]))
    want = st.laplace(1.5, 2.0).logpdf(x).sum() + st.invgamma(3.0, scale=2.0).logpdf([0.5, 1.0, 0.3, 4.0]).sum()
    assert float(got) == pytest.approx(want, rel=1e-12)
    assert float(lj(np.zeros(4), a=x, v=v)) == -np.inf  # (scipy: -inf at 0 and below)
    agrees_with_numpyro(bayesian_lasso, bayesian_lasso_np, (X,), {"y": Y_RADON[:20]})
    keys = jax.random.split(jax.random.key(4), 2000)
    draws = jax.vmap(lambda key: ppc.sample(laplace_and_inverse_gamma, key, np.zeros(2)))(keys)
    a, v = np.asarray(draws["a"]).ravel(), np.asarray(draws["v"]).ravel()
    assert st.kstest(a, st.laplace(1.5, 2.0).cdf).pvalue > 1e-3
    assert st.kstest(v, st.invgamma(3.0, scale=2.0).cdf).pvalue > 1e-3
    # float32 parameters draw float32; a tiny concentration's draws are huge (1% of them
    # beyond float32's range, so inf), never NaN or 0
    def tiny(n):
        v = ppc.InverseGamma(np.full(n.shape[0], 0.05, np.float32), np.float32(1.0))
        return v
    small = np.asarray(ppc.sample(tiny, jax.random.key(5), np.zeros(200))["v"])
    assert small.dtype == np.float32 and not np.any(np.isnan(small)) and np.all(small > 0)
    assert ppc.Laplace is ppc.distributions.Laplace and np.shape(ppc.InverseGamma(np.ones(3))) == (3,)
