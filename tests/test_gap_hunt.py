"""Gaps found by hunting: mean/var/std result types per family (NumPy's vs JAX's), the sign
of a zero from max/min on the TF backend, and partitioning a program that runs a
program-counter machine. Each is checked against NumPy, JAX or the unpartitioned program."""
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import ppc
from ppc.partition import Mesh, apply, tile

DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.uint32, np.int64, np.uint64, np.float16,
          np.float32, np.float64]


# ------------------------------------------------ mean, var, std: NumPy's and JAX's types

def moments(x):
    """Each spelling once: np.* and methods follow NumPy (float64 for integers), jnp.*
    follows JAX (float32 for bools and integers up to 32 bits), dtype= included."""
    return (np.mean(x), jnp.mean(x), x.mean(axis=0), np.var(x), jnp.var(x, axis=1), np.std(x, ddof=1),
            jnp.std(x, keepdims=True), x.var(), x.std(axis=0),
            jnp.mean(x, dtype=jnp.float64), np.mean(x, dtype=np.float32), jnp.var(x, dtype=np.float32, ddof=1),
            np.std(x, dtype=np.float32), np.mean(x, dtype=np.int32), jnp.mean(x, axis=0, dtype=np.int64),
            np.var(x, dtype=np.int64), jnp.var(x, dtype=np.int32), np.std(x, dtype=np.int32),
            jnp.mean(x, where=x > 1), np.var(x, axis=1, where=x > 1), jnp.std(x, axis=0, where=x > 0),
            np.var(x, ddof=12), jnp.var(x, ddof=13), np.var(x, correction=1), x.mean(0, None, None, True))


def moments_reference(x):
    j = jnp.asarray(x)
    return (np.mean(x), jnp.mean(j), x.mean(axis=0), np.var(x), jnp.var(j, axis=1), np.std(x, ddof=1),
            jnp.std(j, keepdims=True), x.var(), x.std(axis=0),
            jnp.mean(j, dtype=jnp.float64), np.mean(x, dtype=np.float32), jnp.var(j, dtype=np.float32, ddof=1),
            np.std(x, dtype=np.float32), np.mean(x, dtype=np.int32), jnp.mean(j, axis=0, dtype=np.int64),
            np.var(x, dtype=np.int64), jnp.var(j, dtype=np.int32), np.std(x, dtype=np.int32),
            jnp.mean(j, where=j > 1), np.var(x, axis=1, where=x > 1), jnp.std(j, axis=0, where=j > 0),
            np.var(x, ddof=12), jnp.var(j, ddof=13), np.var(x, correction=1), x.mean(0, None, None, True))


def _same(got, want, rtol):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, equal_nan=True)


@pytest.mark.parametrize("backend", ["jax", "tf"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_mean_var_std_types_follow_numpy_for_np_and_jax_for_jnp(backend, dtype):
    """jnp.mean/var/std of int32, uint8 and bool arrays gave float64 where JAX gives float32."""
    x = (np.arange(12).reshape(3, 4) * 7 % 5).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (NumPy's ddof >= n: a division by zero)
        want = moments_reference(x)
    got = ppc.compile(moments, backend=backend)(x)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        try:
            _same(g, w, 2e-3 if dtype == np.float16 else 1e-6)
        except AssertionError as e:
            raise AssertionError(f"result {i}: {e}") from None


def test_jnp_results_are_float32_and_np_results_float64_for_int32():
    """The table above, spelled out for the case the gap was found on."""
    f = ppc.compile(lambda x: (jnp.mean(x), jnp.var(x), jnp.std(x), np.mean(x), np.var(x), x.std()))
    x = np.array([1, 2, 4, 9], np.int32)
    got = f(x)
    assert [np.asarray(g).dtype for g in got] == [np.float32] * 3 + [np.float64] * 3
    np.testing.assert_allclose(got, [4.0, 9.5, np.sqrt(9.5), 4.0, 9.5, np.sqrt(9.5)], rtol=1e-6)


@pytest.mark.parametrize("backend", ["jax", "tf"])
@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int32, np.int64, np.float32])
def test_selection_moments_follow_the_same_types(backend, dtype):
    """mean/var/std of a run-time selection (x[m]) take the family's types too."""
    def f(x, m):
        s = x[m]
        return (np.mean(s), jnp.mean(s), s.mean(), np.var(s), jnp.var(s), jnp.std(s, ddof=1), s.std(),
                np.std(s, dtype=np.float32))
    x = (np.arange(12) * 7 % 5).astype(dtype)
    m = np.arange(12) % 3 != 0
    s, j = x[m], jnp.asarray(x[m])
    want = (np.mean(s), jnp.mean(j), s.mean(), np.var(s), jnp.var(j), jnp.std(j, ddof=1), s.std(),
            np.std(s, dtype=np.float32))
    for g, w in zip(ppc.compile(f, backend=backend)(x, m), want):
        _same(g, w, 1e-6)


def test_moments_refuse_what_jax_and_numpy_refuse():
    x = np.arange(4, dtype=np.int32)
    with pytest.raises(ppc.CompileError, match="dtype argument to jnp.std must be inexact"):
        ppc.compile(lambda x: jnp.std(x, dtype=np.int32))(x)
    with pytest.raises(ppc.CompileError, match="dtype=bool is not supported"):
        ppc.compile(lambda x: np.mean(x, dtype=bool))(x)
    with pytest.raises(ppc.CompileError, match="ddof and correction"):
        ppc.compile(lambda x: np.var(x, ddof=1, correction=1))(x)


def test_jnp_moments_differentiate_in_float32():
    """A float32 model's jnp.var keeps its gradient in float32 (and equal to JAX's)."""
    import jax
    x = np.array([0.5, -1.0, 2.0, 3.5], np.float32)
    g = ppc.grad(lambda x: jnp.var(x) + jnp.std(x, ddof=1))(x)
    want = jax.grad(lambda x: jnp.var(x) + jnp.std(x, ddof=1))(x)
    assert np.asarray(g).dtype == np.float32
    np.testing.assert_allclose(g, want, rtol=1e-5)


# ------------------------------------------------------- max/min zero signs on TensorFlow

def extrema(x, y, a, b):
    return (np.maximum(x, y), np.minimum(x, y), jnp.maximum(x, y), np.max(np.stack([x, y]), axis=0),
            np.min(np.stack([x, y]), axis=0), np.clip(x, y, 1.0), np.max(x), np.min(y), np.maximum(a, b),
            np.minimum(a, b), max(a, b), min(a, b), a * 1.0, x.max(), y.min())


X = np.array([-0.0, 0.0, -0.0, 0.0, np.nan, 1.0, -0.0, -2.0])
Y = np.array([0.0, -0.0, -0.0, 0.0, 0.0, np.nan, np.nan, -0.0])


def _sign_equal(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    keep = ~np.isnan(want)
    np.testing.assert_array_equal(got[keep], want[keep])
    np.testing.assert_array_equal(np.signbit(got[keep]), np.signbit(want[keep]))  # (-0.0 == 0.0 above)


def test_tf_max_min_give_the_jax_backends_zero_signs_and_nans():
    """TF's max/min returned whichever zero came first (max(-0.0, 0.0) was -0.0; XLA and
    JAX give +0.0), and a 0.0 argument passed after a -0.0 arrived as -0.0 (TF's cache of
    converted Python numbers is keyed by value)."""
    on_jax, on_tf = ppc.compile(extrema, backend="jax"), ppc.compile(extrema, backend="tf")
    for a, b in [(-0.0, 0.0), (0.0, -0.0), (0.0, 0.0), (-0.0, -0.0), (np.float64(0.0), np.float64(-0.0))]:
        want = on_jax(X, Y, a, b)
        for i, (g, w) in enumerate(zip(on_tf(X, Y, a, b), want)):
            try:
                _sign_equal(g, w)
            except AssertionError as e:
                raise AssertionError(f"({a}, {b}) result {i}: {e}") from None


def test_the_jax_backends_zero_signs_are_jaxs():
    """The reference the TF backend now follows: jnp's own maximum/minimum/max/min
    (IEEE 754-2019: +0.0 is the larger zero), and NaN through all of them."""
    got = ppc.compile(extrema, backend="jax")(X, Y, -0.0, 0.0)
    j, k = jnp.asarray(X), jnp.asarray(Y)
    for g, w in [(got[0], jnp.maximum(j, k)), (got[1], jnp.minimum(j, k)), (got[3], jnp.max(jnp.stack([j, k]), 0)),
                 (got[4], jnp.min(jnp.stack([j, k]), 0)), (got[8], jnp.maximum(-0.0, 0.0)),
                 (got[9], jnp.minimum(-0.0, 0.0))]:
        _sign_equal(g, w)
    assert not np.signbit(got[8]) and np.signbit(got[9])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_tf_reductions_of_zeros_and_nans_match_jax(dtype):
    """Reductions over rows of signed zeros (and NaN for floats), whole and along each axis."""
    def f(x):
        return np.max(x, axis=1), np.min(x, axis=1), np.max(x, axis=0), np.min(x, axis=0), np.max(x), np.min(x)
    rows = [[-0.0, 0.0, -0.0], [-0.0, -0.0, -0.0], [0.0, 0.0, -0.0], [0.0, -1.0, -0.0], [-0.0, np.nan, 1.0]]
    x = np.array(rows if np.issubdtype(dtype, np.floating) else [[0, 1, -1], [2, 2, 0]]).astype(dtype)
    j = jnp.asarray(x)
    want = (jnp.max(j, axis=1), jnp.min(j, axis=1), jnp.max(j, axis=0), jnp.min(j, axis=0), jnp.max(j), jnp.min(j))
    for backend in ("jax", "tf"):
        for g, w in zip(ppc.compile(f, backend=backend)(x), want):
            _sign_equal(g, w)


# ------------------------------------- partitioning a program that runs a program-counter machine

def fib(n):
    if n < 2:
        return 1
    return fib(n - 1) + fib(n - 2)


def deep(n):
    if n == 0:
        return 0
    return 1 + deep(n - 1)


def horner(c, x, n):
    if n == 0:
        return np.zeros_like(c)
    return c + x * horner(c * 0.5, x, n - 1)


FIB = ppc.autobatch(fib, max_stack_depth=16)
DEEP = ppc.autobatch(deep, max_stack_depth=4)
HORNER = ppc.autobatch(horner, max_stack_depth=12)


@ppc.compile
def twice_fib(ns):
    return FIB(ns) * 2


@ppc.compile
def fib_in_loop(ns, reps):
    total = ns * 0
    for i in range(reps):
        total = total + FIB(ns + i)
    return total


@ppc.compile
def polys(c, x, ns):
    out = HORNER(c[None], x, ns)
    return np.sum(out, axis=1) + np.sum(c), out


@ppc.compile
def calls_deep(ns):
    return DEEP(ns) + 1


MESH = Mesh({"batch": 4})
NS = np.array([0, 1, 5, 6, 7, 3, 2, 4])
C, XS, PS = np.linspace(1.0, 2.0, 8), np.linspace(0.1, 0.9, 4), np.array([0, 3, 5, 2])


@pytest.mark.parametrize("f,args,tactics", [
    (twice_fib, (NS,), [tile("ns", 0, "batch")]),
    (fib_in_loop, (NS, 3), [tile("ns", 0, "batch")]),
    (polys, (C, XS, PS), [tile("c", 0, "batch")]),
    (polys, (C, XS, PS), [tile("x", 0, "batch")]),
    (polys, (C, XS, PS), [tile("x", 0, "batch"), tile("ns", 0, "batch"), tile("c", 0, "batch")]),
], ids=["twice_fib", "fib_in_loop", "polys-c", "polys-x", "polys-all"])
def test_partitioning_a_program_that_runs_a_machine_equals_it_unpartitioned(f, args, tactics):
    """This failed with "cannot partition 'zeros': primitive 'zeros' has no tiling rule":
    the machine a program-counter batch runs inside the caller now runs whole on every
    device (its inputs gathered before it starts), and the rest of the program is tiled."""
    want = f(*args)
    step = apply(f, tactics, MESH)
    got = step(*args)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    ir = step.ir(*args)
    from ppc.ir import print_module
    text = print_module(ir) if not isinstance(ir, str) else ir
    assert "all_gather" in text  # (the machine's tiled inputs, gathered once before it runs)


def test_partitioned_program_still_reports_a_machine_overflow():
    step = apply(calls_deep, [tile("ns", 0, "batch")], MESH)
    np.testing.assert_array_equal(step(np.array([1, 2, 3, 1])), [2, 3, 4, 2])
    with pytest.raises(ppc.StackOverflowError, match="max_stack_depth=4"):
        step(np.array([1, 2, 9, 1]))



# -- np.fmax / np.fmin: a NaN gives way ----------------------------------------------------

def fmax_fmin(x, y):
    return np.fmax(x, y), np.fmin(x, y), jnp.fmax(x, 2.0), jnp.fmin(y, -1.0)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_fmax_fmin_ignore_a_nan_operand(backend):
    """They were maximum/minimum, so np.fmax(nan, 0.0) gave nan where NumPy gives 0.0."""
    x = np.array([np.nan, 1.0, np.nan, 5.0, -3.0])
    y = np.array([0.0, np.nan, np.nan, 2.0, 4.0])
    got = ppc.compile(fmax_fmin, backend=backend)(x, y)
    want = (np.fmax(x, y), np.fmin(x, y), np.fmax(x, 2.0), np.fmin(y, -1.0))
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), w)
    grad = ppc.grad(lambda a, b: np.sum(np.fmax(a, b) * np.arange(5.0)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(grad[0], [0.0, 1.0, 2.0, 3.0, 0.0])  # (the operand taken gets it)
    np.testing.assert_array_equal(grad[1], [0.0, 0.0, 0.0, 0.0, 4.0])


# -- nanmean and average follow the same types ------------------------------------------------

def nan_moments(x, w):
    return (np.nanmean(x), jnp.nanmean(x), np.average(x), jnp.average(x), jnp.average(x, weights=w),
            np.average(x, weights=w), jnp.nanmean(x, axis=0), jnp.average(x, axis=0, returned=True)[0])


@pytest.mark.parametrize("backend", ["jax", "tf"])
@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int32, np.int64, np.float32, np.float64],
                         ids=lambda d: np.dtype(d).name)
def test_nanmean_and_average_types_follow_numpy_and_jax(backend, dtype):
    """jnp.nanmean and jnp.average of int32 gave float64 where JAX gives float32."""
    x = (np.arange(6).reshape(2, 3) % 3).astype(dtype)
    w = np.ones((2, 3), dtype)
    got = ppc.compile(nan_moments, backend=backend)(x, w)
    for g, want in zip(got, nan_moments(x, w)):
        g, want = np.asarray(g), np.asarray(want)
        assert g.dtype == want.dtype
        np.testing.assert_allclose(g, want, rtol=1e-6)
