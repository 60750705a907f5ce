"""np.searchsorted / jnp.searchsorted (ppc/frontend/numpy_api.py: _searchsorted), composed
from a broadcast comparison and an integer sum: against NumPy on random sorted arrays with
repeats, NaN and infinities, both sides, scalar and n-d queries, on both backends, under
both batching strategies, inside a gradient, and its refusals."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppc
from ppc.autobatch import shared
from ppc.ir import CompileError

BACKENDS = ["jax", "tf"]
STRATEGIES = ["local_static", "program_counter"]
rng = np.random.default_rng(0)


def both_sides(a, v):
    return np.searchsorted(a, v), np.searchsorted(a, v, side="left"), np.searchsorted(a, v, side="right")


def jnp_forms(a, v):
    return jnp.searchsorted(a, v), jnp.searchsorted(a, v, "right", method="compare_all"), a.searchsorted(v, side="right")


def _check(got, a, v):
    want = (np.searchsorted(a, v), np.searchsorted(a, v, side="left"), np.searchsorted(a, v, side="right"))
    for g, w in zip(got, want):
        g = np.asarray(g)
        assert g.dtype == np.int64 and g.shape == np.shape(w), (g.dtype, g.shape, np.shape(w))
        np.testing.assert_array_equal(g, w, err_msg=f"a={a!r} v={v!r}")


COMPILED = {b: ppc.compile(both_sides, backend=b) for b in BACKENDS}
# a few values, so that arrays repeat them and queries hit them exactly
VALUES = st.sampled_from([-np.inf, -3.0, -1.5, -0.0, 0.0, 0.5, 1.0, 2.0, 2.0, 7.25, np.inf])


@st.composite
def sorted_and_queries(draw, n, vshape, nan=True):
    a = np.sort(np.array(draw(st.lists(VALUES, min_size=n, max_size=n)), dtype=np.float64))
    if nan and draw(st.booleans()):  # NaN sorts last, as np.sort puts it
        a[-draw(st.integers(1, max(n // 3, 1))):] = np.nan
    # (no subnormals: XLA on CPU flushes them to 0 in comparisons, as in all compiled code)
    queries = st.one_of(VALUES, st.floats(-4, 8, allow_subnormal=False), st.just(np.nan))
    v = np.array(draw(st.lists(queries, min_size=int(np.prod(vshape)), max_size=int(np.prod(vshape)))),
                 dtype=np.float64).reshape(vshape)
    return a, v


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=sorted_and_queries(9, (3, 4)))
def test_matches_numpy_random_sorted_arrays(backend, data):
    a, v = data
    _check(COMPILED[backend](a, v), a, v)


@settings(max_examples=30, deadline=None)
@given(data=sorted_and_queries(6, (5,)), dtype=st.sampled_from([np.float32, np.int32, np.int64]))
def test_matches_numpy_float32_and_int_arrays(data, dtype):
    """Integer arrays (NaN-free) searched with integer and float queries; float32 throughout."""
    a, v = data
    if dtype is np.float32:
        # (a float64 query below float32's smallest normal becomes a subnormal, which
        # XLA on CPU flushes to 0 as the strategy's comment says: it is left out there too)
        v = np.where(np.abs(v) < np.finfo(np.float32).tiny, 0.0, v)
        a, v = a.astype(np.float32), v.astype(np.float32)
        _check(COMPILED["jax"](a, v), a, v)
        return
    a = np.sort(np.nan_to_num(a, nan=5, posinf=9, neginf=-9).astype(dtype))
    vi = np.nan_to_num(v, nan=0, posinf=9, neginf=-9)
    _check(COMPILED["jax"](a, vi.astype(dtype)), a, vi.astype(dtype))
    _check(COMPILED["jax"](a, vi), a, vi)  # int array, float queries: compared as floats, as NumPy does
    _check(COMPILED["jax"](a, vi.astype(np.int32)), a, vi.astype(np.int32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalar_and_nd_queries(backend):
    a = np.array([0.0, 1.0, 1.0, 1.0, 2.5, 4.0])
    f = COMPILED[backend]
    for v in (1.0, np.float64(1.0), np.float32(2.5), -7.0, 9.0, np.nan, 2, np.array(1.0),
              np.array([1.0]), rng.normal(size=(2, 3, 2)) * 3, np.zeros((0, 2))):
        _check(f(a, v), a, v)
    # literal arguments inside compiled code: Python scalars, lists, and a constant array
    g = ppc.compile(lambda x: (np.searchsorted(x, 1.0), np.searchsorted(x, [0.5, 1.0], side="right"),
                               np.searchsorted([1, 2, 3], x), np.searchsorted(np.array([1.0, 4.0]), x[2])),
                    backend=backend)
    want = (np.searchsorted(a, 1.0), np.searchsorted(a, [0.5, 1.0], side="right"),
            np.searchsorted([1, 2, 3], a), np.searchsorted(np.array([1.0, 4.0]), a[2]))
    for got, w in zip(g(a), want):
        np.testing.assert_array_equal(np.asarray(got), w)
        assert np.asarray(got).dtype == np.int64


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_array_and_nan_ordering(backend):
    f = COMPILED[backend]
    v = np.array([np.nan, -np.inf, 0.0, np.inf])
    for a in (np.zeros(0), np.array([np.nan]), np.array([np.nan, np.nan]), np.array([-np.inf, 0.0, np.inf]),
              np.array([-np.inf, 0.0, np.inf, np.nan]), np.array([-0.0, 0.0, 0.0])):
        _check(f(a, v), a, v)
    # NaN goes after every number (left) and after every NaN too (right)
    assert [int(x) for x in f(np.array([1.0, 2.0, np.nan]), np.nan)] == [2, 2, 3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_jnp_spellings_and_method(backend):
    """jnp.searchsorted (method= ignored) and the array method; int64 as NumPy's (JAX's is int32)."""
    a, v = np.array([1.0, 2.0, 2.0, 5.0]), np.array([[2.0, 0.0], [5.0, 6.0]])
    got = ppc.compile(jnp_forms, backend=backend)(a, v)
    for g, side in zip(got, ("left", "right", "right")):
        np.testing.assert_array_equal(np.asarray(g), np.searchsorted(a, v, side=side))
        assert np.asarray(g).dtype == np.int64


# ------------------------------------------------------------------ batching
def bin_counts(edges, xs, n):
    """searchsorted in a loop with a per-member trip count, and on the whole array."""
    acc = 0
    k = 0
    while k < n:
        acc = acc + np.searchsorted(edges, xs[k], side="right")
        k += 1
    return acc, np.searchsorted(edges, xs)


def bin_counts_np(edges, xs, n):
    return sum(int(np.searchsorted(edges, xs[k], side="right")) for k in range(n)), np.searchsorted(edges, xs)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_matches_per_member_numpy(strategy):
    B = 5
    edges = np.sort(rng.integers(-3, 4, size=(B, 7)).astype(np.float64), axis=1)
    xs = rng.integers(-4, 5, size=(B, 6)) * 0.5
    xs[1, 2] = np.nan
    ns = np.array([0, 6, 3, 1, 5])
    f = ppc.autobatch(bin_counts, strategy=strategy)
    for args, member in (((edges, xs, ns), lambda k: (edges[k], xs[k], ns[k])),
                         ((shared(edges[0]), xs, ns), lambda k: (edges[0], xs[k], ns[k])),
                         ((edges, shared(xs[1]), ns), lambda k: (edges[k], xs[1], ns[k]))):
        acc, idx = f(*args)
        for k in range(B):
            want_acc, want_idx = bin_counts_np(*member(k))
            assert int(np.asarray(acc)[k]) == want_acc, (strategy, k)
            np.testing.assert_array_equal(np.asarray(idx)[k], want_idx)


# ------------------------------------------------------------------ derivatives
def binned_loss(x, w, edges):
    """Pick each x's bin, then read the bin's weight: the gradient flows through the float
    path (x ** 2 and w's entries), the integer index has none."""
    i = jnp.clip(jnp.searchsorted(edges, x, side="right") - 1, 0, w.shape[0] - 1)
    j = jnp.searchsorted(edges, jnp.sum(x))
    return jnp.sum(w[i] * x ** 2) + w[jnp.minimum(j, w.shape[0] - 1)] * jnp.mean(x)


def test_grad_through_the_float_path_matches_jax():
    edges = np.array([-1.0, -0.25, 0.0, 0.5, 1.5])
    w = rng.normal(size=4)
    for x in (rng.normal(size=6), np.array([-2.0, -0.25, 0.0, 0.5, 1.4, 3.0])):
        got = ppc.grad(binned_loss, argnums=(0, 1))(x, w, edges)
        want = jax.grad(binned_loss, argnums=(0, 1))(x, w, edges)
        for g, h in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), np.asarray(h), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ppc.compile(binned_loss)(x, w, edges), binned_loss(x, w, edges), rtol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_of_grad(strategy):
    B = 3
    edges = np.array([-1.0, -0.25, 0.0, 0.5, 1.5])
    xs, ws = rng.normal(size=(B, 5)), rng.normal(size=(B, 4))
    gx = np.asarray(ppc.autobatch(ppc.grad(binned_loss), strategy=strategy)(xs, ws, shared(edges)))
    for k in range(B):
        np.testing.assert_allclose(gx[k], jax.grad(binned_loss)(xs[k], ws[k], edges), rtol=1e-12)


# ------------------------------------------------------------------ refusals
def with_sorter(a, v):
    return np.searchsorted(a, v, sorter=np.arange(3))


def two_d(a, v):
    return jnp.searchsorted(a, v)


def bad_side(a, v):
    return np.searchsorted(a, v, side="middle")


@pytest.mark.parametrize("fn, a, message, hint", [
    (with_sorter, np.array([3.0, 1.0, 2.0]), "searchsorted with sorter= is not supported", "a[sorter]"),
    (two_d, np.ones((2, 3)), r"searchsorted needs a 1-d sorted array to search, got one of shape \(2, 3\)", "row"),
    (two_d, np.float64(1.0), r"searchsorted needs a 1-d sorted array to search, got one of shape \(\)", "row"),
    (bad_side, np.ones(3), "searchsorted's side must be 'left' or 'right'", None),
])
def test_refusals_name_the_users_line(fn, a, message, hint):
    with pytest.raises(CompileError, match=message) as e:
        ppc.compile(fn)(a, np.array([1.0, 2.0]))
    msg = str(e.value)
    line = fn.__code__.co_firstlineno + 1
    assert f"test_searchsorted.py:{line}:" in msg, msg
    if hint:
        assert hint in msg, msg


# ------------------------------------------------------------------ partitioning
def test_partitioned_over_the_queries_and_over_the_array():
    """Tiled queries stay local; a tiled array needs its counts summed across devices."""
    from ppc.partition import Mesh, apply, tile
    a = np.sort(rng.integers(-3, 4, size=8).astype(np.float64))
    v = rng.integers(-4, 5, size=(8, 3)) * 0.5
    for tactics in ([tile("v", 0, "batch")], [tile("a", 0, "batch")]):
        got = apply(both_sides, tactics, Mesh({"batch": 4}))(a, v)
        for g, side in zip(got, ("left", "left", "right")):
            np.testing.assert_array_equal(np.asarray(g), np.searchsorted(a, v, side=side))
