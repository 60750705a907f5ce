"""Reverse mode through a chain of recursive calls records each call's residuals on a tape
(ppc/passes/ad/recursion.py) instead of recomputing them: checked against jax.grad of the
same recursion run by Python, per-member loops when batched, the machine's step counts
(linear in the chain's length, where recomputation is quadratic), and the tape's
capacity as an error."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppc


def chain(x, n):
    if n <= 0:
        return x
    return x * chain(x, n - 1) + np.sin(x)


def chain_jax(x, n):
    if n <= 0:
        return x
    return x * chain_jax(x, n - 1) + jnp.sin(x)


def ping(x, n):  # mutual recursion: each function calls the other from one place
    if n <= 0:
        return np.cos(x)
    return pong(x * 1.1, n - 1) + np.sin(x)


def pong(x, n):
    if n <= 0:
        return x * x
    return ping(x - 0.2, n - 1) * x


def ping_jax(x, n):
    if n <= 0:
        return jnp.cos(x)
    return pong_jax(x * 1.1, n - 1) + jnp.sin(x)


def pong_jax(x, n):
    if n <= 0:
        return x * x
    return ping_jax(x - 0.2, n - 1) * x


def looped(x, n):  # one call site, run by a loop: the tape passes through the loop
    if n <= 0:
        return np.sin(x)
    s = 0.0
    for i in range(2):
        s = s + looped(x * 0.5 + i, n - 1)
    return s * x


def looped_jax(x, n):
    if n <= 0:
        return jnp.sin(x)
    s = 0.0
    for i in range(2):
        s = s + looped_jax(x * 0.5 + i, n - 1)
    return s * x


def halving(x, n):  # a `while` on a traced value around the call
    if n <= 0:
        return x
    while x > 2.0:
        x = x * 0.5
    return halving(x + 1.5, n - 1) * x


def halving_jax(x, n):
    if n <= 0:
        return x
    while x > 2.0:
        x = x * 0.5
    return halving_jax(x + 1.5, n - 1) * x


def summed(x, m):  # a non-recursive entry calling the recursion in a loop of run-time length
    s = 0.0
    k = 0
    while k < m:
        s = s + chain(x + 0.1 * k, k)
        k = k + 1
    return s


def summed_jax(x, m):
    s = 0.0
    for k in range(m):
        s = s + chain_jax(x + 0.1 * k, k)
    return s


@pytest.mark.parametrize("f, ref, args", [
    (chain, chain_jax, [(0.7, 0), (0.7, 1), (0.7, 12), (-1.3, 40)]),
    (ping, ping_jax, [(0.4, 0), (0.4, 1), (0.4, 7), (1.2, 20)]),
    (looped, looped_jax, [(0.3, 0), (0.3, 3), (1.7, 5)]),
    (halving, halving_jax, [(7.0, 3), (0.5, 4), (30.0, 6)]),
    (summed, summed_jax, [(0.2, 0), (0.2, 1), (0.2, 6)]),
])
def test_gradients_match_jax(f, ref, args):
    g = ppc.grad(f)
    vg = ppc.value_and_grad(f)
    for x, n in args:
        want = float(jax.grad(ref)(x, n))
        assert float(g(x, n)) == pytest.approx(want, rel=1e-12, abs=1e-12)
        value, grad = vg(x, n)
        assert float(value) == pytest.approx(float(ref(x, n)), rel=1e-12)
        assert float(grad) == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_steps_grow_linearly_with_the_chain():
    """Recomputing each call's primal when its cotangent arrives made 1,840 machine steps
    at n = 40 (81 calls' worth, quadratic); the tape runs each call forward once and
    backward once."""
    g = ppc.grad(chain)
    steps = {}
    for n in (20, 40, 80):
        g(0.3, n)
        steps[n] = g.stats.steps
    assert steps[40] < 7 * 40 and steps[80] < 7 * 80
    assert 1.8 < steps[80] / steps[40] < 2.2


def test_a_tree_of_calls_still_recomputes():
    """Two call sites: recomputation costs calls times depth, cheaper here than a heavier
    machine step for every call; the gradient is the same either way."""
    from ppc.passes.ad import Reverse

    def tree(x, d):
        if d <= 0:
            return np.sin(x)
        return tree(x * 0.9, d - 1) * tree(x + 0.1, d - 2) + x
    for f, expect in ((tree, False), (chain, True)):
        module = ppc.compile(f).specialize(0.5, 3).canonical
        rev = Reverse(module, (True, False))
        taped = any(fn.name.endswith("_fwd") for fn in rev.callees)
        assert taped is expect


def test_batched_members_at_their_own_depths():
    xs = np.linspace(-1.0, 1.2, 9)
    ns = np.array([0, 1, 2, 5, 9, 14, 3, 30, 7])
    want = [float(jax.grad(chain_jax)(float(x), int(n))) for x, n in zip(xs, ns)]
    for strategy in ("program_counter", "local_static"):
        got = ppc.autobatch(ppc.grad(chain), strategy=strategy)(xs, ns)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_vjp_linearize_and_transpose_through_the_tape():
    want = float(jax.grad(chain_jax)(0.6, 9))
    out, vjp_fn = ppc.vjp(chain, 0.6, 9)
    assert float(out) == pytest.approx(chain(0.6, 9), rel=1e-12)
    assert float(vjp_fn(2.0)[0]) == pytest.approx(2 * want, rel=1e-12)
    out, f_lin = ppc.linearize(chain, 0.6, 9)
    assert float(f_lin(3.0)) == pytest.approx(3 * want, rel=1e-12)
    assert float(ppc.linear_transpose(f_lin)(1.5)[0]) == pytest.approx(1.5 * want, rel=1e-12)


def test_hessian_through_the_tape():
    h = ppc.hessian(lambda v: chain(v[0], 6) * v[1])(np.array([0.8, 1.3]))
    want = jax.hessian(lambda v: chain_jax(v[0], 6) * v[1])(jnp.array([0.8, 1.3]))
    np.testing.assert_allclose(h, want, rtol=1e-10)


def test_the_tape_holds_max_iterations_calls():
    """A recursion making more calls than the tape holds is an error, never a wrong
    gradient, and the backward pass of that run still ends (its records stay whole)."""
    g = ppc.grad(chain, max_iterations=10)
    # 10 recorded calls below the entry's own
    assert float(g(0.5, 10)) == pytest.approx(float(jax.grad(chain_jax)(0.5, 10)), rel=1e-12)
    with pytest.raises(ppc.LoopLimitError, match="recursi"):
        g(0.5, 11)
    with pytest.raises(ppc.LoopLimitError):
        ppc.autobatch(g)(np.array([0.5, 0.6]), np.array([3, 40]))
    np.testing.assert_allclose(ppc.autobatch(g)(np.array([0.5, 0.6]), np.array([3, 8])),
                               [float(jax.grad(chain_jax)(0.5, 3)), float(jax.grad(chain_jax)(0.6, 8))], rtol=1e-12)


GRADS = {"chain": ppc.grad(chain), "ping": ppc.grad(ping)}  # (compiled once for every example)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(-1.5, 1.5), st.integers(0, 25), st.floats(-1.5, 1.5), st.integers(0, 12))
def test_generated_inputs(x, n, y, m):
    assert float(GRADS["chain"](x, n)) == pytest.approx(float(jax.grad(chain_jax)(x, n)), rel=1e-10, abs=1e-10)
    assert float(GRADS["ping"](y, m)) == pytest.approx(float(jax.grad(ping_jax)(y, m)), rel=1e-10, abs=1e-10)


def test_tf_backend():
    g = ppc.grad(ppc.compile(chain, backend="tf"))
    assert float(g(0.9, 11)) == pytest.approx(float(jax.grad(chain_jax)(0.9, 11)), rel=1e-12)
