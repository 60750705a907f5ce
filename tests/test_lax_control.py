"""jax.lax's control flow in compiled code (ppc/frontend/lax_control.py): fori_loop,
while_loop, cond, switch, scan and map, against JAX running the same function, and
through ppc.grad (against jax.grad), both batching strategies (against per-member runs)
and the TF backend; misuse as located errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jax import lax

import ppc


def fori_static(x):
    def body(i, c):
        return c * 0.5 + jnp.sin(x * i)
    return lax.fori_loop(0, 6, body, x)


def fori_traced(x, n):  # bounds known at run time; a tuple carry
    def body(i, c):
        a, b = c
        return a + b * i, b * 0.9
    return lax.fori_loop(1, n, body, (x, x * 2.0))


def while_halving(x):
    return lax.while_loop(lambda c: c[0] > 1.0, lambda c: (c[0] * 0.5, c[1] + 1), (x, 0))


def cond_pair(x, y):
    a = lax.cond(x > y, lambda u, v: u * v, lambda u, v: u - v, x, y)
    b = lax.cond(x < 0, lambda u: -u, lambda u: jnp.sqrt(u), operand=x)  # (the old operand= form)
    return a + b


def switch_three(k, x):
    return lax.switch(k, [lambda v: v * 2.0, jnp.sin, lambda v: v - 1.0], x)


def scan_ar(xs, rho):  # an AR(1) filter: carry and ys
    def step(c, x):
        c = rho * c + x
        return c, c * 2.0
    return lax.scan(step, 0.0, xs)


def scan_tuples(xs, ws):  # tuple xs and ys, reversed
    def step(c, xw):
        x, w = xw
        return c + x * w, (c, x - w)
    return lax.scan(step, jnp.zeros(3), (xs, ws), reverse=True)


def scan_length(x):
    return lax.scan(lambda c, _: (c * 1.5, c), x, None, length=4)


def mapped(xs):
    return lax.map(lambda row: jnp.sum(row ** 2), xs)


def nested(x, n):  # a scan inside a fori_loop inside a cond
    def outer(i, c):
        return lax.scan(lambda a, b: (a + b * c, a), c, jnp.arange(3.0))[0] * 0.1
    return lax.cond(n > 0, lambda: lax.fori_loop(0, n, outer, x), lambda: x)


XS, WS = np.linspace(-1.0, 2.0, 15).reshape(5, 3), np.linspace(0.5, 1.5, 15).reshape(5, 3)
CASES = [
    (fori_static, (0.3,)), (fori_traced, (0.7, 5)), (fori_traced, (0.7, 0)), (while_halving, (37.0,)),
    (cond_pair, (2.0, 3.0)), (cond_pair, (-2.0, -3.0)), (switch_three, (0, 0.4)), (switch_three, (1, 0.4)),
    (switch_three, (7, 0.4)), (switch_three, (-3, 0.4)), (scan_ar, (np.arange(5.0), 0.8)),
    (scan_tuples, (XS, WS)), (scan_length, (1.2,)), (mapped, (XS,)), (nested, (0.5, 3)), (nested, (0.5, 0)),
]


def _close(got, want):
    for g, w in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-12)
        assert np.asarray(g).shape == np.asarray(w).shape


@pytest.mark.parametrize("backend", ["jax", "tf"])
@pytest.mark.parametrize("f, args", CASES, ids=[f"{f.__name__}{i}" for i, (f, _) in enumerate(CASES)])
def test_matches_jax(backend, f, args):
    _close(ppc.compile(f, backend=backend)(*args), f(*args))


def g_fori_traced(x, n):
    a, b = fori_traced(x, n)
    return a + b


def g_while(x):
    return while_halving(x)[0]


def g_scan_ar(xs, rho):
    c, ys = scan_ar(xs, rho)
    return c + jnp.sum(ys * ys)


def g_scan_tuples(xs, ws):
    c, (a, b) = scan_tuples(xs, ws)
    return jnp.sum(c) + jnp.sum(a) + jnp.sum(b * b)


def g_mapped(xs):
    return jnp.sum(jnp.sin(mapped(xs)))


@pytest.mark.parametrize("f, args, argnums", [
    (fori_static, (0.3,), 0), (g_fori_traced, (0.7, 5), 0), (cond_pair, (2.0, 3.0), (0, 1)),
    (cond_pair, (-2.0, 3.0), (0, 1)), (switch_three, (1, 0.4), 1), (g_scan_ar, (np.arange(5.0), 0.8), (0, 1)),
    (g_scan_tuples, (XS, WS), (0, 1)), (g_mapped, (XS,), 0), (nested, (0.5, 3), 0),
], ids=lambda v: getattr(v, "__name__", None))
def test_gradients_match_jax_grad(f, args, argnums):
    _close(ppc.grad(f, argnums=argnums)(*args), jax.grad(f, argnums=argnums)(*args))


def test_reverse_mode_through_while_loop_and_a_traced_fori_loop():
    """jax.grad refuses both ("Reverse-mode differentiation does not work for lax.while_loop
    or lax.fori_loop with dynamic start/stop values"); ppc records their iterations, as for
    Python's own loops: checked against the derivative in closed form and central differences."""
    for x in (37.0, 3.0, 0.7):
        k = 0
        while x / 2 ** k > 1.0:
            k += 1
        assert float(ppc.grad(g_while)(x)) == pytest.approx(0.5 ** k, rel=1e-14)
    traced = ppc.compile(lambda x, n: g_fori_traced(x, n))
    grad = ppc.grad(traced)
    for x, n in ((0.7, 5), (-1.3, 9), (2.0, 1)):
        h = 1e-6
        fd = (float(traced(x + h, n)) - float(traced(x - h, n))) / (2 * h)
        assert float(grad(x, n)) == pytest.approx(fd, rel=1e-7)


@pytest.mark.parametrize("strategy", ["program_counter", "local_static"])
def test_batched_members_equal_their_own_runs(strategy):
    xs = np.array([0.2, 3.0, 17.0, 0.9])
    ns = np.array([0, 2, 5, 1])
    got = ppc.autobatch(fori_traced, strategy=strategy)(xs, ns)
    want = [fori_traced(float(x), int(n)) for x, n in zip(xs, ns)]
    _close(got, tuple(np.array(w) for w in zip(*want)))
    got = ppc.autobatch(while_halving, strategy=strategy)(xs)
    want = [while_halving(float(x)) for x in xs]
    _close(got, tuple(np.array(w) for w in zip(*want)))
    ks = np.array([0, 2, 1, 5])
    _close(ppc.autobatch(switch_three, strategy=strategy)(ks, xs),
           np.array([switch_three(int(k), float(x)) for k, x in zip(ks, xs)]))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(-3, 3), min_size=1, max_size=6), st.floats(-0.95, 0.95))
def test_generated_scans(values, rho):
    xs = np.array(values)
    _close(COMPILED_SCAN(xs, rho), scan_ar(xs, rho))


COMPILED_SCAN = ppc.compile(scan_ar)


def bad_scan(xs):
    return lax.scan(lambda c, x: c + x, 0.0, xs)


def bad_cond(x):
    return lax.cond(x > 0.0, lambda v: v, lambda v: -v, x) + lax.cond(jnp.ones(2) > 0, lambda: 1.0, lambda: 2.0)


def bad_switch(k, x):
    return lax.switch(k * 0.5, [jnp.sin, jnp.cos], x)


def ragged_scan(xs, ys):
    return lax.scan(lambda c, xy: (c, xy[0] + xy[1]), 0.0, (xs, ys))


@pytest.mark.parametrize("f, args, message", [
    (bad_scan, (np.arange(3.0),), "must return a pair"),
    (bad_cond, (1.0,), "scalar predicate"),
    (bad_switch, (1, 0.5), "scalar integer index"),
    (ragged_scan, (np.arange(3.0), np.arange(4.0)), "one length"),
])
def test_misuse_is_a_located_error(f, args, message):
    with pytest.raises(ppc.CompileError, match=message) as err:
        ppc.compile(f)(*args)
    assert "test_lax_control.py" in str(err.value)
