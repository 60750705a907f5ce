"""Gradients that record `while` loops, called from compiled code: the loop-limit flag of
each call is threaded out of the branches, loops and functions around it
(ppc/passes/flags.py) and checked when the compiled program returns, as a gradient's
own flag is; batched by both strategies. Checked against closed forms and jax.grad."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppc

from test_loop_models import newton_loss

W = np.array([0.5, -1.0, 2.0])


def newton_grad(v):
    """The gradient of newton_loss, sqrt(|v|^2 + 1), in closed form."""
    return v / np.sqrt(np.sum(v * v, axis=-1, keepdims=True) + 1.0)


def test_a_gradient_with_a_while_loop_inside_compiled_code():
    # once refused ("its loop-limit check cannot run"): the flag is now the program's own
    f = ppc.compile(lambda w: ppc.grad(newton_loss, max_iterations=10)(w))
    np.testing.assert_allclose(f(W), newton_grad(W), rtol=1e-10)
    with pytest.raises(ppc.LoopLimitError, match="max_iterations"):
        f(W * 1e6)  # Newton from x = a needs ~25 iterations at a ~ 1e13


def nested(w, n):
    s = 0.0
    k = 0
    while k < n:
        if s < 100.0:
            s = s + np.sum(ppc.grad(newton_loss, max_iterations=10)(w * (k + 1)))
        k += 1
    return s


def nested_jax(w, n):
    s = 0.0
    for k in range(n):
        v = w * (k + 1)
        s = s + jnp.sum(v / jnp.sqrt(jnp.sum(v * v) + 1.0))
    return s


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_the_flag_leaves_branches_and_loops(backend):
    f = ppc.compile(nested, backend=backend)
    np.testing.assert_allclose(f(W, 3), nested_jax(W, 3), rtol=1e-10)
    with pytest.raises(ppc.LoopLimitError):
        f(W * 1e6, 3)
    # differentiating the whole program keeps the flag: second derivatives of the loop
    np.testing.assert_allclose(ppc.grad(f)(W, 3), jax.grad(nested_jax)(W, 3), rtol=1e-8)


@pytest.mark.parametrize("strategy", ["local_static", "program_counter"])
def test_batched_gradients_of_a_loop_check_every_member(strategy):
    # once refused ("autobatch of a function that records while loops ...")
    ws = np.array([[0.5, -1.0, 2.0], [1.0, 2.0, 3.0]])
    g = ppc.autobatch(ppc.grad(newton_loss, max_iterations=10), strategy=strategy)
    np.testing.assert_allclose(g(ws), newton_grad(ws), rtol=1e-10)
    with pytest.raises(ppc.LoopLimitError):
        g(ws * np.array([[1.0], [1e6]]))  # one member of two runs past the limit


def levels(w, n):
    """A recursion (run on the program-counter machine) whose every level calls the gradient."""
    if n == 0:
        return 0.0
    return np.sum(ppc.grad(newton_loss, max_iterations=10)(w * n)) + levels(w, n - 1)


def test_a_recursion_calling_such_a_gradient():
    f = ppc.compile(levels)
    np.testing.assert_allclose(f(W, 3), nested_jax(W, 3), rtol=1e-10)
    with pytest.raises(ppc.LoopLimitError):
        f(W * 1e6, 3)


def in_a_loop_test(w):
    k = 0
    while np.sum(ppc.grad(newton_loss)(w)) > 0.1 and k < 5:
        w = w * 0.5
        k += 1
    return w


def test_such_a_gradient_in_a_loop_condition_is_a_located_error():
    with pytest.raises(ppc.CompileError) as info:
        ppc.compile(in_a_loop_test)(W)
    assert "loop condition" in info.value.message
    assert info.value.loc.line == in_a_loop_test.__code__.co_firstlineno + 2
