"""x.at[idx].set/mul/min/max(v) with an integer array idx (the `scatter` primitive and the
.set composition, ppc/ir/prims/gather.py): values against NumPy (.set: the last of
repeated indices wins) and JAX (.mul/.min/.max combine repeated indices) on both
backends, out-of-range indices dropped, derivatives against JAX and finite differences,
both batching strategies with any operand batched, and the refusals."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ppc
from ppc.autobatch import shared
from ppc.frontend.lower import CompileError

from test_hypothesis import SETTINGS, examples

BACKENDS = ["jax", "tf"]
STRATEGIES = ["local_static", "program_counter"]
HOW = ["set", "mul", "min", "max"]
rng = np.random.default_rng(1)


def numpy_update(x, idx, v, how, axis=0):
    """The reference: NumPy's x[idx] = v (last wins) for .set, np.multiply/minimum/maximum.at
    for the rest; negatives wrap once, indices still out of range are dropped."""
    n = x.shape[axis]
    idx = np.asarray(idx)
    w = np.where(idx < 0, idx + n, idx)
    keep = (w >= 0) & (w < n)
    v = np.broadcast_to(v, x.shape[:axis] + idx.shape + x.shape[axis + 1:])
    v = np.moveaxis(v.reshape(x.shape[:axis] + (-1,) + x.shape[axis + 1:]), axis, 0)[keep.ravel()]
    out = np.moveaxis(np.array(x), axis, 0)
    w = w[keep]
    if how == "set":
        out[w] = v  # (repeated indices: the last one wins)
    else:
        {"mul": np.multiply, "min": np.minimum, "max": np.maximum}[how].at(out, w, v)
    return np.moveaxis(out, 0, axis)


def jax_update(x, idx, v, how, axis=0):
    at = jnp.asarray(x).at[(slice(None),) * axis + (jnp.asarray(idx),)]
    return getattr(at, {"mul": "multiply"}.get(how, how))(v, mode="drop")


def updates(x, i, v, w):
    return (x.at[i].set(v), x.at[i].mul(v), x.at[i].min(v), x.at[i].max(v),
            x.at[:, i].set(w), x.at[:, i].multiply(w), x.at[:, i].min(w), x.at[:, i].max(w))


def reference(x, i, v, w, ref=numpy_update):
    return tuple(ref(x, i, v, h) for h in HOW) + tuple(ref(x, i, w, h, axis=1) for h in HOW)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_values_match_numpy_and_jax(backend, dtype):
    """Repeated, negative and out-of-range traced indices of rank 1 and 2: .set keeps the
    last of repeated indices (as x[idx] = v), the others combine them (as JAX)."""
    f = ppc.compile(updates, backend=backend)
    x = rng.integers(-5, 6, size=(5, 4)).astype(dtype)
    for i in (np.array([0, 2, 2, -1, 7, -9, 2]), np.array([[3, 0], [-2, 3], [3, 3]])):
        v = rng.integers(-5, 6, size=i.shape + (4,)).astype(dtype)
        w = rng.integers(-5, 6, size=(5,) + i.shape).astype(dtype)
        got = f(x, i, v, w)
        for g, want, jx in zip(got, reference(x, i, v, w), reference(x, i, v, w, jax_update)):
            assert np.asarray(g).dtype == want.dtype
            np.testing.assert_array_equal(np.asarray(g), want)
            np.testing.assert_array_equal(np.asarray(g), np.asarray(jx))


@pytest.mark.parametrize("backend", BACKENDS)
def test_static_indices_scalars_and_bool_set(backend):
    """A NumPy index in the program, a scalar value broadcast, -0.0 and infinities written
    exactly, a bool array set, and a float value set into an int array."""
    i = np.array([1, -1, 1, 0])

    def f(x, b, k, s):
        return (x.at[i].set(s), x.at[[0, 0]].max(7.0), b.at[i].set(True), k.at[[2, -2]].set(1.5),
                x.at[:, np.array([[2], [0]])].min(-1.0))
    x, b, k = np.arange(12.0).reshape(3, 4), np.zeros(5, bool), np.arange(4, dtype=np.int64)
    s = np.array([-0.0, np.inf, 2.0, -np.inf])  # (an argument: array constants holding inf do not emit)
    got = ppc.compile(f, backend=backend)(x, b, k, s)
    want = (numpy_update(x, i, s, "set"), numpy_update(x, [0, 0], 7.0, "max"), numpy_update(b, i, True, "set"),
            np.array([0, 1, 1, 3]),  # (1.5 cast to the int array's dtype, as JAX's .set)
            numpy_update(x, np.array([[2], [0]]), -1.0, "min", 1))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
        assert np.asarray(g).dtype == np.asarray(w).dtype
    assert np.signbit(np.asarray(got[0])[:, 0]).all()  # -0.0 written, not +0.0


def nan_updates(x, i, v):
    return x.at[i].max(v), x.at[i].min(v), x.at[i].multiply(v), x.at[i].set(v)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_and_infinities_as_jax(backend):
    """A NaN among the contenders gives NaN (TF's segment reductions would skip it); a
    max of -inf updates is -inf (TF's segment max starts from the lowest finite value)."""
    x = np.array([1.0, np.nan, 3.0, -np.inf, np.inf, 2.0])
    i, v = np.array([0, 0, 1, 2, 3, 4, 5, 5]), np.array([np.nan, 2.0, 5.0, 1.0, -np.inf, np.nan, np.inf, -np.inf])
    for g, want in zip(ppc.compile(nan_updates, backend=backend)(x, i, v), jax.jit(nan_updates)(x, i, v)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(want))


COMPILED = ppc.compile(updates)  # (one per test session: each index shape specializes it once)


@settings(max_examples=examples(25), **SETTINGS)
@given(st.sampled_from([(7,), (3, 2), (1,)]), st.data())
def test_random_indices_match_numpy(shape, data):
    """Indices drawn anywhere in [-n - 2, n + 2) (so repeated, negative and out of range),
    updates with many ties, every update on both axes against the NumPy reference."""
    x = np.array(data.draw(st.lists(st.integers(-3, 3), min_size=20, max_size=20)), float).reshape(5, 4)
    i = np.array(data.draw(st.lists(st.integers(-7, 6), min_size=int(np.prod(shape)),
                                    max_size=int(np.prod(shape))))).reshape(shape)
    v = rng.integers(-3, 4, size=shape + (4,)).astype(float)
    w = rng.integers(-3, 4, size=(5,) + shape).astype(float)
    for g, want in zip(COMPILED(x, i, v, w), reference(x, i, v, w)):
        np.testing.assert_array_equal(np.asarray(g), want)


# --- derivatives ---------------------------------------------------------------------------

WEIGHTS = np.linspace(0.5, 2.0, 15).reshape(5, 3)


def _loss(y):
    return jnp.sum(jnp.sin(y) * WEIGHTS) + jnp.sum(y ** 2)


def set_loss(x, v, i):
    return _loss(jnp.asarray(x).at[i].set(v))


def mul_loss(x, v, i):
    return _loss(jnp.asarray(x).at[i].multiply(v))


def min_loss(x, v, i):
    return _loss(jnp.asarray(x).at[i].min(v))


def max_loss(x, v, i):
    return _loss(jnp.asarray(x).at[i].max(v))


LOSSES = {"set": set_loss, "multiply": mul_loss, "min": min_loss, "max": max_loss}


def losses(how):
    return LOSSES[how]


def finite_difference(f, a, eps=1e-6):
    out = np.zeros_like(a)
    for k in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[k] = eps
        out[k] = (f(a + e) - f(a - e)) / (2 * eps)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("how", ["set", "multiply", "min", "max"])
def test_grad_wrt_x_and_v(backend, how):
    """Against finite differences (repeated indices, no ties), and against jax.grad where
    JAX has the derivative (all but .multiply's in v: JAX raises for repeated indices)."""
    loss = losses(how)
    x = rng.normal(size=(5, 3))
    v = rng.normal(size=(6, 3))
    i = np.array([1, 3, 1, -1, 9, 1])
    f = ppc.compile(loss, backend=backend)
    gx, gv = ppc.grad(f, argnums=(0, 1))(x, v, i)
    np.testing.assert_allclose(gx, finite_difference(lambda a: loss(a, v, i), x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gv, finite_difference(lambda a: loss(x, a, i), v), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gx, jax.grad(loss)(x, v, i), rtol=1e-10, atol=1e-12)
    if how != "multiply":
        np.testing.assert_allclose(gv, jax.grad(loss, argnums=1)(x, v, i), rtol=1e-10, atol=1e-12)
    assert not np.asarray(gv)[4].any()  # dropped out of range: no gradient


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_index(backend):
    def f(x, i, v):
        return x.at[i].set(v), x.at[i].max(v), x.at[i].multiply(v), x.at[:, i].set(1.0)
    x = np.arange(6.0).reshape(3, 2)
    for g in ppc.compile(f, backend=backend)(x, np.zeros((0,), np.int64), np.zeros((0, 2))):
        np.testing.assert_array_equal(g, x)


def test_set_grad_goes_to_the_last_update_only():
    x, v, i = np.ones(4), np.arange(1.0, 6.0), np.array([2, 0, 2, 2, -4])
    gx, gv = ppc.grad(lambda x, v: jnp.sum(x.at[i].set(v) * np.arange(1.0, 5.0)), argnums=(0, 1))(x, v)
    np.testing.assert_array_equal(gx, [0.0, 2.0, 0.0, 4.0])
    np.testing.assert_array_equal(gv, [0.0, 0.0, 0.0, 3.0, 1.0])


def test_mul_grad_with_zero_updates():
    """d/dv of x * v1 * v2 * ... at an index with zeros among the updates (no 0/0)."""
    def loss(v):
        return jnp.sum(jnp.arange(1.0, 4.0).at[np.array([0, 0, 0, 2, 1, 1])].multiply(v) ** 2)
    for v in (np.array([0.0, 2.0, 3.0, 0.5, 0.0, 0.0]), np.array([1.5, 0.0, -2.0, 0.0, 4.0, 2.0])):
        g = ppc.grad(loss)(v)
        assert np.isfinite(g).all()
        np.testing.assert_allclose(g, finite_difference(loss, v), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_min_max_ties_average_as_jax(backend):
    """Ties among the updates and with x: the tangent is the contenders' average, as JAX."""
    x, v = np.array([1.0, 2.0, 5.0, 0.0]), np.array([2.0, 2.0, 5.0, -1.0, 3.0, 3.0])
    i = np.array([1, 1, 2, 3, 0, 0])
    def max_tie(x, v):
        return jnp.sum(x.at[i].max(v) * np.arange(1.0, 5.0))

    def min_tie(x, v):
        return jnp.sum(x.at[i].min(v) * np.arange(1.0, 5.0))
    for loss in (max_tie, min_tie):
        got = ppc.grad(ppc.compile(loss, backend=backend), argnums=(0, 1))(x, v)
        for g, want in zip(got, jax.grad(loss, argnums=(0, 1))(x, v)):
            np.testing.assert_allclose(g, want, rtol=1e-12)


def test_second_derivatives():
    """Hessians through every update: against jax.hessian where JAX has one, else finite
    differences of the gradient; and grad of a grad."""
    x, v, i = rng.normal(size=(5, 3)), rng.normal(size=(6, 3)), np.array([1, 3, 1, -1, 9, 1])
    for how in ("set", "min", "max"):
        loss = losses(how)
        np.testing.assert_allclose(ppc.hessian(loss, argnums=1)(x, v, i), jax.hessian(loss, argnums=1)(x, v, i),
                                   rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ppc.hessian(max_loss)(x, v, i), jax.hessian(max_loss)(x, v, i), rtol=1e-9, atol=1e-12)

    def product_loss(v):
        return jnp.sum(jnp.sin(jnp.arange(1.0, 5.0).at[np.array([0, 2, 0, 0, 3])].multiply(v)))
    g = ppc.grad(product_loss)
    for u in (np.array([0.7, -1.2, 0.0, 1.1, 0.9]), np.array([0.0, -1.2, 0.0, 1.1, 0.9])):  # zeros among them
        h = ppc.hessian(product_loss)(u)
        fd = np.stack([finite_difference(lambda a, k=k: g(a)[k], u) for k in range(5)])
        np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-7)
    gg = ppc.grad(lambda x, v: jnp.sum(ppc.grad(losses("max"))(x, v, i) ** 2))(x, v)
    np.testing.assert_allclose(gg, jax.grad(lambda x, v: jnp.sum(jax.grad(losses("max"))(x, v, i) ** 2))(x, v),
                               rtol=1e-9)


# --- batching ------------------------------------------------------------------------------

def stepped(x, i, v, n):
    """Every update, inside a data-dependent loop so the program-counter machine steps them."""
    acc = x
    k = 0
    while k < n:
        acc = acc.at[i].set(v).at[i].mul(v).at[:, i[:2]].max(acc[:, :2]).at[i].min(v + 1.0)
        k += 1
    return acc + x.at[i].set(v)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_matches_per_member(strategy):
    """x, idx, v batched alone and together (per-member repeated and out-of-range indices)."""
    B = 3
    xs, vs = rng.normal(size=(B, 4, 4)), rng.normal(size=(B, 5, 4))
    idx = np.array([[1, 1, -1, 6, 1], [0, 3, 3, -5, 2], [2, 2, 2, 2, 2]])
    ns = np.array([1, 2, 0])
    single = ppc.compile(stepped)
    f = ppc.autobatch(stepped, strategy=strategy)
    cases = [((xs, shared(idx[0]), shared(vs[0]), ns), lambda k: (xs[k], idx[0], vs[0], ns[k])),
             ((shared(xs[0]), idx, shared(vs[0]), ns), lambda k: (xs[0], idx[k], vs[0], ns[k])),
             ((shared(xs[0]), shared(idx[0]), vs, ns), lambda k: (xs[0], idx[0], vs[k], ns[k])),
             ((shared(xs[0]), idx, vs, ns), lambda k: (xs[0], idx[k], vs[k], ns[k])),
             ((xs, idx, vs, ns), lambda k: (xs[k], idx[k], vs[k], ns[k]))]
    for args, member in cases:
        got = np.asarray(f(*args))
        for k in range(B):
            np.testing.assert_allclose(got[k], single(*member(k)), rtol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_of_grad(strategy):
    B = 3
    xs, vs = rng.normal(size=(B, 5, 3)), rng.normal(size=(B, 6, 3))
    idx = rng.integers(-6, 7, size=(B, 6))
    for how in ("set", "multiply", "min"):
        loss = losses(how)
        got = ppc.autobatch(ppc.grad(loss, argnums=(0, 1)), strategy=strategy)(xs, vs, idx)
        for k in range(B):
            single = ppc.grad(loss, argnums=(0, 1))(xs[k], vs[k], idx[k])
            for g, want in zip(got, single):
                np.testing.assert_allclose(np.asarray(g)[k], want, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(single[0], jax.grad(loss)(xs[k], vs[k], idx[k]), rtol=1e-10, atol=1e-12)


# --- refusals ------------------------------------------------------------------------------

@pytest.mark.parametrize("src, message", [
    (lambda x, i: x.at[i, 0].set(1.0), r"\.set with an integer array takes full slices"),
    (lambda x, i: x.at[1:, i].max(1.0), r"\.max with an integer array takes full slices"),
    (lambda x, i: (x > 0).at[i].max(True), "needs a numeric array"),
    (lambda x, i: x.at[i].divide(2.0), "not supported with an integer array"),
    (lambda x, i: x.at[[0, 5]].set(1.0), "index 5 is out of bounds"),
])
def test_refusals_are_clear(src, message):
    with pytest.raises(CompileError, match=message):
        ppc.compile(src)(np.ones((3, 3)), np.array([0, 1]))
