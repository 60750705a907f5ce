"""More of jax.nn in compiled code (ppc/frontend/nn.py): values and derivatives equal
jax.nn's on generated inputs (kinks included: the formulas are JAX's), on both backends."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from jax import nn

import ppc


def acts(x):
    return (nn.elu(x), nn.celu(x, 0.5), nn.selu(x), nn.gelu(x), nn.gelu(x, approximate=False), nn.leaky_relu(x, 0.2),
            nn.relu6(x), nn.silu(x), nn.swish(x), nn.mish(x), nn.soft_sign(x), nn.hard_tanh(x), nn.hard_sigmoid(x),
            nn.hard_silu(x), nn.hard_swish(x), nn.squareplus(x), nn.sparse_plus(x), nn.sparse_sigmoid(x),
            nn.log1mexp(jnp.abs(x) + 0.1), nn.logmeanexp(x), nn.logmeanexp(x, axis=1, keepdims=True), nn.glu(x),
            nn.standardize(x), nn.one_hot(jnp.array([0, 2, 1]), 4), nn.one_hot(jnp.array([3, 0]), 4, axis=0),
            nn.identity(x))


def total(x):
    return sum(jnp.sum(v * (i + 1)) for i, v in enumerate(acts(x)))


COMPILED = {b: ppc.compile(acts, backend=b) for b in ("jax", "tf")}
GRAD = ppc.grad(total)
KINKS = np.array([[-6.0, -3.0, -1.0, -0.0], [0.0, 1.0, 3.0, 6.0], [-2.5, 0.3, 2.0, 7.0]])


def _check(got, want, rtol=1e-12):
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-13)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_values_at_the_kinks_and_around(backend):
    _check(COMPILED[backend](KINKS), acts(KINKS), rtol=1e-12 if backend == "jax" else 1e-10)


def test_derivatives_at_the_kinks_equal_jaxs():
    np.testing.assert_allclose(GRAD(KINKS), jax.grad(total)(KINKS), rtol=1e-12, atol=1e-13)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays(np.float64, (3, 4), elements=st.floats(-8, 8, allow_subnormal=False)))  # (XLA on CPU flushes
# subnormals to 0 in compiled code: x = 5e-324 is "not > 0" there, and JAX's op-by-op grad disagrees)
def test_generated_inputs(x):
    _check(COMPILED["jax"](x), acts(x))
    np.testing.assert_allclose(GRAD(x), jax.grad(total)(x), rtol=1e-10, atol=1e-12)


def test_float32_stays_float32():
    x = KINKS.astype(np.float32)
    for g, w in zip(ppc.compile(acts)(x), acts(x)):
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-6, atol=1e-6)
