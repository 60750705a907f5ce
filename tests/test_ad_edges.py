"""Edge cases of derivatives found by probing ppc.grad/jvp/hessian against jax and finite
differences: each test pins a bug that was fixed."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppc

jax.config.update("jax_enable_x64", True)


def _loop_until(x):
    while x[0] < 100.0:
        x = x * 2.0
    return np.sum(x ** 3)


def test_hessian_through_run_time_bounded_while():
    # was refused ("not supported yet"); x doubles 7 times (1.5 -> 192), so f = sum((128 x)^3)
    x = np.array([1.5, 2.0])
    np.testing.assert_allclose(ppc.hessian(_loop_until)(x), np.diag(6 * 128.0 ** 3 * x))
    with pytest.raises(ppc.LoopLimitError):
        ppc.hessian(_loop_until, max_iterations=3)(x)


def test_hessian_of_tuple_argument_is_a_clear_error():
    # was AttributeError: 'TupleType' object has no attribute 'shape', from inside ppc/ad.py
    with pytest.raises(ppc.CompileError, match="hessian with respect to argument 'p'"):
        ppc.hessian(lambda p: np.sum(p[0] * p[1]))((np.ones(2), np.ones(2)))


def _sin_and_sum(x):
    return np.sin(x) * 2.0, np.sum(x)


def test_vjp_cotangent_of_wrong_shape_is_refused():
    # a scalar cotangent for an f64[3] result was broadcast silently (jax.vjp refuses it)
    _, vjp_fn = ppc.vjp(_sin_and_sum, np.arange(3.0))
    with pytest.raises(ValueError, match=r"argument 0 has shape \(\), but should have \(3,\)"):
        vjp_fn((1.0, 1.0))
    with pytest.raises(ValueError, match="structured like the function's result"):
        vjp_fn(np.ones(3))
    (g,) = vjp_fn((np.ones(3, np.float32), 1.0))  # converted to the result's dtype
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2.0 * np.cos(np.arange(3.0)) + 1.0)


def test_linearized_function_checks_its_tangents():
    # a tangent of a wrong shape was broadcast; an f32 one gave an f32 tangent of an f64 result
    _, f_lin = ppc.linearize(_sin_and_sum, np.arange(3.0))
    with pytest.raises(ValueError, match="has shape"):
        f_lin(1.0)
    with pytest.raises(TypeError, match="takes 1 arguments, got 2"):
        f_lin(np.ones(3), np.ones(3))
    t, s = f_lin(np.ones(3, np.float32))
    assert t.dtype == s.dtype == np.float64
    np.testing.assert_allclose(s, 3.0)
    with pytest.raises(ValueError, match="has shape"):
        ppc.linear_transpose(f_lin)(1.0, 1.0)


def test_jvp_numpy_float64_tangent_of_float32_primal_is_refused():
    # np.float64 is a subclass of float, so it passed as a weak Python number and made the
    # tangent float64 while the primal stayed float32
    with pytest.raises(ValueError, match="dtype float64, but its primal has dtype float32"):
        ppc.jvp(lambda x: x * 2, (np.float32(1.0),), (np.float64(1.0),))
    _, t = ppc.jvp(lambda x: x * 2, (np.float32(1.0),), (1.0,))
    assert t.dtype == np.float32 and t == 2.0


def test_prod_over_an_empty_axis_has_zero_derivative():
    # the JVP built an n-by-n mask for n = 0 elements; its empty constant lost its shape in
    # the generated code (jnp.asarray([])) and the gradient program failed to broadcast
    z = np.zeros((0, 3))
    f = lambda x: np.sum(np.prod(x, axis=0))  # noqa: E731
    assert ppc.grad(f)(z).shape == (0, 3)
    out, t = ppc.jvp(f, (z,), (z,))
    assert out == 3.0 and t == 0.0


def _gamma_draws(a, key):
    return np.sum(jax.random.gamma(key, a) * np.arange(1.0, 1.0 + a.shape[0]))


def _gamma_draws_jax(a, key):
    return jnp.sum(jax.random.gamma(key, a) * jnp.arange(1.0, 1.0 + a.shape[0]))


def _one_draw(a, key):
    return jax.random.gamma(key, a)


def test_gamma_draw_in_its_concentration_by_implicit_reparameterization():
    # once 0 (silently), then refused; jax.grad gives the implicit reparameterization gradient
    a, key = np.array([0.05, 0.5, 2.0, 7.0]), jax.random.key(0)
    np.testing.assert_allclose(ppc.grad(_gamma_draws)(a, key), jax.grad(_gamma_draws_jax)(a, key), rtol=1e-10)
    stopped = lambda a, key: _gamma_draws(jax.lax.stop_gradient(a), key) + np.sum(a)  # noqa: E731
    np.testing.assert_allclose(ppc.grad(stopped)(a, key), np.ones(4))
    # E[x] = a for Gamma(a, 1), so the pathwise derivatives average to 1
    keys = jax.random.split(jax.random.key(1), 4000)
    grads = ppc.autobatch(ppc.grad(lambda a, k: _one_draw(a, k)))(np.full(4000, 2.0), keys)
    assert abs(float(np.mean(grads)) - 1.0) < 0.05
    with pytest.raises(ppc.CompileError, match="gamma draw twice"):
        ppc.hessian(lambda a, k: np.sum(_one_draw(a, k)))(a, key)


def test_gamma_draw_gradient_on_tf_is_the_implicit_one_at_tfs_draw():
    a, key = np.array([0.5, 2.0, 7.0]), jax.random.key(2)
    draws = np.asarray(ppc.compile(_one_draw, backend="tf")(a, key))
    got = ppc.grad(ppc.compile(_gamma_draws, backend="tf"))(a, key)
    np.testing.assert_allclose(got, jax.lax.random_gamma_grad(a, draws) * np.arange(1.0, 4.0), rtol=1e-8)


def _scaled_pair(p):
    x, n = p
    return x * n * 2.0


def test_tuple_mixing_floats_and_ints_is_refused_not_zero():
    # the tuple had no tangent at all: jvp gave 0 (jax.jvp gives 6) and vjp gave None
    with pytest.raises(ValueError, match="argument 0 is a tuple mixing float and non-float values"):
        ppc.jvp(_scaled_pair, ((2.0, 3),), ((1.0, 0),))
    with pytest.raises(ValueError, match="argument 0 is a tuple mixing float and non-float values"):
        ppc.vjp(_scaled_pair, (2.0, 3))
    _, t = ppc.jvp(lambda p: p[0] * p[1], ((2.0, 3.0),), ((1.0, 0.0),))
    assert t == 3.0


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_empty_constants_keep_their_shape(backend):
    """An empty array constant was emitted as jnp.asarray([]), shape (0,): the gradient
    of a function of a (0, 3) input came back (0,), and broadcasting against it failed."""
    import jax.numpy as jnp
    f = ppc.compile(lambda x: x + jnp.ones((1, 3))[1:] * 2.0, backend=backend)
    assert np.shape(f(np.zeros((0, 3)))) == (0, 3)
    g = ppc.grad(ppc.compile(lambda x: jnp.sum(jnp.concatenate([x, jnp.ones((1, 3))]) * 2), backend=backend))
    assert np.shape(g(np.zeros((0, 3)))) == (0, 3)


def test_hessian_with_several_argnums_is_a_clear_error():
    # (a TypeError from deep inside: "'<=' not supported between instances of 'int' and 'tuple'")
    with pytest.raises(TypeError, match="one argument position"):
        ppc.hessian(lambda a, b: a * b, argnums=(0, 1))(1.0, 2.0)
