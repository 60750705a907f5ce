"""Plain Python under @ppc.compile computes what Python and NumPy compute, or is refused
with a located error. Each case once compiled wrongly or was refused."""
import math

import jax.numpy as jnp
import numpy as np
import pytest

import ppc

from programs import assert_tree_close


def check(fn, *args):
    assert_tree_close(ppc.compile(fn)(*args), fn(*args), check_dtype=True)


# -- argument binding --------------------------------------------------------------------

def keyword_only_default_of_a_closure(x):
    a = 1.0

    def g(y, *, s=a):  # s is 1.0: defaults are evaluated where the def stands
        return y + s
    a = 5.0
    return g(x) + a


def positional_only(x, /, y=2.0):
    return x - y


def calls_positional_only(x):
    return positional_only(x, 1.0), positional_only(x), positional_only(x, y=0.5)


def takes_varargs(a, *rest):
    return a + sum(rest) * len(rest)


def calls_varargs(x):
    def g(a, *xs, k=1.0):
        return a + xs[0] - xs[1] * k + len(xs)
    return (takes_varargs(x), takes_varargs(x, 1.0, 2.0), takes_varargs(*(x, x)),
            g(x, 2.0, 3.0, k=2.0), (lambda *t: sum(t))(x, x), (lambda a, /, b=1.0: a - b)(x))


@pytest.mark.parametrize("fn", [keyword_only_default_of_a_closure, calls_positional_only, calls_varargs])
def test_argument_binding(fn):
    check(fn, np.float64(4.0))


def test_positional_only_passed_by_keyword_is_refused():
    def f(x):
        return positional_only(x=x)
    with pytest.raises(ppc.CompileError, match="positional-only"):
        ppc.compile(f)(1.0)


def test_entry_with_varargs_is_refused_clearly():
    with pytest.raises(ppc.CompileError, match=r"'takes_varargs' takes \*args"):
        ppc.compile(takes_varargs)(1.0, 2.0)


# -- comparisons -------------------------------------------------------------------------

def membership(x, v):
    return 1.0 in (x, 2.0), 2.0 not in (x, 3.0), x in (1.0, 2.0), 2.0 in v, 7.0 not in v


def test_in_compares_traced_values_by_value():
    for x in (1.0, 2.0, 3.0):
        check(membership, np.float64(x), np.arange(3.0))


def chained(x, i):
    return 0 <= i < 3, 0 < x < 1 < 2, 3 < 1 < x, x < 1 < 0.5, 0 < x < np.sum(x * 2) < 10


def test_chained_comparisons():
    for x, i in ((0.5, 2), (-0.5, 7), (6.0, 0)):
        check(chained, np.float64(x), i)


def test_chained_comparison_of_arrays_is_refused():
    def f(a, b, c):
        return a < b < c
    with pytest.raises(ppc.CompileError, match="truth value of an array"):
        ppc.compile(f)(np.zeros(3), np.ones(3), np.ones(3))


# -- math and NumPy ----------------------------------------------------------------------

def rounds_to_int(x):
    return math.floor(x), math.ceil(x), math.trunc(x), math.floor(x) // 2


def rounds_static():
    return (math.floor(2.5), math.ceil(-2.1), math.trunc(-2.5), np.trunc(2.5), np.floor(3), np.floor(2.5),
            np.ceil(-0.5), np.trunc(-3))


def test_math_rounding_gives_ints():
    check(rounds_to_int, 2.5)
    check(rounds_to_int, -2.5)
    check(rounds_static)


def moves_axes(x):
    return np.moveaxis(x, (0, 1), (2, 0)), np.moveaxis(x, -1, 0), np.moveaxis(x, [0, 2], [-1, -2])


def test_moveaxis_with_sequences():
    check(moves_axes, np.arange(24.0).reshape(2, 3, 4))


def test_repeated_axes_are_refused():
    def f(x):
        return np.expand_dims(x, (0, 0))
    with pytest.raises(ppc.CompileError, match="repeated axis"):
        ppc.compile(f)(np.ones(3))


def numpy_folds_like_numpy():
    return np.sqrt(-1.0), np.log2(0.0), np.log10(-1.0), np.exp(1000.0), np.arcsin(2.0), np.log1p(-1.0)


def test_numpy_functions_of_numbers_give_nan_and_inf_as_numpy():
    with np.errstate(all="ignore"):
        check(numpy_folds_like_numpy)


def math_domain_error(x):
    return x + math.sqrt(-1.0)


def empty_max(x):
    return x + max(())


def huge_integer(x):
    return x + 10 ** 400


@pytest.mark.parametrize("fn,message", [
    (math_domain_error, r"sqrt\(\): ValueError: math domain error"),
    (empty_max, r"max\(\): ValueError"),
    (huge_integer, "too large for f64"),
])
def test_python_errors_at_compile_time_are_located(fn, message):
    with pytest.raises(ppc.CompileError, match=message) as e:
        ppc.compile(fn)(1.0)
    assert e.value.loc is not None and e.value.loc.file == __file__


def powers(x):
    return x ** 2.0, x ** 2, x ** 0.5, x ** np.float32(2.0)


@pytest.mark.parametrize("x", [np.array([3, 4]), np.array([3, 4], np.int32), np.array([3.0, 4.0], np.float32), 3])
def test_power_result_type_is_numpys(x):
    check(powers, x)


def truth_of_items(x, v):
    return (any([x > 0, x < -5]), all((x > 0, x < 5)), any(v), all(v), any(()), all([]),
            any(v[i] > 1 for i in range(3)))


def test_builtin_any_and_all():
    for x, v in ((1.0, [0.0, 2.0, 1.0]), (-10.0, [0.0, 0.0, 0.0]), (7.0, [1.0, 1.0, 1.0])):
        check(truth_of_items, np.float64(x), np.array(v))


def reductions(x):
    return (np.sum(x, axis=0), np.sum(x, axis=()), np.prod(x, axis=-1, keepdims=True), x.sum(),
            np.argmax(x, keepdims=True), np.argmin(x, axis=1, keepdims=True), np.max(x, axis=0), x.min(),
            np.argmax(x, axis=0))


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int64, np.float32, np.bool_])
def test_reductions_keep_numpys_dtypes_and_shapes(dtype):
    check(reductions, (np.arange(12).reshape(3, 4) % 5).astype(dtype))


@pytest.mark.parametrize("backend", ["jax", "tf"])
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int8, np.uint64, np.bool_, np.float32])
def test_cumsum_follows_numpy_and_jnp_cumsum_follows_jax(backend, dtype):
    """np.cumsum of int32 once stayed int32 and wrapped where NumPy's int64 does not; and
    TF/XLA has no Cumsum kernel for unsigned or 8-bit integers."""
    def f(x):
        return np.cumsum(x), x.cumsum(), jnp.cumsum(x)
    x = (np.array([2**30, 2**30, 2**30, 3]) if dtype == np.int32 else np.array([200, 100, 7, 1])).astype(dtype)
    want = (np.cumsum(x), x.cumsum(), np.asarray(jnp.cumsum(x)))
    for got, w in zip(ppc.compile(f, backend=backend)(x), want):
        assert np.asarray(got).dtype == w.dtype
        np.testing.assert_array_equal(got, w)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_int32_sums_that_numpy_keeps_in_int32_wrap_as_numpys(backend):
    """Builtin sum over an int32 array and einsum stay int32 in NumPy (and in the IR); the
    JAX backend's jnp.sum widened them to int64 at run time, so the result disagreed with
    both NumPy and the TF backend."""
    def f(x):
        return sum(x), np.einsum("i,i->", x, x)
    x = np.array([2**30, 2**30, 3], np.int32)
    for got, want in zip(ppc.compile(f, backend=backend)(x), f(x)):
        assert np.asarray(got).dtype == np.asarray(want).dtype == np.int32
        assert got == want


def copies(x, n):
    y = x.copy()
    z = np.copy(y) * 2
    return y + z + jnp.copy(z), np.copy(n), np.copy(3)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_copies_are_the_array_itself(backend):
    """x.copy(), np.copy and jnp.copy were refused ("no supported attribute 'copy'"), a
    NumPy habit; arrays cannot change in compiled code, so a copy is the array."""
    x, n = np.array([1.0, 2.0], np.float32), np.int32(4)
    for got, want in zip(ppc.compile(copies, backend=backend)(x, n), copies(x, n)):
        assert np.asarray(got).dtype == np.asarray(want).dtype
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(ppc.grad(lambda x: np.sum(x.copy() ** 2))(np.array([1.0, 2.0])), [2.0, 4.0])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.bool_])
def test_means_of_narrow_integers_do_not_wrap(dtype):
    """np.mean summed in the input dtype: the mean of four uint8 200s was 8.0, of int8 100s -28."""
    def stats(x):
        return np.mean(x), x.mean(axis=0), np.var(x), np.std(x)
    x = np.full((4, 2), 1 if dtype == np.bool_ else 100 if dtype == np.int8 else 200).astype(dtype)
    for got, want in zip(ppc.compile(stats)(x), stats(x)):
        np.testing.assert_allclose(got, want)


def masked_reductions(x, m):
    return (np.sum(x, where=m), np.sum(x, axis=1, where=m), np.mean(x, where=m), np.mean(x, axis=0, where=m),
            np.max(x, where=m, initial=-10.0), np.min(x, axis=1, where=m, initial=100.0), np.prod(x, where=m),
            np.sum(x, initial=5.0), np.any(x > 4, where=m), np.all(x > 0, where=m), x.sum(where=m),
            np.mean(np.array([1, 2, 3]), where=np.array([True, False, True])), np.mean(x, where=np.zeros_like(m)))


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_reductions_take_where_and_initial(backend):
    """where= and initial= were refused: a masked likelihood's habit (np.mean(x, where=mask))."""
    x = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
    with np.errstate(invalid="ignore"):
        want = masked_reductions(x, x > 0)
    for got, w in zip(ppc.compile(masked_reductions, backend=backend)(x, x > 0), want):
        assert np.asarray(got).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(got, w)
    np.testing.assert_allclose(ppc.grad(lambda x: np.mean(x ** 2, where=x > 0))(x), np.where(x > 0, x / 2, 0.0))
    with pytest.raises(ppc.CompileError, match="where= needs initial="):
        ppc.compile(lambda x: np.max(x, where=x > 0))(x)
