"""Models whose density recurses: the samplers differentiate through the recursion
(reverse mode, ppc/passes/ad/recursion.py), and NUTS runs it on its own recursive machine.
Checked against the exact posterior of a conjugate model."""
import numpy as np
import pytest

import ppc


def horner(c, x, k):
    """sum_{i<k} c[i] x^i, written recursively."""
    if k == 0:
        return 0.0 * x
    return c[k - 1] * x ** (k - 1) + horner(c, x, k - 1)


def polynomial(x):
    c = ppc.Normal(np.zeros(3), 1.0)
    ppc.Normal(horner(c, x, 3), 0.5, name="y")
    return c


X = np.linspace(-1, 1, 20)
Y = 0.5 - X + 0.8 * X ** 2 + 0.5 * np.random.default_rng(0).normal(size=20)


def exact_posterior():
    a = np.stack([np.ones_like(X), X, X ** 2], 1)
    cov = np.linalg.inv(a.T @ a / 0.25 + np.eye(3))
    return cov @ (a.T @ Y / 0.25), np.sqrt(np.diag(cov))


@pytest.mark.parametrize("sampler", ["nuts", "hmc"])
def test_sampling_a_density_that_recurses(sampler):
    model = ppc.condition(polynomial, y=Y)
    run = getattr(ppc.infer, sampler)
    idata = run(model, X, chains=4, num_warmup=300, num_samples=300, progress=False, diagnose=False)
    mean, sd = exact_posterior()
    draws = idata.posterior["c"].values.reshape(-1, 3)
    # Monte Carlo error of the mean with at least ~300 effective draws of 1,200: sd / sqrt(300)
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 4 * sd / np.sqrt(300))
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.2)


def test_its_gradient_matches_the_unrolled_density():
    u = ppc.unconstrained(ppc.condition(polynomial, y=Y), X)
    theta = np.array([0.3, -0.2, 0.9])
    got = ppc.grad(u.log_density_fn)(theta, *u.args)
    a = np.stack([np.ones_like(X), X, X ** 2], 1)
    want = a.T @ (Y - a @ theta) / 0.25 - theta
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10)
