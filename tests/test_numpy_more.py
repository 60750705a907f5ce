"""More NumPy functions (ppc/frontend/numpy_more.py), each composed from existing
primitives: values and dtypes against NumPy on both backends (hypothesis over shapes,
axes and dtypes), jnp spellings, derivatives against jax.grad (cumprod with zeros among
them), both batching strategies, partitioning, and the refusals with the user's line."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ppc
from ppc.autobatch import shared
from ppc.ir import CompileError

BACKENDS = ["jax", "tf"]
STRATEGIES = ["local_static", "program_counter"]
rng = np.random.default_rng(1)


def _eq(got, want, rtol=1e-12, dtype=True):
    got, want = np.asarray(got), np.asarray(want)
    if dtype:
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype == bool or np.issubdtype(want.dtype, np.integer):
        np.testing.assert_array_equal(got, want)
    else:
        tol = rtol if want.dtype == np.float64 else 2e-6
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


def _check(fn, *args, backend="jax", compiled=None, reference=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (NumPy's warnings on NaN slices and overflow)
        want = (reference or fn)(*args)
    got = (compiled or ppc.compile(fn, backend=backend))(*args)
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _eq(g, w, **kw)
    else:
        _eq(got, want, **kw)


# ------------------------------------------------------------------ every function, fixed cases

def shifts(x):
    return (np.diff(x), np.diff(x, 2, axis=0), np.diff(x, 0), np.diff(x, prepend=0.0, append=x[:, :1]),
            np.roll(x, 2), np.roll(x, -5, axis=1), np.roll(x, (1, 2), axis=(0, 1)), np.roll(x, 0),
            np.tile(x, 2), np.tile(x, (2, 1, 2)), np.tile(x[0], (3, 1)),
            np.repeat(x, 2), np.repeat(x, [1, 0, 2], axis=0), x.repeat(3, axis=1), np.repeat(x, (2,), axis=-1),
            np.repeat(x[0], 0))


def matrices(x):
    return (np.triu(x), np.tril(x, -1), np.triu(x, 2), np.tril(x[0]), np.triu(x, -7),
            np.diag(x), np.diag(x, 1), np.diag(x, -2), np.diag(x, 9), np.diag(x[0]), np.diag(x[0], -2), np.diag(x[1], 3),
            np.diagonal(x), np.diagonal(x, -1), x.diagonal(2), np.trace(x), np.trace(x, 1), x.trace(-1),
            np.kron(x, x[:2, :2]), np.kron(x[0], x), np.kron(x[0, :2], x[1]),
            np.cross(x[:, :3], x[:, 1:]), np.cross(x[0, :3], x[:, 1:]))


def stacks(x):
    y = np.stack([x, x * 2 + 1])  # (2, 3, 4)
    return (np.diagonal(y, 0, 1, 2), np.diagonal(y, 1, 2, 0), np.trace(y, 0, 1, 2), np.tril(y, 1),
            np.cross(np.moveaxis(y[:, :, :3], 2, 0), np.moveaxis(y[:, :, 1:], 2, 0), axis=0), np.kron(y, x[:1]),
            np.linalg.norm(y, axis=(1, 2)), np.linalg.norm(y, 1, axis=(2, 0)), np.cumprod(y, axis=1))


def closeness(x, y):
    return (np.isclose(x, y), np.isclose(x, y, rtol=0.1), np.isclose(x, y, atol=0.5, equal_nan=True),
            np.isclose(x, 1.0), np.allclose(x, y), np.allclose(x, x, equal_nan=True), np.allclose(x, x))


def norms(x):
    return (np.linalg.norm(x), np.linalg.norm(x, axis=1), np.linalg.norm(x, 1, axis=0),
            np.linalg.norm(x, np.inf, axis=1, keepdims=True), np.linalg.norm(x, -np.inf, axis=0),
            np.linalg.norm(x, 0, axis=1), np.linalg.norm(x, 3, axis=1), np.linalg.norm(x, 2, axis=-1),
            np.linalg.norm(x, "fro"), np.linalg.norm(x, 1), np.linalg.norm(x, np.inf), np.linalg.norm(x, -1),
            np.linalg.norm(x, keepdims=True), np.linalg.norm(x[0]), np.linalg.norm(x[0], np.inf),
            np.linalg.norm(x, None, (0, 1), True))


def stats(x):
    return (np.count_nonzero(x), np.count_nonzero(x, axis=0), np.count_nonzero(x, axis=1, keepdims=True),
            np.average(x), np.average(x, axis=1, weights=np.arange(1.0, 5.0)), np.average(x, weights=x * x + 1),
            np.average(x, axis=0, weights=[1, 2, 3]), np.average(x, axis=(0, 1), keepdims=True),
            np.average(x, axis=1, weights=np.arange(4.0), returned=True),
            np.ptp(x), np.ptp(x, axis=0), np.ptp(x, axis=1, keepdims=True))


def elementwise(x):
    return (np.deg2rad(x), np.rad2deg(x), np.radians(x), np.degrees(x), np.cbrt(x),
            np.heaviside(x, 0.5), np.heaviside(x, x), np.nan_to_num(x), np.nan_to_num(x, nan=-1.0, posinf=7.0),
            np.nan_to_num(x, neginf=-3.0), np.polyval([1.0, -2.0, 3.0], x), np.polyval(x[0], x),
            np.polyval(np.array([2, 1]), x), np.polyval([], x))


def nan_reductions(x):
    return (np.nansum(x), np.nansum(x, axis=0), np.nanmean(x), np.nanmean(x, axis=1, keepdims=True),
            np.nanmax(x), np.nanmax(x, axis=0), np.nanmin(x, axis=1), np.nanmin(x, keepdims=True))


def cumulative(x):
    return np.cumprod(x), np.cumprod(x, axis=0), np.cumprod(x, axis=1), x.cumprod(axis=-1), np.cumprod(x[:, :0], axis=1)


def meshgrids(x, y):
    return (tuple(np.meshgrid(x, y)) + tuple(np.meshgrid(x, y, indexing="ij")) + tuple(np.meshgrid(x))
            + tuple(np.meshgrid(x, y, x[:2], indexing="xy")) + tuple(np.meshgrid(x, y, sparse=True)))


def scalars(x):
    s = x[0, 0]
    return (np.deg2rad(2), np.cbrt(8), np.cbrt(-27.0), np.heaviside(1, 0.5), np.polyval([1, 2], 3),
            np.nan_to_num(1.0), np.cbrt(s), np.heaviside(s, 2), np.isclose(s, 1), np.rad2deg(s))


MATRIX = np.array([[1.5, -2.0, 0.0, 3.0], [-0.5, 4.0, 2.0, -1.0], [0.0, 1.0, -3.0, 2.5]])
SPECIAL = np.array([[np.nan, -np.inf, 0.0, 3.0], [-0.0, np.inf, 2.0, np.nan], [np.nan, np.nan, np.nan, np.nan]])
INTS = np.array([[1, -2, 0, 3], [4, 0, 2, -1], [0, 1, -3, 2]], dtype=np.int32)
UNARY = [shifts, matrices, stacks, norms, stats, elementwise, nan_reductions, cumulative, scalars]


def _inputs(fn, backend):
    special = fn in (shifts, matrices, elementwise, nan_reductions, cumulative, scalars)
    if backend == "tf":  # (TF compiles slowly: fewer inputs)
        return [SPECIAL.astype(np.float32) if special else MATRIX]
    xs = [MATRIX, MATRIX.astype(np.float32), INTS, INTS.astype(np.int64)]
    if fn in (shifts, nan_reductions, cumulative):
        xs.append(INTS > 0)
    if special:
        xs += [SPECIAL, SPECIAL.astype(np.float32)]
    return xs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", UNARY, ids=lambda f: f.__name__)
def test_matches_numpy(fn, backend):
    compiled = ppc.compile(fn, backend=backend)
    for x in _inputs(fn, backend):
        _check(fn, x, compiled=compiled)


@pytest.mark.parametrize("backend", BACKENDS)
def test_isclose_and_meshgrid_match_numpy(backend):
    y = MATRIX + np.array([1e-9, 0.1, 0.6, 2.0])
    z = SPECIAL.copy()
    z[0, 0], z[1, 1] = 1.0, -np.inf
    c = ppc.compile(closeness, backend=backend)
    for a, b in ((MATRIX, y), (SPECIAL, SPECIAL), (SPECIAL, z), (MATRIX.astype(np.float32), y.astype(np.float32)),
                 (INTS, INTS + 1), (INTS, MATRIX[0])):
        _check(closeness, a, b, compiled=c)
    m = ppc.compile(meshgrids, backend=backend)
    for a, b in ((MATRIX[0], MATRIX[1, :3]), (INTS[0], MATRIX[:2, :2]), (INTS[0, :3], INTS[1].astype(np.float32))):
        _check(meshgrids, a, b, compiled=m)


def jnp_spellings(x):
    return (jnp.diff(x), jnp.roll(x, 1, axis=0), jnp.tile(x, 2), jnp.repeat(x, 2, axis=1), jnp.triu(x), jnp.tril(x),
            jnp.diag(x), jnp.diag(x[0], 1), jnp.diagonal(x), jnp.trace(x), jnp.kron(x, x[:1]),
            jnp.cross(x[:, :3], x[:, 1:]), jnp.isclose(x, x * 1.1), jnp.allclose(x, x), jnp.linalg.norm(x),
            jnp.linalg.norm(x, 1, axis=0), jnp.count_nonzero(x), jnp.average(x, 0, x), jnp.ptp(x),
            jnp.nan_to_num(x), jnp.deg2rad(x), jnp.rad2deg(x), jnp.radians(x), jnp.degrees(x), jnp.cbrt(x),
            jnp.heaviside(x, 0.5), jnp.polyval(x[0], x), jnp.nansum(x), jnp.nanmean(x), jnp.nanmax(x, 0),
            jnp.nanmin(x, 1), jnp.cumprod(x, 1)) + tuple(jnp.meshgrid(x[0], x[1]))


JITTED_SPELLINGS = jax.jit(jnp_spellings)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jnp_spellings_match_jax(backend):
    """On float64 and float32 the dtypes are JAX's too (integers become float64 in the
    floating functions, as in NumPy: JAX gives float32 there)."""
    c = ppc.compile(jnp_spellings, backend=backend)
    for x in (MATRIX, MATRIX.astype(np.float32)):
        _check(jnp_spellings, x, compiled=c, reference=JITTED_SPELLINGS)
    _check(lambda x: (jnp.cumprod(x), jnp.trace(x), jnp.nansum(x)), INTS)  # jnp.cumprod keeps int32, as JAX


# ------------------------------------------------------------------ hypothesis: shapes, axes, dtypes

DTYPES = [np.float64, np.float32, np.int32, np.int64, np.bool_]


@st.composite
def arrays(draw, min_rank=1, max_rank=3, dtypes=DTYPES, max_side=4):
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=min_rank, max_size=max_rank)))
    dt = draw(st.sampled_from(dtypes))
    n = int(np.prod(shape))
    vals = np.array(draw(st.lists(st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]), min_size=n, max_size=n)))
    if dt is np.bool_:
        return (vals > 0).reshape(shape)
    return vals.astype(dt).reshape(shape) if np.issubdtype(dt, np.floating) else np.trunc(vals).astype(dt).reshape(shape)


def along(x, axis, k):
    return (np.diff(x, axis=axis), np.diff(x, k % 3, axis=axis), np.roll(x, k, axis=axis), np.roll(x, k),
            np.repeat(x, k % 3, axis=axis), np.cumprod(x, axis=axis), np.count_nonzero(x, axis=axis),
            np.tile(x, (k % 3 + 1, 2)))


def reductions_along(x, axis, k):
    return (np.nansum(x, axis=axis), np.nanmean(x, axis=axis), np.ptp(x, axis=axis, keepdims=True),
            np.nanmax(x, axis=axis), np.nanmin(x, axis=axis, keepdims=True),
            np.linalg.norm(x, [None, 1, np.inf, 2][k % 4], axis=axis), np.average(x, axis=axis))


def planes(x, axis, k):
    other = (axis + 1) % x.ndim
    return (np.diagonal(x, k, axis, other), np.trace(x, k, axis, other), np.triu(x, k), np.tril(x, -k),
            np.kron(x, x[..., :2]))


ALONG = ppc.compile(along, static_argnums=(1, 2))
REDUCTIONS = ppc.compile(reductions_along, static_argnums=(1, 2))
PLANES = ppc.compile(planes, static_argnums=(1, 2))


@settings(max_examples=25, deadline=None)
@given(x=arrays(), data=st.data())
def test_axes_shapes_and_dtypes(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    k = data.draw(st.integers(-5, 5))
    _check(along, x, axis, k, compiled=ALONG)


@settings(max_examples=20, deadline=None)
@given(x=arrays(dtypes=[np.float64, np.float32, np.int32]), data=st.data())
def test_reductions_shapes_and_dtypes(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    if x.size == 0:  # (max and min of nothing are errors, in NumPy as in ppc)
        return
    if np.issubdtype(x.dtype, np.floating) and data.draw(st.booleans()):
        x = np.where(x == 0.5, np.nan, x).astype(x.dtype)
    _check(reductions_along, x, axis, data.draw(st.integers(0, 3)), compiled=REDUCTIONS)


@settings(max_examples=20, deadline=None)
@given(x=arrays(min_rank=2, max_rank=3), data=st.data())
def test_planes_shapes_and_dtypes(x, data):
    axis = data.draw(st.integers(0, x.ndim - 1))
    _check(planes, x, axis, data.draw(st.integers(-4, 4)), compiled=PLANES)


# ------------------------------------------------------------------ derivatives

def smooth_loss(x, w):
    """Each differentiable function once, into one scalar."""
    v = x[0]
    return (jnp.sum(jnp.diff(x, axis=1) * w[:, 1:]) + jnp.sum(jnp.roll(x, 1) * w) + jnp.sum(jnp.tile(x, 2) ** 2)
            + jnp.sum(jnp.repeat(x, 2, axis=0) * jnp.repeat(w, 2, axis=0))
            + jnp.sum(jnp.repeat(v, jnp.array([1, 0, 2, 1]), total_repeat_length=5) ** 3)
            + jnp.sum(jnp.triu(x) * w) + jnp.sum(jnp.tril(x, 1) ** 2) + jnp.sum(jnp.diag(v, 1)[1:, :4] * jnp.diag(v))
            + jnp.sum(jnp.diagonal(x, 1) ** 2) + jnp.trace(x) * jnp.trace(w) + jnp.sum(jnp.kron(x, w[:2, :2]) ** 2)
            + jnp.sum(jnp.cross(x[:, :3], w[:, 1:]) ** 2) + jnp.linalg.norm(x) + jnp.sum(jnp.linalg.norm(x, axis=1))
            + jnp.sum(jnp.linalg.norm(x, 1, axis=0)) + jnp.sum(jnp.linalg.norm(x, jnp.inf, axis=1))
            + jnp.sum(jnp.linalg.norm(x, 3, axis=1)) + jnp.linalg.norm(x, "fro")
            + jnp.average(x, weights=w ** 2 + 1) + jnp.sum(jnp.average(x, axis=1, weights=w[0] ** 2))
            + jnp.sum(jnp.ptp(x, axis=1)) + jnp.sum(jnp.nan_to_num(jnp.log(x)) * w) + jnp.sum(jnp.deg2rad(x) * w)
            + jnp.sum(jnp.rad2deg(x)) + jnp.sum(jnp.cbrt(x) * w) + jnp.sum(jnp.polyval(v, w))
            + jnp.sum(jnp.polyval(jnp.array([1.0, -2.0, 3.0]), x) * w) + jnp.nansum(jnp.log(x) * w)
            + jnp.nanmean(jnp.sqrt(x)) + jnp.sum(jnp.nanmax(jnp.sqrt(x), axis=0)) + jnp.nanmin(jnp.log(x))
            + jnp.sum(jnp.cumprod(x, axis=1) * w) + jnp.sum(jnp.meshgrid(v, w[1])[0] * jnp.meshgrid(v, w[1])[1]))


def _x_w():
    x = rng.normal(size=(3, 4))
    x[0, 0] = 2.5  # (a unique max and min per row for max and min's derivative)
    return x, rng.normal(size=(3, 4))


JAX_GRAD = jax.jit(jax.grad(smooth_loss, argnums=(0, 1)))


def test_grad_matches_jax():
    for _ in range(2):
        x, w = _x_w()
        got = ppc.grad(smooth_loss, argnums=(0, 1))(x, w)
        for g, h in zip(got, JAX_GRAD(x, w)):
            np.testing.assert_allclose(np.asarray(g), np.asarray(h), rtol=1e-10, atol=1e-12)


def test_grad_on_tf_matches_jax():
    x, w = _x_w()
    got = ppc.grad(ppc.compile(smooth_loss, backend="tf"))(x, w)
    np.testing.assert_allclose(np.asarray(got), JAX_GRAD(x, w)[0], rtol=1e-10, atol=1e-12)


def test_grad_of_static_per_element_repeats():
    x = rng.normal(size=(3, 2))
    got = ppc.grad(lambda x: np.sum(np.repeat(x, [1, 0, 2], axis=0) ** 3))(x)
    want = jax.grad(lambda x: jnp.sum(jnp.repeat(x, np.array([1, 0, 2]), axis=0, total_repeat_length=3) ** 3))(x)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def cumprod_loss(x, w):
    return jnp.sum(jnp.cumprod(x) * w) + jnp.sum(jnp.cumprod(x[::-1]) ** 2)


@pytest.mark.parametrize("zeros", [[2], [0, 5], [1, 3], []])
def test_cumprod_grad_exact_at_zeros(zeros):
    """d cumprod where elements are 0: no division by x (jax.grad is exact there too)."""
    x, w = rng.normal(size=6), rng.normal(size=6)
    x[zeros] = 0.0
    got = ppc.grad(cumprod_loss)(x, w)
    want = jax.grad(cumprod_loss)(x, w)
    assert np.all(np.isfinite(np.asarray(got)))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-14)
    # and an n-d cumprod along an inner axis with zeros
    y = rng.normal(size=(2, 5, 3))
    y[0, 1, :], y[1, 3, 2] = 0.0, 0.0
    f = lambda y: jnp.sum(jnp.cumprod(y, axis=1) ** 2)  # noqa: E731
    np.testing.assert_allclose(np.asarray(ppc.grad(f)(y)), jax.grad(f)(y), rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ batching

def per_member(x, n):
    """A while loop with a per-member trip count around several of the functions."""
    acc = jnp.zeros(3)
    k = 0
    while k < n:
        acc = acc + jnp.cumprod(jnp.roll(x[k], 1))[:3] + jnp.diff(x[k], prepend=0.0)[1:]
        k += 1
    return (acc, jnp.linalg.norm(x, axis=1), jnp.nanmax(x), jnp.trace(x[:, :4]), jnp.cross(x[0, :3], x[1, :3]),
            jnp.repeat(x[0], n % 3, total_repeat_length=7), jnp.repeat(x[1], np.array([0, 1, 2, 1]), total_repeat_length=3),
            jnp.isclose(x[0], x[1]), jnp.diag(x[0], -1), jnp.nan_to_num(x / x[0]))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_matches_members(strategy):
    B = 4
    xs = rng.normal(size=(B, 4, 4))
    xs[1, 0, 2], xs[2, 3, 1] = np.nan, 0.0
    ns = np.array([0, 4, 2, 1])
    f = ppc.autobatch(per_member, strategy=strategy)
    for args, member in (((xs, ns), lambda k: (xs[k], ns[k])), ((shared(xs[1]), ns), lambda k: (xs[1], ns[k]))):
        got = f(*args)
        for k in range(B):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = per_member(*member(k))
            for g, w in zip(got, want):
                _eq(np.asarray(g)[k], w, dtype=False)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_of_grad(strategy):
    xs, ws = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    xs[0, 2] = 0.0
    g = np.asarray(ppc.autobatch(ppc.grad(cumprod_loss), strategy=strategy)(xs, ws))
    for k in range(3):
        np.testing.assert_allclose(g[k], jax.grad(cumprod_loss)(xs[k], ws[k]), rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ partitioning

def partitioned(x):
    return jnp.cumprod(x, axis=1), jnp.diff(x, axis=0), jnp.roll(x, 1, axis=0), jnp.linalg.norm(x, axis=1)


def test_partitioned():
    from ppc.partition import Mesh, apply, tile
    x = rng.normal(size=(8, 4))
    for tactics in ([tile("x", 0, "batch")], [tile("x", 1, "batch")]):
        got = apply(partitioned, tactics, Mesh({"batch": 4}))(x)
        for g, w in zip(got, partitioned(x)):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12)


# ------------------------------------------------------------------ refusals

def traced_repeats(x):
    return np.repeat(x, x.astype(np.int64))


def traced_shift(x):
    return np.roll(x, x[0].astype(np.int64))


def cubic_matrix_norm(x):
    return np.linalg.norm(x, 3)


def same_axes_norm(x):
    return jnp.linalg.norm(x, "nuc", axis=(1, 1))


def norm_of_3d(x):
    return np.linalg.norm(x.reshape(1, 3, 4), 1)


def cross_of_2d(x):
    return np.cross(x[:, :2], x[:, 2:])


def diag_of_3d(x):
    return np.diag(x.reshape(3, 2, 2))


def bad_indexing(x):
    return np.meshgrid(x[0], x[1], indexing="xx")


def traced_k(x):
    return np.triu(x, x[0, 0].astype(np.int64))


@pytest.mark.parametrize("fn, message, hint", [
    (traced_repeats, "repeat's repeats must be known at compile time", "list or tuple of ints"),
    (traced_shift, "roll's shift must be known at compile time", "static_argnums"),
    (cubic_matrix_norm, r"np.linalg.norm with ord=3 on matrices is not supported", "'nuc', 1, -1, 2, -2"),
    (same_axes_norm, r"repeated axis in \(1, 1\)", None),
    (norm_of_3d, r"needs a 1-d or 2-d array, or axis=, got shape \(1, 3, 4\)", None),
    (cross_of_2d, "cross here takes 3-vectors only, got vectors of sizes 2 and 2", "a[..., 0] * b[..., 1]"),
    (diag_of_3d, r"diag needs a 1-d or 2-d array, got shape \(3, 2, 2\)", "np.diagonal"),
    (bad_indexing, "meshgrid's indexing must be 'xy' or 'ij'", None),
    (traced_k, "k must be known at compile time", None),
])
def test_refusals_name_the_users_line(fn, message, hint):
    with pytest.raises(CompileError, match=message) as e:
        ppc.compile(fn)(MATRIX)
    msg = str(e.value)
    line = fn.__code__.co_firstlineno + 1
    assert f"test_numpy_more.py:{line}:" in msg, msg
    if hint:
        assert hint in msg, msg
