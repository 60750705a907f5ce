"""Boolean-mask indexing: a mask known at compile time gathers with NumPy's static shape;
a mask computed at run time gives a selection that elementwise operations map through
and reductions consume (the same source run by NumPy is the reference), which
differentiates, batches and runs on TensorFlow; anything needing its shape is refused
at the line that asks for it."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import ppc
from ppc.frontend.lower import CompileError

MASK = np.array([True, False, True, True, False])
MASK2 = np.array([[True, False, True], [False, False, True]])
NONE = np.zeros(5, bool)
ROWS = np.array([True, False, True])


# ------------------------------------------------------------------ masks known at compile time

def constant_masks(x, y):
    evens = np.arange(5) % 2 == 0
    return (x[MASK], x[~MASK] * 2.0, x[evens], x[[True, True, False, False, True]], x[NONE],
            y[MASK2], y[:, :, [True, False, True, True]], y[MASK2, 1:3], np.sum(x[MASK]))


def closure_mask(m):
    def f(x):
        return x[:, m], x[..., m], x[1][m]
    return f


def mask_argument(x, m):
    return x[np.array(m)] + 1.0


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_masks_known_at_compile_time_select_with_numpys_static_shape(backend):
    x, y = np.arange(5.0) - 2.0, np.arange(24.0).reshape(2, 3, 4)
    for got, want in zip(ppc.compile(constant_masks, backend=backend)(x, y), constant_masks(x, y)):
        assert got.shape == np.shape(want)
        np.testing.assert_array_equal(got, want)
    z = np.arange(10.0).reshape(2, 5)
    for got, want in zip(ppc.compile(closure_mask(MASK), backend=backend)(z), closure_mask(MASK)(z)):
        np.testing.assert_array_equal(got, want)
    got = ppc.compile(mask_argument, backend=backend, static_argnums=(1,))(x, tuple(MASK))
    np.testing.assert_array_equal(got, mask_argument(x, tuple(MASK)))


# ------------------------------------------------------------------ masks computed at run time

def stats(x, m):
    s = x[m]
    return (np.sum(s), s.sum(), np.mean(s), np.prod(s), np.any(s), s.all(), np.count_nonzero(s),
            len(s), s.size, s.shape[0], np.var(s), np.std(s, ddof=1), sum(s), np.sum(s ** 2),
            np.sum(np.exp(s) * 2.0 - 1.0), np.sum(x[x > 0]), np.count_nonzero(x[m] > 0.5), s.mean(),
            np.sum(x[m] * x[m]))


def extremes(x, m):
    return np.max(x[m]), x[m].min(), max(x[m]), np.max(-x[m]), np.min(np.abs(x[m]))


def _identity_for_empty(m, want, identity):
    return want if m.any() else identity


def _numpy(f, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # (the mean of an empty selection warns, as NumPy does)
        return f(*args)


def _close(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, float), np.asarray(w, float), rtol=1e-9, atol=1e-12)


floats = st.floats(-3, 3, allow_nan=False, allow_subnormal=False, width=64)  # (XLA flushes subnormals)


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.float64, 6, elements=floats), m=hnp.arrays(np.bool_, 6))
@example(x=np.arange(6.0) - 2.5, m=np.zeros(6, bool))  # (the empty selection, surely)
def test_reductions_of_a_traced_selection_match_numpy(x, m):
    got = _STATS(x, m)
    want = _numpy(stats, x, m)
    _close(got, want)
    got = _EXTREMES(x, m)
    if m.any():
        _close(got, extremes(x, m))
    else:  # (NumPy raises: the reduction's identity, as np.max(x, where=m, initial=-np.inf))
        _close(got, (-np.inf, np.inf, -np.inf, -np.inf, np.inf))


_STATS = ppc.compile(stats)
_EXTREMES = ppc.compile(extremes)


def rows(x, m, c):
    s = x[m]  # rows of x: shape (count, 4)
    return (np.sum(s), np.sum(s, axis=0), np.mean(s, axis=0), np.sum(s, axis=0, keepdims=True),
            np.var(s, axis=0), np.sum(x[:, c], axis=1), len(s), np.sum(s * np.arange(4.0)),
            np.sum(s + np.ones((1, 4))), s.shape[1], s.ndim, np.sum(x[..., c] ** 2))


def row_extremes(x, m):
    return np.max(x[m], axis=0), np.min(x[m], axis=(0, 1))


@settings(max_examples=25, deadline=None)
@given(x=hnp.arrays(np.float64, (3, 4), elements=floats), m=hnp.arrays(np.bool_, 3),
       c=hnp.arrays(np.bool_, 4))
@example(x=np.arange(12.0).reshape(3, 4), m=np.zeros(3, bool), c=np.zeros(4, bool))
def test_reductions_over_the_selected_axis_of_rows(x, m, c):
    _close(_ROWS(x, m, c), _numpy(rows, x, m, c))
    got = _ROW_EXTREMES(x, m)
    _close(got, row_extremes(x, m) if m.any() else (np.full(4, -np.inf), np.inf))


_ROW_EXTREMES = ppc.compile(row_extremes)
_ROWS = ppc.compile(rows)


def whole(x, m):
    return np.sum(x[m]), np.mean(x[m]), np.max(x[m]), x[m].shape[0]


def test_a_mask_over_every_axis_and_ints_and_bools():
    x, m = np.arange(12.0).reshape(3, 4) - 5.0, np.arange(12).reshape(3, 4) % 3 == 0
    _close(ppc.compile(whole)(x, m), whole(x, m))
    xi = np.array([3, -1, 4, 1, -5], np.int32)
    mi = xi > 0
    got = ppc.compile(whole)(xi, mi)
    _close(got, whole(xi, mi))
    assert got[0].dtype == np.sum(xi[mi]).dtype and got[2].dtype == np.int32
    assert ppc.compile(lambda x, m: np.max(x[m]))(xi, np.zeros(5, bool)) == np.iinfo(np.int32).min
    b = np.array([True, False, True])
    assert bool(ppc.compile(lambda b, m: np.max(b[m]))(b, np.array([False, True, False]))) is False


def mixed(x, y, m):
    mu = np.mean(x)
    return (np.sum((y[m] - mu) ** 2), np.sum(np.where(x[m] > 1.0, x[m], 0.0)), x[m].astype(np.float32).sum(),
            np.sum(x[x > 0] * y[x > 0]), np.sum(np.maximum(x[m], y[m])), np.sum(x.at[m].set(0.0)),
            x.at[m].add(y[m]), x.at[~m].set(-1.0), x.at[MASK].mul(2.0), x.at[MASK].set(np.array([7.0, 8.0, 9.0])))


def mixed_numpy(x, y, m):
    mu = np.mean(x)
    a, b, c, d = x.copy(), x.copy(), x.copy(), x.copy()
    a[m] = 0.0
    b[m] += y[m]
    c[~m] = -1.0
    d[MASK] *= 2.0
    e = x.copy()
    e[MASK] = [7.0, 8.0, 9.0]
    return (np.sum((y[m] - mu) ** 2), np.sum(np.where(x[m] > 1.0, x[m], 0.0)), x[m].astype(np.float32).sum(),
            np.sum(x[x > 0] * y[x > 0]), np.sum(np.maximum(x[m], y[m])), np.sum(a), b, c, d, e)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_elementwise_operations_and_updates_map_through_the_mask(backend):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=5), rng.normal(size=5)
    for m in (x > 0.2, np.zeros(5, bool)):
        got = ppc.compile(mixed, backend=backend)(x, y, m)
        for g, w in zip(got, _numpy(mixed_numpy, x, y, m)):
            np.testing.assert_allclose(g, w, rtol=1e-6)


def helper_sum(s):
    return np.sum(s * 2.0)


def calls_helper(x):
    reduce = lambda s: np.mean(s)  # noqa: E731
    return helper_sum(x[x > 0]), reduce(x[x > 0])


def test_functions_given_a_selection_are_inlined():
    x = np.array([1.0, -2.0, 3.0])
    _close(ppc.compile(calls_helper)(x), (8.0, 2.0))


def in_loops(x):
    acc, i = 0.0, 0
    for k in range(3):
        s = x[x > k]  # (made and reduced in the body: nothing to carry)
        acc = acc + np.sum(s) + np.sum(x[MASK])
    while acc < 40.0:
        acc = acc + np.mean(x[x > i]) + 1.0
        i = i + 1
    return acc


def test_selections_made_and_reduced_inside_loops():
    x = np.array([1.0, -2.0, 3.0, 0.5, 2.5])
    np.testing.assert_allclose(ppc.compile(in_loops)(x), in_loops(x), rtol=1e-12)


# ------------------------------------------------------------------ derivatives, batches, TF

def sq(x):
    return np.sum(x[x > 0] ** 2)


def loss(x, y):
    m = y > 0
    return np.mean(x[m] * y[m]) + np.max(x[m]) + np.var(x[m]) + np.sum(x[MASK] ** 3)


def test_gradients_match_jax_and_finite_differences():
    x = np.array([1.5, -2.0, 0.3, -0.1, 2.5])
    want = jax.grad(lambda x: jnp.sum(jnp.where(x > 0, x ** 2, 0.0)))(x)
    np.testing.assert_allclose(ppc.grad(sq)(x), want, rtol=1e-12)
    np.testing.assert_allclose(ppc.grad(ppc.compile(sq, backend="tf"))(x), want, rtol=1e-12)
    y = np.array([1.0, 2.0, -1.0, 0.5, -3.0])
    g = ppc.grad(loss)(x, y)
    eps = 1e-6
    fd = [(loss(x + eps * e, y) - loss(x - eps * e, y)) / (2 * eps) for e in np.eye(5)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def member(x, m):
    total = np.sum(x[m])
    if total > 0:
        out = total / np.maximum(len(x[m]), 1)
    else:
        out = np.min(np.abs(x[m]))
    return out, np.count_nonzero(x[m]), np.mean(x[:, 0][m[:, 0]]), np.sum(x[ROWS] ** 2)


@pytest.mark.parametrize("strategy", ["local_static", "program_counter"])
def test_batches_agree_with_a_loop_over_members(strategy):
    rng = np.random.default_rng(1)
    xs, ms = rng.normal(size=(6, 3, 2)), rng.random((6, 3, 2)) < 0.5
    ms[0] = False
    got = ppc.autobatch(ppc.compile(member), strategy=strategy)(xs, ms)
    one = ppc.compile(member)
    for b in range(6):
        for g, w in zip(got, one(xs[b], ms[b])):
            np.testing.assert_allclose(g[b], w, rtol=1e-12)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(got[0][1:], [member(xs[b], ms[b])[0] for b in range(1, 6)], rtol=1e-12)


def test_tf_backend_reduces_selections():
    x, m = np.array([1.0, -2.0, 3.0, 0.5, -1.0, 4.0]), np.array([1, 0, 1, 1, 0, 0], bool)
    _close(ppc.compile(stats, backend="tf")(x, m), _numpy(stats, x, m))
    _close(ppc.compile(extremes, backend="tf")(x, m), extremes(x, m))


# ------------------------------------------------------------------ refusals, located

def returns_selection(x):
    return x[x > 0]  # LINE returns_selection


def indexes_selection(x):
    s = x[x > 0]
    return s[0]  # LINE indexes_selection


def sorts_selection(x):
    return np.sum(np.sort(x[x > 0]))  # LINE sorts_selection


def two_masks(x):
    return np.sum(x[x > 0] + x[x < 1])  # LINE two_masks


def spans_selected_axis(x):
    return np.sum(x[x > 0] * x)  # LINE spans_selected_axis


def keeps_selected_axis(x):
    return np.sum(x[x[:, 0] > 0], axis=1)  # LINE keeps_selected_axis


def branches_on_selection(x):
    if x[x > 0]:  # LINE branches_on_selection
        return x
    return -x


def assigns_through_mask(x):
    x[x > 0] = 0.0  # LINE assigns_through_mask
    return x


def carries_selection(x):
    s = x[x > 0]  # LINE carries_selection
    for i in range(2):
        s = s * 2.0
    return np.sum(s)


def selects_in_a_branch(x):
    if np.sum(x) > 0:
        s = x[x > 0]
    else:
        s = x[x < 0]
    return np.sum(s)  # LINE selects_in_a_branch


def makes_selection(x):  # LINE makes_selection
    return x[x > 0]


def calls_maker(x):
    return np.sum(makes_selection(x))


def _line(tag):
    import inspect
    lines = inspect.getsource(inspect.getmodule(_line)).splitlines()
    return next(i + 1 for i, s in enumerate(lines) if s.rstrip().endswith("# LINE " + tag))


@pytest.mark.parametrize("fn, tag, phrase", [
    (returns_selection, "returns_selection", "shape that depends on the data"),
    (indexes_selection, "indexes_selection", "indexing it"),
    (sorts_selection, "sorts_selection", r"sort\(\) of it"),
    (two_masks, "two_masks", "different masks"),
    (spans_selected_axis, "spans_selected_axis", "spans the selected axis"),
    (keeps_selected_axis, "keeps_selected_axis", "keeps the selected axis"),
    (branches_on_selection, "branches_on_selection", "boolean-mask selection"),
    (assigns_through_mask, "assigns_through_mask", "arrays are immutable"),
    (calls_maker, "makes_selection", "returns a boolean-mask selection"),
    (carries_selection, "carries_selection", "cannot be carried through a loop"),
    (selects_in_a_branch, "selects_in_a_branch", "reduce it inside the branch"),
])
def test_uses_that_need_the_shape_are_refused_where_they_happen(fn, tag, phrase):
    x = np.ones((3, 2)) if fn is keeps_selected_axis else np.ones(3)
    with pytest.raises(CompileError, match=phrase) as e:
        ppc.compile(fn)(x)
    assert e.value.loc is not None and e.value.loc.file == __file__ and e.value.loc.line == _line(tag)
    if fn not in (assigns_through_mask, branches_on_selection, selects_in_a_branch):
        assert "np.where(mask, x, 0)" in e.value.hint
