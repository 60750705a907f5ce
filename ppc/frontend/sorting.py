"""Sorting and order statistics: np.sort, np.argsort (and a.argsort()), np.take_along_axis,
np.median, np.percentile, np.quantile, and their jnp spellings.

Every sort is the `sort` primitive (ppc/ir/prims/sorting.py): stable, NaN last, -0.0
equal to 0.0. NumPy's default `kind="quicksort"` leaves the order of equal elements
unspecified; here it is always the stable order (so np.argsort matches
np.argsort(kind="stable")). The order statistics are a sort along the reduced axes
(moved last and merged) and static index arithmetic: NumPy's "linear" method, with its
own formulas (the virtual index (n - 1) * q, its neighbours, and NumPy's two-sided lerp),
so results agree with NumPy's, infinities and dtypes included, but for the last bit or so
where XLA fuses the lerp's multiply and add; a slice holding a NaN gives NaN, as NumPy's.
`a.sort()` sorts in place, which compiled code refuses (arrays are immutable).
"""
from __future__ import annotations

import numpy as np

from ..ir import dtype_of_numpy
from ..ir.prims.sorting import gather_along
from ..ir.registry import ShapeError
from ..ir.types import is_float
from .arrays import DEFAULT, INDEX, describe
from .numpy_api import METHODS, _static, register
from .values import Dyn

_KINDS = (None, "quicksort", "mergesort", "heapsort", "stable")


def _sort_op(lw, x: Dyn, axis: int) -> tuple[Dyn, Dyn]:
    """(sorted values, int64 permutation) of x along `axis` (bools sort as 0 and 1)."""
    y = lw.convert(x, "i8") if x.dtype == "bool" else x
    try:
        values, perm = lw.builder.op_n("sort", [y.value], y.value.hint, axis=axis)
    except ShapeError as e:
        lw.error(str(e))
    lw.fresh.update((values, perm))
    out = Dyn(values, x.weak)
    return (lw.convert(out, "bool") if x.dtype == "bool" else out), Dyn(perm)


def _sort_args(lw, a, axis, kind, order, what):
    if order is not None:
        lw.error(f"{what} with order= (structured arrays) is not supported in compiled code")
    if kind not in _KINDS:
        lw.error(f"{what}: unknown kind {describe(kind)}")
    x = lw.to_dyn(a)
    if x.dtype == "key":
        lw.error(f"{what} of PRNG keys is not supported")
    axis = _static(lw, axis, "axis")
    if axis is None:
        x, axis = lw.reshape(x, (-1,)), 0
    if not x.shape:
        lw.error(f"{what}: axis {axis} is out of bounds for an array of dimension 0")
    return x, lw.norm_axis(axis, len(x.shape))


def _rev(lw, x: Dyn, axis: int) -> Dyn:
    return Dyn(lw.emit("rev", [x.value], x.value.hint, axes=(axis,)), x.weak)


@register("np.sort", "jnp.sort")
def _sort(lw, a, axis=-1, kind=None, order=None, *, stable=None, descending=False):
    """Ascending, NaN last; `descending=True` (jnp's) is the ascending result reversed, as JAX's."""
    x, axis = _sort_args(lw, a, axis, kind, order, "sort")
    values, _ = _sort_op(lw, x, axis)
    return _rev(lw, values, axis) if _static(lw, descending, "descending") else values


@register("np.argsort", "jnp.argsort", method="argsort")
def _argsort(lw, a, axis=-1, kind=None, order=None, *, stable=None, descending=False):
    """The stable permutation (int64). Descending (jnp's) stays stable: the reversed array's
    ascending permutation, reversed and mapped back, as JAX computes it."""
    x, axis = _sort_args(lw, a, axis, kind, order, "argsort")
    if not _static(lw, descending, "descending"):
        return _sort_op(lw, x, axis)[1]
    n = x.shape[axis]
    _, perm = _sort_op(lw, _rev(lw, x, axis), axis)
    return lw.elementwise("sub", n - 1, _rev(lw, perm, axis))


def _sort_method(lw, a, *args, **kwargs):
    lw.error("arrays are immutable in compiled code: a.sort() sorts in place",
             "write a = np.sort(a) (or jnp.sort(a)), which returns the sorted array")


METHODS["sort"] = _sort_method


@register("np.take_along_axis", "jnp.take_along_axis")
def _take_along_axis(lw, arr, indices, axis=-1, mode=None, fill_value=None):
    """NumPy's take_along_axis: non-axis dims broadcast; a negative index counts from the end
    once; a static index out of range is an error, a traced one gives jnp.take's fill."""
    if mode is not None or fill_value is not None:
        lw.error("take_along_axis with mode= or fill_value= is not supported",
                 "out-of-range traced indices give jnp.take's fill (NaN for floats)")
    x = lw.to_dyn(arr)
    axis = _static(lw, axis, "axis")
    if axis is None:
        x, axis = lw.reshape(x, (-1,)), 0
    if not x.shape:
        lw.error("take_along_axis needs an array of at least one dimension")
    axis = lw.norm_axis(axis, len(x.shape))
    n = x.shape[axis]
    idx = lw.convert(lw.checked_index(indices, n, axis), INDEX)
    if len(idx.shape) != len(x.shape):
        lw.error(f"take_along_axis: indices of rank {len(idx.shape)} for an array of rank {len(x.shape)}",
                 "the indices need the array's number of dimensions")
    shape = lw.broadcast_shapes(tuple(1 if d == axis else s for d, s in enumerate(x.shape)),
                                tuple(1 if d == axis else s for d, s in enumerate(idx.shape)))
    x = lw.broadcast_to(x, shape[:axis] + (n,) + shape[axis + 1:])
    idx = lw.broadcast_to(idx, shape[:axis] + (idx.shape[axis],) + shape[axis + 1:])
    return Dyn(gather_along(lw.builder, x.value, idx.value, axis, mode="fill"), x.weak)


# ------------------------------------------------------------------- order statistics

def _reduced_last(lw, a, axis, what):
    """x with the reduced axes (None: all) moved last and merged, the kept axes' shape, and
    the keepdims shape."""
    x = lw.to_dyn(a)
    if x.dtype in ("bool", "key"):
        lw.error(f"{what} needs a numeric array, got {x.type}")
    axes = lw.norm_axes(_static(lw, axis, "axis"), len(x.shape))
    kept = [d for d in range(len(x.shape)) if d not in axes]
    rest = tuple(x.shape[d] for d in kept)
    y = lw.transpose(x, kept + list(axes))
    y = lw.reshape(y, rest + (int(np.prod([x.shape[d] for d in axes], dtype=np.int64)),))
    keep = tuple(1 if d in axes else s for d, s in enumerate(x.shape))
    return y, rest, keep


def _no_extras(lw, what, out, weights=None, method="linear", interpolation=None):
    if out is not None:
        lw.error(f"{what} with out= is not supported: arrays are immutable in compiled code")
    if weights is not None:
        lw.error(f"{what} with weights= is not supported in compiled code")
    if interpolation is not None:
        method = interpolation
    if method != "linear":
        lw.error(f"{what}: only method='linear' (the default) is supported, got {describe(method)}")


def _nan_where_nan(lw, s: Dyn, out: Dyn) -> Dyn:
    """NaN wherever the sorted slice holds a NaN (its last element), as NumPy gives."""
    if not is_float(s.dtype):
        return out
    last = lw.index(s, (Ellipsis, -1))
    return lw.select(lw.elementwise("ne", last, last, result_kind="bool"), float("nan"), out)


@register("np.median", "jnp.median")
def _median(lw, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """NumPy's: the middle element, or the mean of the two middle ones (integers in
    float64); NaN where a slice holds one."""
    _no_extras(lw, "median", out)
    y, rest, keep = _reduced_last(lw, a, axis, "median")
    n = y.shape[-1]
    dt = y.dtype if is_float(y.dtype) else DEFAULT["float"]
    if n == 0:
        res = lw.const(np.nan, dt, rest)
    else:
        s, _ = _sort_op(lw, y, len(y.shape) - 1)
        acc = "f32" if dt == "f16" else dt  # (NumPy's mean sums float16 in float32)
        hi = lw.convert(lw.index(s, (Ellipsis, n // 2)), acc)
        if n % 2:
            res = lw.convert(hi, dt)
        else:
            lo = lw.convert(lw.index(s, (Ellipsis, n // 2 - 1)), acc)
            res = lw.convert(lw.elementwise("div", lw.elementwise("add", lo, hi), 2.0), dt)
        res = _nan_where_nan(lw, s, res)
    if keepdims:
        res = lw.reshape(res, keep)
    return Dyn(res.value, False)


def _quantile(scale, what):
    def handler(lw, a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                weights=None, interpolation=None):
        _no_extras(lw, what, out, weights, method, interpolation)
        y, rest, keep = _reduced_last(lw, a, axis, what)
        n = y.shape[-1]
        if n == 0:
            lw.error(f"{what} of an empty array")
        last = len(y.shape) - 1
        s, _ = _sort_op(lw, y, last)
        if isinstance(q, (tuple, list)) and any(isinstance(v, Dyn) for v in q):
            q = lw.to_dyn(q)
        if isinstance(q, Dyn):
            qshape, res = q.shape, _traced_q(lw, s, q, n, scale)
        else:
            qshape, res = _static_q(lw, s, q, n, scale, what)
        # take put q's axes last (where the sorted axis stood); NumPy puts them first
        k = len(qshape)
        res = lw.transpose(res, list(range(len(rest), len(rest) + k)) + list(range(len(rest))))
        res = _nan_where_nan(lw, s, res)
        if keepdims:
            res = lw.reshape(res, qshape + keep)
        return Dyn(res.value, False)
    return handler


def _lerp(lw, a: Dyn, b: Dyn, t, half):
    """NumPy's _lerp: a + (b - a) t, or b - (b - a)(1 - t) where t >= 0.5 (`half`)."""
    diff = lw.elementwise("sub", b, a)
    low = lw.elementwise("add", a, lw.elementwise("mul", diff, t))
    one_minus = 1.0 - t if isinstance(t, float) else lw.elementwise("sub", 1.0, t)
    high = lw.elementwise("sub", b, lw.elementwise("mul", diff, one_minus))
    if isinstance(half, (bool, np.bool_)):
        return high if half else low
    return lw.select(half, high, low)


def _static_q(lw, s: Dyn, q, n: int, scale, what):
    """NumPy's own arithmetic on a q known at compile time: the neighbours' indices and the
    weight are constants."""
    weak = type(q) in (int, float)
    try:
        qa = np.asarray(q)
        if qa.dtype.kind not in "iuf":
            raise TypeError
    except (TypeError, ValueError):
        lw.error(f"{what}: q must be a number or an array of numbers, got {describe(q)}")
    if scale != 1:
        qa = np.true_divide(qa, scale)
    if not (np.all(qa >= 0) and np.all(qa <= 1)):
        lw.error("Quantiles must be in the range [0, 1]" if scale == 1 else "Percentiles must be in the range [0, 100]")
    last = len(s.shape) - 1
    v = (n - 1) * qa
    if v.dtype.kind in "iu":  # an integer q (0 or 1) picks an element: no interpolation, the dtype kept
        return qa.shape, lw.take(s, v.astype(np.int64), last)
    prev = np.floor(v)
    nxt = prev + 1
    above = v >= n - 1
    prev, nxt = np.where(above, -1, prev), np.where(above, -1, nxt)
    below = v < 0
    prev, nxt = np.where(below, 0, prev), np.where(below, 0, nxt)
    prev, nxt = prev.astype(np.intp), nxt.astype(np.intp)
    gamma = np.asarray(v - prev, dtype=v.dtype)
    lo, hi = lw.take(s, prev.astype(np.int64), last), lw.take(s, nxt.astype(np.int64), last)
    if weak:
        t = float(gamma)
        return qa.shape, _lerp(lw, lo, hi, t, t >= 0.5)
    t = lw.const(gamma, dtype_of_numpy(gamma.dtype), gamma.shape)
    half = lw.const(gamma >= 0.5, "bool", gamma.shape)
    return qa.shape, _lerp(lw, lo, hi, t, half)


def _traced_q(lw, s: Dyn, q: Dyn, n: int, scale):
    """The same arithmetic on a traced q (out of [0, 1] it clamps to the ends; NaN gives NaN)."""
    if not is_float(q.dtype):
        q = lw.convert(q, DEFAULT["float"])
    if scale != 1:
        q = lw.elementwise("div", q, float(scale))
    v = lw.elementwise("mul", q, float(n - 1))
    prev = lw.elementwise("floor", v)
    top = lw.elementwise("or", lw.elementwise("ge", v, float(n - 1), result_kind="bool"),
                         lw.elementwise("ne", v, v, result_kind="bool"))
    below = lw.elementwise("lt", v, 0.0, result_kind="bool")
    prev_f = lw.select(top, -1.0, lw.select(below, 0.0, prev))
    nxt_f = lw.select(top, -1.0, lw.select(below, 0.0, lw.elementwise("add", prev, 1.0)))
    gamma = lw.elementwise("sub", v, prev_f)
    last = len(s.shape) - 1
    lo = lw.take(s, lw.convert(prev_f, INDEX), last)
    hi = lw.take(s, lw.convert(nxt_f, INDEX), last)
    half = lw.elementwise("ge", gamma, 0.5, result_kind="bool")  # (q's axes are last in lo and hi)
    return _lerp(lw, lo, hi, gamma, half)


register("np.quantile", "jnp.quantile")(_quantile(1, "quantile"))
register("np.percentile", "jnp.percentile")(_quantile(100, "percentile"))
