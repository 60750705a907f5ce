"""The example models themselves against the same models written in NumPyro: log joint
and its gradient (jax.grad of NumPyro's log density), at random points."""
import pathlib
import runpy

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer.util import log_density

import ppc

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"
rng = np.random.default_rng(11)


def load(name):
    return runpy.run_path(str(EXAMPLES / f"{name}.py"))


def eight_schools_numpyro(sigma, y=None):
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    theta_tilde = numpyro.sample("theta_tilde", dist.Normal(jnp.zeros(8), 1.0))
    numpyro.sample("y", dist.Normal(mu + tau * theta_tilde, sigma), obs=y)


def breast_cancer_numpyro(X, y=None):
    w = numpyro.sample("w", dist.Normal(jnp.zeros(X.shape[1]), 1.0))
    b = numpyro.sample("b", dist.Normal(0.0, 5.0))
    numpyro.sample("y", dist.Bernoulli(logits=X @ w + b), obs=y)


def districts_numpyro(onehot, choice=None):
    population = numpyro.sample("population", dist.Dirichlet(jnp.ones(3)))
    concentration = numpyro.sample("concentration", dist.Gamma(2.0, 0.1))
    shares = numpyro.sample("shares", dist.Dirichlet(concentration * population * jnp.ones((onehot.shape[1], 3))))
    numpyro.sample("choice", dist.Categorical(probs=onehot @ shares), obs=choice)


def simplex(*shape):
    x = rng.uniform(0.1, 1.0, size=shape)
    return x / x.sum(-1, keepdims=True)


def cases():
    es = load("eight_schools")
    bc = load("breast_cancer")
    hr = load("hierarchical_rates")
    X, y = bc["load"]()
    onehot, truth = hr["make_data"]()
    return [
        ("eight_schools", es["eight_schools"], eight_schools_numpyro, (es["SIGMA"],), {"y": es["Y"]},
         {"mu": 1.1, "tau": 2.3, "theta_tilde": rng.normal(size=8)}),
        ("breast_cancer", bc["logistic_regression"], breast_cancer_numpyro, (X,), {"y": y},
         {"w": rng.normal(size=30) * 0.3, "b": 0.4}),
        ("districts", hr["districts_model"], districts_numpyro, (onehot,), {"choice": truth["choice"]},
         {"population": simplex(3), "concentration": 7.5, "shares": simplex(6, 3)}),
    ]


CASES = cases()


@pytest.mark.parametrize("name,model,reference,args,observed,latent", CASES, ids=[c[0] for c in CASES])
def test_example_log_joint_and_gradient(name, model, reference, args, observed, latent):
    lj = ppc.log_joint(ppc.condition(model, **observed))
    got = lj(*args, **latent)
    want, _ = log_density(reference, args, observed, latent)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # gradient: NumPyro's through jax.grad, ppc's through ppc.grad of the unconstrained density
    # mapped back (d/d value of the log joint equals, for real-valued latents, jax.grad's)
    names = [n for n in latent if np.ndim(latent[n]) >= 0]
    ref = jax.grad(lambda v: log_density(reference, args, observed, v)[0])(
        {n: jnp.asarray(latent[n], dtype=jnp.float64) for n in names})
    eps = 1e-6
    for n in names:
        v = np.asarray(latent[n], dtype=float)
        fd = np.zeros_like(v)
        for j in range(min(v.size, 6)):
            e = np.zeros_like(v)
            e.flat[j] = eps
            up = dict(latent, **{n: v + e})
            down = dict(latent, **{n: v - e})
            fd.flat[j] = (lj(*args, **up) - lj(*args, **down)) / (2 * eps)
        np.testing.assert_allclose(fd.flat[:6], np.asarray(ref[n]).flat[:6], rtol=1e-5, atol=1e-6)
