"""Models written for ppc and, beside them, the same models in NumPyro (the reference)."""
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

import ppc


def eight_schools(sigma):
    mu = ppc.Normal(0.0, 5.0)
    tau = ppc.HalfCauchy(5.0)
    theta_tilde = ppc.Normal(np.zeros(8), 1.0)
    theta = mu + tau * theta_tilde
    y = ppc.Normal(theta, sigma)
    return y


def eight_schools_numpyro(sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    theta_tilde = numpyro.sample("theta_tilde", dist.Normal(jnp.zeros(8), 1.0))
    numpyro.sample("y", dist.Normal(mu + tau * theta_tilde, sigma), obs=y)


def logistic(X):
    w = ppc.Normal(np.zeros(X.shape[1]), 1.0)
    b = ppc.Normal(0.0, 10.0)
    y = ppc.Bernoulli(logits=X @ w + b)
    return y


def logistic_in_dtype_of_x(X):
    """Logistic regression without intercept whose weights take X's dtype (float32 X: a
    float32 model)."""
    w = ppc.Normal(np.zeros(X.shape[1], X.dtype), 1.0)
    y = ppc.Bernoulli(logits=X @ w)
    return y


def logistic_numpyro(X, y=None):
    w = numpyro.sample("w", dist.Normal(jnp.zeros(X.shape[1]), 1.0))
    b = numpyro.sample("b", dist.Normal(0.0, 10.0))
    numpyro.sample("y", dist.Bernoulli(logits=X @ w + b), obs=y)


def hierarchical(group, counts_total):
    """Positive and simplex parameters: mixture weights over three rates per group."""
    weights = ppc.Dirichlet(np.ones(3))
    scale = ppc.Gamma(2.0, 1.0)
    rates = ppc.LogNormal(np.zeros(3), scale)
    rate = np.sum(weights * rates) * np.ones(group.shape[0])
    counts = ppc.Poisson(rate * counts_total)
    return counts


def hierarchical_numpyro(group, counts_total, counts=None):
    weights = numpyro.sample("weights", dist.Dirichlet(jnp.ones(3)))
    scale = numpyro.sample("scale", dist.Gamma(2.0, 1.0))
    rates = numpyro.sample("rates", dist.LogNormal(jnp.zeros(3), scale))
    rate = jnp.sum(weights * rates) * jnp.ones(group.shape[0])
    numpyro.sample("counts", dist.Poisson(rate * counts_total), obs=counts)


def conjugate_normal(ones):
    mu = ppc.Normal(0.0, 2.0)
    y = ppc.Normal(mu * ones, 1.0)
    return y


def _normal_lpdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)


def mixture(y, ones):
    """Semi-supervised two-component mixture: unlabelled points `y` marginalized over the
    component by hand (a ppc.factor term), `labelled` points known to be in the first."""
    w = ppc.Beta(2.0, 2.0)
    mu = ppc.Normal(np.array([-1.0, 1.0]), 5.0)
    sigma = ppc.HalfNormal(2.0)
    near_first = np.log(w) + _normal_lpdf(y, mu[0], sigma)
    near_second = np.log1p(-w) + _normal_lpdf(y, mu[1], sigma)
    ppc.factor(np.logaddexp(near_first, near_second), name="unlabelled")
    labelled = ppc.Normal(mu[0] * ones, sigma)
    return labelled


def mixture_numpyro(y, ones, labelled=None):
    w = numpyro.sample("w", dist.Beta(2.0, 2.0))
    mu = numpyro.sample("mu", dist.Normal(jnp.array([-1.0, 1.0]), 5.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0))
    mixing = dist.MixtureSameFamily(dist.Categorical(probs=jnp.stack([w, 1.0 - w])), dist.Normal(mu, sigma))
    numpyro.factor("unlabelled", mixing.log_prob(y).sum())
    numpyro.sample("labelled", dist.Normal(mu[0] * ones, sigma), obs=labelled)


def mixture_without_factor(y, ones):
    w = ppc.Beta(2.0, 2.0)
    mu = ppc.Normal(np.array([-1.0, 1.0]), 5.0)
    sigma = ppc.HalfNormal(2.0)
    labelled = ppc.Normal(mu[0] * ones, sigma)
    return labelled
