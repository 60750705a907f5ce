"""Functions defined inside compiled code that read its traced values: ppc.grad (and
value_and_grad, hessian) of them, by closure conversion, and passing them to module-level
functions. References: jax.grad/hessian of the same source, finite differences, and
per-member loops for batching."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ppc
from ppc.ir import CompileError

W = np.linspace(0.1, 1.0, 3)
X = np.arange(3.0)


def loss(v, x):
    return jnp.sum(jnp.sin(v * x) ** 2)


def grad_over(w, x):
    return ppc.grad(lambda v: loss(v, x))(w)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_grad_of_a_lambda_over_traced_values(backend):
    got = ppc.compile(grad_over, backend=backend)(W, X)
    np.testing.assert_allclose(got, jax.grad(loss)(W, X), rtol=1e-12)


def value_grad_hessian(w, x):
    y = x * 2.0

    def f(v, s=1.0):
        return jnp.sum(jnp.sin(v * y) ** 2) * s
    value, g = ppc.value_and_grad(f)(w)
    return value, g, ppc.hessian(lambda v: loss(v, y))(w)


def test_value_and_grad_and_hessian_of_nested_functions():
    value, g, h = ppc.compile(value_grad_hessian)(W, X)
    want_v, want_g = jax.value_and_grad(loss)(W, 2 * X)
    np.testing.assert_allclose(value, want_v, rtol=1e-12)
    np.testing.assert_allclose(g, want_g, rtol=1e-12)
    np.testing.assert_allclose(h, jax.hessian(loss)(W, 2 * X), rtol=1e-12, atol=1e-12)


def rebinds(w, x):
    g = ppc.grad(lambda v: loss(v, x))
    before = g(w)
    x = x + 1.0
    return before, g(w)


def test_a_closure_reads_its_values_when_called_as_python_does():
    before, after = ppc.compile(rebinds)(W, X)
    np.testing.assert_allclose(before, jax.grad(loss)(W, X), rtol=1e-12)
    np.testing.assert_allclose(after, jax.grad(loss)(W, X + 1.0), rtol=1e-12)


def nested(w, x):
    return ppc.grad(lambda v: jnp.sum(ppc.grad(lambda u: loss(u, v * x))(w)))(w)


def test_grad_of_a_closure_that_takes_grad_of_a_closure():
    want = jax.grad(lambda v: jnp.sum(jax.grad(lambda u: loss(u, v * X))(W)))(W)
    np.testing.assert_allclose(ppc.compile(nested)(W, X), want, rtol=1e-12)


def outer_sum(x, w):
    return jnp.sum(ppc.grad(lambda v: loss(v, x))(w))


def test_a_derivative_flows_through_the_captured_values():
    want = jax.grad(lambda x, w: jnp.sum(jax.grad(lambda v: loss(v, x))(w)))(X, W)
    got = ppc.grad(outer_sum)(X, W)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    eps, e = 1e-6, np.eye(3)
    fd = [(outer_sum(X + eps * e[i], W) - outer_sum(X - eps * e[i], W)) / (2 * eps) for i in range(3)]
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


def in_a_loop(w, x, n):
    acc = w * 0.0
    i = 0
    while i < n:
        acc = acc + ppc.grad(lambda v: loss(v, x * i))(w)
        i += 1
    return acc


def test_a_closure_over_a_loop_variable():
    want = sum(jax.grad(loss)(W, X * i) for i in range(4))
    np.testing.assert_allclose(ppc.compile(in_a_loop)(W, X, 4), want, rtol=1e-12)


@pytest.mark.parametrize("strategy", ["local_static", "program_counter"])
def test_batched_grad_of_a_closure_equals_a_loop_over_members(strategy):
    ws = np.stack([W, 2 * W, -W])
    xs = np.stack([X, X + 1.0, 0.5 * X])
    got = ppc.autobatch(grad_over, strategy=strategy)(ws, xs)
    for k in range(3):
        np.testing.assert_allclose(got[k], jax.grad(loss)(ws[k], xs[k]), rtol=1e-12)


def twice(f, w):
    return f(w) * 2.0


def passes_closures(w, x):
    return twice(lambda v: jnp.sum(v * x), w), twice(ppc.grad(lambda v: loss(v, x)), w)


def test_module_level_functions_take_closures_over_traced_values():
    # (this crashed in the backend: the callee's IR read the caller's values)
    plain, grads = ppc.compile(passes_closures)(W, X)
    np.testing.assert_allclose(plain, 2 * np.sum(W * X), rtol=1e-12)
    np.testing.assert_allclose(grads, 2 * jax.grad(loss)(W, X), rtol=1e-12)


def scaled(v, s):
    return jnp.sum(jnp.sin(v) ** 2) * s


def pair_scaled(v, t):
    return jnp.sum(jnp.sin(v) ** 2) * t[0] + t[1]


def numbers_as_arguments(w):
    return (ppc.grad(scaled)(w, 2.0), ppc.grad(pair_scaled)(w, (2.0, 1)),
            ppc.grad(lambda v, s: scaled(v, 1.0) * s)(w, s=2.0))


def test_python_numbers_and_keywords_reach_derived_functions():
    # (a Python number passed to ppc.grad(f) inside compiled code crashed in the backend)
    want = jax.grad(scaled)(W, 2.0)
    for got in ppc.compile(numbers_as_arguments)(W):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def batched_lambda(ws, x):
    return ppc.autobatch(lambda v: loss(v, x))(ws)  # (program counter: its machine inside compiled code)


def batched_closure(ws, x):
    return ppc.autobatch(lambda v: loss(v, x), strategy="local_static")(ws)


def test_autobatch_of_a_closure_over_traced_values():
    ws = np.stack([W, 2 * W, -W])
    want = [loss(v, X) for v in ws]
    np.testing.assert_allclose(ppc.compile(batched_closure)(ws, X), want, rtol=1e-12)
    np.testing.assert_allclose(ppc.compile(batched_lambda)(ws, X), want, rtol=1e-12)
    # its derivative in the value it reads, and the whole batched again over members
    g = ppc.grad(lambda ws, x: jnp.sum(batched_closure(ws, x)), argnums=1)(ws, X)
    np.testing.assert_allclose(g, sum(jax.grad(loss, argnums=1)(v, X) for v in ws), rtol=1e-12)
    xs = np.stack([X, X + 1.0])
    got = ppc.autobatch(batched_closure, strategy="local_static")(np.stack([ws, ws]), xs)
    np.testing.assert_allclose(got, [[loss(v, x) for v in ws] for x in xs], rtol=1e-12)


def model_lambda(w, x):
    return ppc.grad(lambda v: loss(v, x) + ppc.Normal(0.0, 1.0))(w)


def vector_lambda(w, x):
    return ppc.grad(lambda v: v * x)(w)


def unknown_keyword(w, x):
    return ppc.grad(lambda v: loss(v, x))(w, scale=2.0)


@pytest.mark.parametrize("fn, message", [
    (model_lambda, "is a model"),
    (vector_lambda, "needs a function returning a float scalar"),
    (unknown_keyword, "pass 'scale' by position"),
])
def test_clear_errors_name_the_line(fn, message):
    with pytest.raises(CompileError, match=message) as e:
        ppc.compile(fn)(W, X)
    assert "test_closures.py" in str(e.value)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, 4, elements=st.floats(-2, 2)), arrays(np.float64, 4, elements=st.floats(-2, 2)))
def test_hypothesis_grad_of_a_closure(w, x):
    np.testing.assert_allclose(ppc.compile(grad_over)(w, x), jax.grad(loss)(w, x), rtol=1e-9, atol=1e-12)
