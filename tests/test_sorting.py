"""Sorting (the `sort` primitive, ppc/ir/prims/sorting.py, and ppc/frontend/sorting.py):
np.sort / np.argsort (stable, NaN last) / a.argsort(), np.take_along_axis, np.median,
np.quantile and np.percentile ("linear"), and the jnp spellings, against NumPy on random
arrays with repeats, NaN, infinities and signed zeros, on both backends; gradients against
jax.grad; both batching strategies against per-member NumPy; the refusal of a.sort()."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppc
from ppc.ir import CompileError

BACKENDS = ["jax", "tf"]
STRATEGIES = ["local_static", "program_counter"]
SHAPES = [(7,), (3, 5), (2, 3, 4)]
AXES = (0, 1, 2)
DTYPES = [np.float32, np.float64, np.int32, np.int64]
rng = np.random.default_rng(0)
HC = [HealthCheck.function_scoped_fixture]


def sorts(x):
    """Sort and argsort along every axis and flattened, and the method."""
    out = [np.sort(x, axis=None), np.argsort(x, axis=None), x.argsort()]
    for axis in AXES[:x.ndim]:  # (a tuple unrolls; a range loop would trace the axis)
        out += [np.sort(x, axis=axis), np.argsort(x, axis=axis), jnp.sort(x, axis=axis)]
    return tuple(out)


def sorts_np(x):
    out = [np.sort(x, axis=None, kind="stable"), np.argsort(x, axis=None, kind="stable"),
           x.argsort(kind="stable")]
    for axis in range(x.ndim):
        out += [np.sort(x, axis=axis, kind="stable"), np.argsort(x, axis=axis, kind="stable"),
                np.sort(x, axis=axis, kind="stable")]
    return out


def same(got, want, msg=""):
    got = np.asarray(got)
    assert got.dtype == np.asarray(want).dtype and got.shape == np.shape(want), (got.dtype, got.shape, msg)
    np.testing.assert_array_equal(got, want, err_msg=msg)
    if got.dtype.kind == "f":  # signed zeros stay where the stable order puts them
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=msg)


def close(got, want):
    """Equal dtype and shape; values within a few ulps (XLA may fuse a multiply and an add)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, want.dtype, got.shape, want.shape)
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=4 * np.finfo(got.dtype).eps, atol=0)
    else:
        np.testing.assert_array_equal(got, want)


SORTS = {b: ppc.compile(sorts, backend=b) for b in BACKENDS}
VALUES = [-np.inf, -3.0, -1.5, -0.0, 0.0, 0.5, 2.0, 2.0, 7.25, np.inf, np.nan]


@st.composite
def arrays(draw, nan=True):
    shape = draw(st.sampled_from(SHAPES))
    dtype = draw(st.sampled_from(DTYPES))
    n = int(np.prod(shape))
    if np.dtype(dtype).kind == "f":
        pool = VALUES if nan else [v for v in VALUES if not np.isnan(v)]
        vals = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    else:
        info = np.iinfo(dtype)
        vals = draw(st.lists(st.sampled_from([info.min, -3, 0, 0, 1, 2, 2, info.max]), min_size=n, max_size=n))
    return np.array(vals, dtype=dtype).reshape(shape)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25, deadline=None, suppress_health_check=HC)
@given(x=arrays())
def test_sort_and_argsort_match_numpys_stable_sort(backend, x):
    for g, w in zip(SORTS[backend](x), sorts_np(x)):
        same(g, w, f"x={x!r}")


def order_stats(x):
    return (np.median(x), np.median(x, axis=0), np.median(x, axis=-1, keepdims=True),
            np.quantile(x, 0.3), np.quantile(x, [0.0, 0.25, 0.5, 1.0], axis=0),
            np.percentile(x, 62.5, axis=-1, keepdims=True), np.percentile(x, np.array([[10.0], [90.0]]), axis=-1),
            jnp.median(x, axis=-1), jnp.quantile(x, 0.75, axis=0))


def order_stats_np(x):
    return (np.median(x), np.median(x, axis=0), np.median(x, axis=-1, keepdims=True),
            np.quantile(x, 0.3), np.quantile(x, [0.0, 0.25, 0.5, 1.0], axis=0),
            np.percentile(x, 62.5, axis=-1, keepdims=True), np.percentile(x, np.array([[10.0], [90.0]]), axis=-1),
            np.median(x, axis=-1), np.quantile(x, 0.75, axis=0))


STATS = {b: ppc.compile(order_stats, backend=b) for b in BACKENDS}


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=20, deadline=None, suppress_health_check=HC)
@given(x=arrays())
def test_median_quantile_percentile_match_numpy(backend, x):
    """NumPy's "linear" method (its own index arithmetic and lerp), NaN where a slice holds
    one, integers in float64, float32 kept by a Python-float q and widened by an array q.
    Within a few ulps: XLA may fuse the lerp's multiply and add (one rounding fewer)."""
    if np.dtype(x.dtype).kind == "i":
        x = np.clip(x, -100, 100)  # (NumPy's lerp of huge integers overflows the difference first)
    with np.errstate(all="ignore"):
        want = order_stats_np(x)
    for g, w in zip(STATS[backend](x), want):
        close(g, w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_quantile_edges(backend):
    """Integer q picks an element (dtype kept); axis tuples; an even median of infinities;
    size-1 and traced q."""
    x = rng.integers(-5, 5, size=(3, 4, 2))
    f = ppc.compile(lambda x, q: (np.quantile(x, 1), np.quantile(x, [0, 1], axis=1), np.median(x, axis=(0, 2)),
                                  np.quantile(x, 0.4, axis=(2, 0), keepdims=True),
                                  np.median(np.array([1.0, np.inf, np.inf, 4.0])),
                                  np.quantile(x, q, axis=1), np.percentile(x * 1.0, q * 100.0)), backend=backend)
    q = np.array([0.0, 0.1, 0.5, 0.99, 1.0])
    want = (np.quantile(x, 1), np.quantile(x, [0, 1], axis=1), np.median(x, axis=(0, 2)),
            np.quantile(x, 0.4, axis=(2, 0), keepdims=True), np.median(np.array([1.0, np.inf, np.inf, 4.0])),
            np.quantile(x, q, axis=1), np.percentile(x * 1.0, q * 100.0))
    for g, w in zip(f(x, q), want):
        close(g, w)
    one = ppc.compile(lambda v: (np.median(v), np.quantile(v, 0.3)), backend=backend)(np.array([2.5]))
    assert [float(v) for v in one] == [2.5, 2.5]


@pytest.mark.parametrize("backend", BACKENDS)
def test_take_along_axis_and_descending(backend):
    x = rng.normal(size=(3, 5))
    i = rng.integers(-5, 5, size=(3, 2))
    f = ppc.compile(lambda x, i: (np.take_along_axis(x, i, axis=1), np.take_along_axis(x, np.argsort(x, axis=0), axis=0),
                                  jnp.take_along_axis(x, i[:1], axis=1), np.take_along_axis(x, np.array([[4, 0]]), -1),
                                  np.take_along_axis(x[0], np.argsort(x[0])[::-1], axis=None),
                                  jnp.sort(x, axis=0, descending=True), jnp.argsort(x.astype(np.int32), descending=True)),
                    backend=backend)
    xi = x.astype(np.int32)
    want = (np.take_along_axis(x, i, axis=1), np.take_along_axis(x, np.argsort(x, axis=0), axis=0),
            np.take_along_axis(x, i[:1], axis=1), np.take_along_axis(x, np.array([[4, 0]]), -1),
            np.take_along_axis(x[0], np.argsort(x[0])[::-1], axis=None), np.asarray(jnp.sort(x, axis=0, descending=True)),
            np.asarray(jnp.argsort(xi, descending=True, stable=True)))
    for g, w in zip(f(x, i), want):
        same(g, w)


# ------------------------------------------------------------------ derivatives
def robust_loss(x, w):
    """A trimmed mean, a median-centred spread and quantiles, weighted."""
    s = jnp.sort(x, axis=-1)
    trimmed = jnp.mean(s[..., 1:-1] * w[1:-1], axis=-1)
    spread = jnp.sum(jnp.abs(x - jnp.median(x, axis=-1, keepdims=True)))
    q = jnp.quantile(x, jnp.array([0.1, 0.5, 0.8]), axis=-1)
    return jnp.sum(trimmed ** 2) + spread + jnp.sum(q * jnp.array([[1.0], [2.0], [-3.0]]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_matches_jax(backend):
    x = rng.normal(size=(3, 6))
    x[0, 2] = x[0, 4]  # a tie: the stable order decides who gets which slot, in both
    w = rng.normal(size=6)
    got = ppc.grad(ppc.compile(robust_loss, backend=backend), argnums=(0, 1))(x, w)
    want = jax.grad(robust_loss, argnums=(0, 1))(x, w)
    for g, v in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(v), rtol=1e-12, atol=1e-12)


def sorted_cubes(x):
    return jnp.sum(jnp.sort(x) ** 3 * jnp.arange(4.0))


def test_second_order_gradient_matches_jax():
    """The sort's tangent is a take, whose transpose is a scatter_add: any order works."""
    def outer(f, grad):
        return lambda x: jnp.sum(grad(f)(x) ** 2)
    x = np.array([0.3, -1.0, 2.0, 0.3])
    np.testing.assert_allclose(np.asarray(ppc.grad(outer(sorted_cubes, ppc.grad))(x)),
                               np.asarray(jax.grad(outer(sorted_cubes, jax.grad))(x)), rtol=1e-12)


def test_take_along_axis_gradient_accumulates():
    def f(x):
        return jnp.sum(jnp.take_along_axis(x, jnp.array([[0, 0, 2], [1, 1, 1]]), axis=1) ** 2)
    x = rng.normal(size=(2, 3))
    np.testing.assert_allclose(np.asarray(ppc.grad(f)(x)), np.asarray(jax.grad(f)(x)), rtol=1e-12)


# ------------------------------------------------------------------ batching
def per_member(x, q, n):
    """Order statistics of every member's own data, a per-member quantile, and a loop with
    a per-member trip count around a sort."""
    acc = 0.0
    k = 0
    while k < n:
        acc = acc + np.sort(x)[k]
        k += 1
    order = np.argsort(x)
    return (np.sort(x), order, np.median(x), np.quantile(x, q), np.percentile(x, [25.0, 75.0]),
            np.take_along_axis(x, order[::-1], axis=0), acc)


def per_member_np(x, q, n):
    order = np.argsort(x, kind="stable")
    return (np.sort(x, kind="stable"), order, np.median(x), np.quantile(x, q), np.percentile(x, [25.0, 75.0]),
            np.take_along_axis(x, order[::-1], axis=0), float(np.sum(np.sort(x)[:n])))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_matches_per_member_numpy(strategy):
    B = 5
    xs = rng.integers(-3, 4, size=(B, 6)) * 0.5
    xs[1, 2] = np.nan
    xs[3, 0] = -np.inf
    qs = np.array([0.0, 0.3, 0.5, 0.9, 1.0])
    ns = np.array([0, 6, 3, 1, 5])
    got = ppc.autobatch(per_member, strategy=strategy)(xs, qs, ns)
    for k in range(B):
        for g, w in zip(got, per_member_np(xs[k], qs[k], ns[k])):
            np.testing.assert_array_equal(np.asarray(g)[k], w, err_msg=f"member {k}")


# ------------------------------------------------------------------ refusals
def sorts_in_place(a):
    a.sort()
    return a


def sort_by_fields(a):
    return np.sort(a, order="x")


def other_method(a):
    return np.quantile(a, 0.5, method="nearest")


def q_out_of_range(a):
    return np.percentile(a, 101.0)


@pytest.mark.parametrize("fn, message, hint", [
    (sorts_in_place, "arrays are immutable in compiled code: a.sort", "a = np.sort(a)"),
    (sort_by_fields, "order=", None),
    (other_method, "only method='linear'", None),
    (q_out_of_range, r"Percentiles must be in the range \[0, 100\]", None),
])
def test_refusals_name_the_users_line(fn, message, hint):
    with pytest.raises(CompileError, match=message) as e:
        ppc.compile(fn)(np.array([2.0, 1.0]))
    msg = str(e.value)
    line = fn.__code__.co_firstlineno + 1
    assert f"test_sorting.py:{line}:" in msg, msg
    if hint:
        assert hint in msg, msg
