"""Today's features combined with the rest (scatter updates, closures given to ppc.grad,
while loops in sampled models, tuple arguments of batched functions), each once a crash
or a wrong answer. References: closed forms, NumPy and JAX."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppc
import ppc.infer
from test_loop_models import halvings

rng = np.random.default_rng(11)
X = rng.normal(size=(5, 3))
Y0 = rng.normal(size=5)
Y = rng.normal(size=5)


def regression(data):
    x, y0 = data  # the data arrive as one tuple argument
    w = ppc.Normal(np.zeros(3), 1.0, name="w")
    return ppc.Normal(x @ w + y0, 1.0, name="y")


def exact_posterior_mean():
    return np.linalg.solve(X.T @ X + np.eye(3), X.T @ (Y - Y0))


@pytest.mark.parametrize("sampler", ["nuts", "hmc", "advi"])
def test_samplers_take_tuple_data(sampler):
    # (NUTS and HMC made the chains' shared data with np.asarray(a)[None] of each
    # argument, ADVI with np.asarray(a): a tuple of arrays of different shapes failed
    # in NumPy, "setting an array element with a sequence")
    model = ppc.condition(regression, y=Y)
    if sampler == "advi":
        idata = ppc.infer.advi(model, (X, Y0), num_steps=500, progress=False)
    else:
        idata = getattr(ppc.infer, sampler)(model, (X, Y0), chains=2, num_warmup=100, num_samples=100,
                                            progress=False, diagnose=False)
    mean = idata.posterior["w"].values.reshape(-1, 3).mean(0)
    np.testing.assert_allclose(mean, exact_posterior_mean(), atol=0.2)  # (posterior sd ~0.35, 200+ draws)


def _tuple_loss(p):
    return jnp.sum(p[0] * p[1] ** 2)


def test_grad_with_respect_to_a_tuple_inside_compiled_code():
    # (crashed: the tuple-typed gradient was one value the frontend could not index)
    w, x = np.arange(3.0), np.full(3, 2.0)
    got = ppc.compile(lambda w, x: ppc.grad(_tuple_loss)((w, x)))(w, x)
    want = jax.grad(_tuple_loss)((w, x))
    np.testing.assert_allclose(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1])
    summed = ppc.compile(lambda w, x: ppc.grad(_tuple_loss)((w, x))[0] + ppc.grad(_tuple_loss)((w, x))[1])(w, x)
    np.testing.assert_allclose(summed, want[0] + want[1])


def test_autobatch_of_a_loop_gradient_and_of_the_flagged_gradient():
    # (once refused, pointing to value_and_grad_with_overflow; tests/test_loop_flags.py)
    np.testing.assert_allclose(ppc.autobatch(ppc.grad(halvings))(np.array([3.0, 9.0])), [0.25, 0.0625])
    (value, grad), overflow = ppc.autobatch(ppc.ad.value_and_grad_with_overflow(halvings))(np.array([3.0, 9.0]))
    np.testing.assert_allclose(value, [0.75, 0.5625])
    np.testing.assert_allclose(grad, [0.25, 0.0625])
    assert not np.asarray(overflow).any()
