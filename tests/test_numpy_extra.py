"""Yet more NumPy functions (ppc/frontend/numpy_extra.py): values, shapes and dtypes
against NumPy and jax.numpy on the same inputs, derivatives against jax.grad, a TF run,
and refusals."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppc
from ppc.ir import CompileError
from test_numpy_more import _eq  # (the same comparison: values, shapes and dtypes)

rng = np.random.default_rng(3)
X = rng.normal(size=(4, 6))
Y = rng.normal(size=(4, 6))
V = np.sort(rng.normal(size=5))
Q = np.array([-3.0, -0.5, 0.0, -0.0, 0.3, 2.0, np.inf, -np.inf, V[0], V[-1]])
C = np.arange(24.0).reshape(2, 3, 4)
INTS = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _flat(o)]
    return [out]




def _check(fn, *args, backend="jax", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = _flat(fn(*args))
    got = _flat(ppc.compile(fn, backend=backend)(*args))
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        try:
            _eq(g, w, **kw)
        except AssertionError as e:
            raise AssertionError(f"output {i}: {e}") from None


# ------------------------------------------------------------------ fixed cases, NumPy

def np_splits(x, c):
    return (np.split(x, 2), np.split(x, [1, 3], axis=1), np.split(x, [2, 9, -1], axis=1),
            np.array_split(x, 4, axis=1), np.array_split(x[0], 4), np.hsplit(x, 3), np.vsplit(x, [1]),
            np.dsplit(c, 2), np.hsplit(x[0], [2]))


def np_shapes(x, c, v):
    return (np.append(x, v), np.append(x, x[:1], axis=0), np.append(x[0], [1.0, 2.0]),
            np.atleast_1d(v[0]), np.atleast_1d(x), np.atleast_2d(v), np.atleast_2d(v[0]), np.atleast_3d(v),
            np.atleast_3d(x), np.atleast_3d(c), np.atleast_1d(v, x), np.atleast_2d(v[0], x),
            np.column_stack([v, v * 2]), np.column_stack([x.T, v[:6] if v.size >= 6 else x[0]]),
            np.dstack([x, x]), np.dstack([v, v]), np.fliplr(x), np.flipud(x), np.flipud(v),
            np.rot90(x), np.rot90(x, 2), np.rot90(x, 3), np.rot90(x, -1), np.rot90(c, 1, (1, 2)), np.rot90(x, 4),
            np.broadcast_arrays(x, v[:1], x[0]))


def np_elementwise(x, y, q):
    return (np.copysign(x, y), np.copysign(3.0, q), np.signbit(q), np.signbit(x), np.isposinf(q), np.isneginf(q),
            np.sinc(q), np.sinc(x), np.fmod(x * 3, y), np.fmod(q, 0.7), np.fmod(-7.5, y),
            np.float_power(np.abs(x), y), np.float_power(2, x), np.logaddexp2(x, y), np.logaddexp2(q, 1.0))


def np_stats(x, y, v):
    return (np.tensordot(x, y, 2), np.tensordot(x, y.T, 1), np.tensordot(x, y, ([0], [0])),
            np.tensordot(x, y, axes=([1, 0], [1, 0])), np.tensordot(v, v, 0),
            np.cov(x), np.cov(x, rowvar=False), np.cov(x, bias=True), np.cov(x[0], y[0]), np.cov(x, ddof=0),
            np.cov(v), np.cov(x, y), np.corrcoef(x), np.corrcoef(x[0], y[0]), np.corrcoef(x, rowvar=False),
            np.trapezoid(x), np.trapezoid(x, dx=0.5, axis=0), np.trapezoid(x, v[:6] if v.size >= 6 else x[1]),
            np.trapezoid(x, y), np.trapezoid(v, v))


def np_nans(x):
    z = np.where(x > 1.0, np.nan, x)
    return (np.nanvar(z), np.nanstd(z), np.nanvar(z, axis=0), np.nanstd(z, axis=1, ddof=1),
            np.nanvar(z, axis=1, keepdims=True), np.nanstd(x))


def np_creation(x, v, q):
    return (np.logspace(0.0, 2.0, 5), np.logspace(0.0, 1.0, 4, endpoint=False, base=2.0), np.tri(3), np.tri(3, 5, 1),
            np.tri(4, 2, -1, dtype=np.int32), np.tril_indices(4), np.triu_indices(4, 1), np.tril_indices(3, -1, 5),
            np.diag_indices(3), np.diag_indices(2, 3), np.diagflat(x[:2, :2]), np.diagflat(v, -1), np.vander(v),
            np.vander(v, 3), np.vander(v, 4, increasing=True),
            np.select([x > 0.5, x < -0.5], [x, x * 2]), np.select([x > 0], [x], default=-1.0),
            np.select([q > 0, q < 0], [q, np.ones_like(q)], 7.0),
            np.interp(q, v, v ** 2), np.interp(x, v, np.arange(5.0), left=-1.0, right=9.0), np.interp(2.0, v, v),
            np.digitize(q, v), np.digitize(q, v, right=True), np.digitize(q, v[::-1]),
            np.digitize(q, v[::-1], right=True), np.digitize(x, [-1.0, 0.0, 1.0]))


def np_ints(i):
    return (np.split(i, 2, axis=1), np.append(i, [7, 8]), np.fliplr(i), np.rot90(i), np.signbit(i), np.fmod(i, 4),
            np.fmod(i, -4), np.copysign(i, -1), np.float_power(i, 2), np.tensordot(i, i, ([1], [1])), np.cov(i),
            np.trapezoid(i), np.vander(i[0], 3), np.digitize(i, [0, 2]), np.nanvar(i), np.sinc(i), np.isposinf(i),
            np.column_stack([i, i]), np.atleast_3d(i))


def np_f32(x, v):
    return (np.cov(x), np.corrcoef(x), np.copysign(x, -1.0), np.sinc(x), np.fmod(x, 0.5), np.float_power(x, 2),
            np.logaddexp2(x, x), np.trapezoid(x), np.trapezoid(x, dx=0.5), np.select([x > 0], [x]),
            np.select([x > 0], [x], 1.5), np.interp(x, v, v), np.append(x, [1.0]), np.atleast_1d(2.0),
            np.tensordot(x, x, 2), np.vander(v, 3), np.nanvar(x), np.nanstd(x, axis=0), np.logspace(0, 1, 3),
            np.logspace(0, 1, 3, dtype=np.float32), np.digitize(x, v), np.broadcast_arrays(x, 1.0), np.isposinf(x))


def jnp_f32(x, v):
    return (jnp.cov(x), jnp.corrcoef(x), jnp.copysign(x, -1.0), jnp.sinc(x), jnp.fmod(x, 0.5),
            jnp.float_power(x, 2), jnp.logaddexp2(x, x), jnp.trapezoid(x), jnp.select([x > 0], [x]),
            jnp.interp(x, v, v), jnp.append(x, 1.0), jnp.tensordot(x, x, 2), jnp.tensordot(x, 2.0, 0), jnp.vander(v, 3), jnp.nanvar(x),
            jnp.digitize(x, v), jnp.logspace(0, 1, 3))


CASES = [
    (np_splits, (X, C)),
    (np_shapes, (X, C, V)),
    (np_elementwise, (X, Y, Q)),
    (np_stats, (X, Y, V)),
    (np_nans, (X,)),
    (np_creation, (X, V, Q)),
    (np_ints, (INTS,)),
    (np_f32, (X.astype(np.float32), V.astype(np.float32))),
]


@pytest.mark.parametrize("fn,args", CASES, ids=[c[0].__name__ for c in CASES])
def test_numpy(fn, args):
    _check(fn, *args)


# ------------------------------------------------------------------ jnp spellings, against JAX

def jnp_all(x, y, v, q, c):
    z = jnp.where(x > 1.0, jnp.nan, x)
    return (jnp.split(x, 2), jnp.array_split(x, 4, axis=1), jnp.hsplit(x, [1, 4]), jnp.vsplit(x, 2), jnp.dsplit(c, 4),
            jnp.append(x, v), jnp.atleast_1d(v[0]), jnp.atleast_2d(v), jnp.atleast_3d(x), jnp.column_stack([v, v]),
            jnp.dstack([x, y]), jnp.fliplr(x), jnp.flipud(x), jnp.rot90(x), jnp.rot90(x, 3), jnp.copysign(x, y),
            jnp.signbit(q), jnp.isposinf(q), jnp.isneginf(q), jnp.sinc(q), jnp.fmod(x * 3, y), jnp.float_power(2.0, x),
            jnp.logaddexp2(x, y), jnp.tensordot(x, y, 2), jnp.tensordot(x, y, ([0], [0])), jnp.cov(x),
            jnp.cov(x, rowvar=False, ddof=0), jnp.corrcoef(x), jnp.trapezoid(x), jnp.trapezoid(x, v[:6] if
                                                                                              v.size >= 6 else x[1]),
            jnp.logspace(0.0, 2.0, 5), jnp.select([x > 0.5, x < -0.5], [x, x * 2], 0.0), jnp.interp(q, v, v ** 2),
            jnp.nanvar(z), jnp.nanstd(z, axis=0), jnp.tri(3, 4), jnp.tril_indices(4), jnp.triu_indices(3, 1),
            jnp.diag_indices(3), jnp.diagflat(v), jnp.vander(v, 3), jnp.digitize(q, v), jnp.digitize(q, v[::-1]),
            jnp.broadcast_arrays(x, v[:1]))


def jnp_ints(i):
    f = i.astype(jnp.float32)
    return (jnp.copysign(i, -1), jnp.sinc(i), jnp.cov(i), jnp.vander(i[0], 3), jnp.float_power(f, 2.0),
            jnp.trapezoid(i), jnp.interp(f, f[0], f[1]), jnp.tri(2), jnp.fmod(i, 4), jnp.nanvar(f), jnp.nanvar(i), jnp.nanstd(i, axis=0),
            jnp.corrcoef(i), jnp.digitize(i, jnp.array([0, 2])), jnp.select([i > 0], [i], 7), jnp.logaddexp2(i, i))


def test_jnp_spellings():
    _check(jnp_all, X, Y, V, Q, C)
    _check(jnp_ints, INTS)
    _check(jnp_f32, X.astype(np.float32), V.astype(np.float32))


# ------------------------------------------------------------------ derivatives

def loss(x, y, v):
    z = jnp.where(x > 1.0, jnp.nan, x)
    return (jnp.sum(jnp.split(x, 2)[1] * jnp.array_split(y, 2)[0]) + jnp.sum(jnp.append(x, v) ** 2)
            + jnp.sum(jnp.column_stack([v, v * 2]) ** 3) + jnp.sum(jnp.rot90(x) * jnp.fliplr(y).T)
            + jnp.sum(jnp.copysign(x, y) * y) + jnp.sum(jnp.sinc(x)) + jnp.sinc(0.0 * v[0])
            + jnp.sum(jnp.fmod(x * 3, y + 3.0)) + jnp.sum(jnp.float_power(jnp.abs(x) + 1, y))
            + jnp.sum(jnp.logaddexp2(x, y)) + jnp.sum(jnp.tensordot(x, y, ([0], [0])) ** 2)
            + jnp.sum(jnp.cov(x, y)) + jnp.sum(jnp.trapezoid(x * y, v[:6] if v.size >= 6 else y[0]))
            + jnp.sum(jnp.select([x > 0.5, x < -0.5], [x ** 2, y], 0.0)) + jnp.sum(jnp.interp(x, jnp.sort(v), v ** 2))
            + jnp.nanvar(z) + jnp.sum(jnp.nanstd(z, axis=0)) + jnp.sum(jnp.vander(v, 4) ** 2)
            + jnp.sum(jnp.diagflat(v) @ jnp.ones((5, 5))) + jnp.sum(jnp.broadcast_arrays(x, v[:1])[1] * x)
            + jnp.sum(jnp.dstack([x, y]) ** 2) + jnp.sum(jnp.corrcoef(x, y)[0, 1:] * jnp.arange(1.0, 8.0))
            + jnp.sum(jnp.logspace(v[0], v[1], 4)))


def test_gradients():
    want = jax.grad(loss, argnums=(0, 1, 2))(X, Y, V)
    got = ppc.grad(loss, argnums=(0, 1, 2))(X, Y, V)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ TF backend

def test_tf_backend():
    pytest.importorskip("tensorflow")
    _check(lambda x, y, v, q: (np.split(x, 3, axis=1), np.rot90(x), np.copysign(x, y), np.sinc(q), np.fmod(x * 3, y),
                               np.logaddexp2(x, y), np.tensordot(x, y, ([1], [1])), np.cov(x), np.corrcoef(x),
                               np.trapezoid(x), np.interp(q, v, v ** 2), np.digitize(q, v), np.nanstd(x),
                               np.select([x > 0], [x], -1.0), np.vander(v, 3), np.tril_indices(3)),
           X, Y, V, Q, backend="tf")


# ------------------------------------------------------------------ refusals

def test_errors():
    with pytest.raises(CompileError, match="equal division"):
        ppc.compile(lambda x: np.split(x, 5))(X)
    with pytest.raises(CompileError, match="compile time"):
        ppc.compile(lambda x, n: np.split(x, n))(X, np.int64(2))
    with pytest.raises(CompileError, match="period"):
        ppc.compile(lambda x: np.interp(x, V, V, period=1.0))(X)
    with pytest.raises(CompileError, match="aweights"):
        ppc.compile(lambda x: np.cov(x, aweights=x[0]))(X)
    with pytest.raises(CompileError, match="vsplit"):
        ppc.compile(lambda v: np.vsplit(v, 1))(V)
    with pytest.raises(CompileError, match="tensordot: shape mismatch"):
        ppc.compile(lambda x: np.tensordot(x, x, ([0], [1])))(X)
    with pytest.raises(CompileError, match="axes must be different"):
        ppc.compile(lambda x: np.rot90(x, 1, (1, 1)))(X)
