"""More of NumPy, each function composed from existing primitives (slices, concatenation,
broadcasts, selects, takes, reductions), so derivatives, both batching strategies,
partitioning and both backends follow from those primitives' rules:

diff roll tile repeat triu tril diag diagonal trace kron cross isclose allclose
linalg.norm count_nonzero average ptp nan_to_num deg2rad rad2deg radians degrees cbrt
heaviside meshgrid polyval nansum nanmean nanmax nanmin cumprod (np. and jnp. spellings).

Sizes, shifts, repeats, offsets and axes must be known at compile time (a size that comes
from an argument needs `static_argnums`), as the shapes they make are static.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.types import is_float, is_int
from .arrays import DEFAULT, accumulator, describe
from .numpy_api import _dtype_arg, _isnan, _moveaxis, _static, _strong, _strong_leaves, register, scan_operand
from .values import Dyn, is_static_scalar


# ------------------------------------------------------------------- helpers

def _arr(lw, a):
    """An argument as an array, Python numbers and lists at NumPy's full (strong) types."""
    return _strong(lw.to_dyn(_strong_leaves(a)) if isinstance(a, (tuple, list)) else lw.to_dyn(_strong(a)))


def _ufunc_arg(lw, a):
    """An argument of a ufunc: Python numbers stay weakly typed (NumPy 2's rule:
    np.heaviside(x_f32, 0.5) is float32), lists become arrays at their full types."""
    return _arr(lw, a) if isinstance(a, (tuple, list)) else lw.to_dyn(a)


def _times(lw, a, b):
    """a * b; for two bools their `and`, as NumPy multiplies them."""
    return lw.elementwise("and" if lw.promote(a, b)[0] == "bool" else "mul", a, b)


def _int(lw, v, what):
    _static(lw, v, what)
    return lw.static_int(v, what)


def _zeros(lw, x: Dyn) -> Dyn:
    return lw.const(False if x.dtype == "bool" else 0, x.dtype, x.shape, x.weak)


def _slice_axis(lw, x: Dyn, axis: int, s: slice) -> Dyn:
    return lw.index(x, (slice(None),) * axis + (s,))


def _inexact(dtype: str, jax: bool = False) -> str:
    """The floating type a mean of `dtype` takes: NumPy's float64 for bools and integers;
    with `jax`, JAX's (64-bit types on): float32 for those up to 32 bits."""
    if is_float(dtype):
        return dtype
    return "f32" if jax and dtype not in ("i64", "u64") else DEFAULT["float"]


def _as_float(lw, x: Dyn, jax: bool = False) -> Dyn:
    return x if is_float(x.dtype) else lw.convert(x, _inexact(x.dtype, jax))


def _not(lw, b: Dyn) -> Dyn:
    return Dyn(lw.emit("not", [b.value]))


def _move_last(lw, x: Dyn, axis: int) -> Dyn:
    return _moveaxis(lw, x, axis, -1)


def _move_from_last(lw, x: Dyn, axis: int) -> Dyn:
    return _moveaxis(lw, x, -1, axis)


# ------------------------------------------------------------------- differences, shifts, copies

@register("np.diff", "jnp.diff")
def _diff(lw, a, n=1, axis=-1, prepend=None, append=None):
    """a[1:] - a[:-1] along `axis`, `n` times (bools: a[1:] != a[:-1], as NumPy's)."""
    x = _arr(lw, a)
    n = _int(lw, n, "diff's n")
    if n < 0:
        lw.error(f"order must be non-negative but got {n}")
    if not x.shape:
        lw.error("diff requires input that is at least one dimensional")
    axis = lw.norm_axis(_static(lw, axis, "axis"), len(x.shape))
    parts = []
    for extra in (prepend, append):
        if extra is None:
            parts.append(None)
            continue
        e = _arr(lw, extra)
        if not e.shape:
            e = lw.broadcast_to(e, x.shape[:axis] + (1,) + x.shape[axis + 1:])
        parts.append(e)
    if parts[0] is not None or parts[1] is not None:
        x = lw.concatenate([p for p in (parts[0], x, parts[1]) if p is not None], axis)
    for _ in range(n):
        m = x.shape[axis]
        hi, lo = _slice_axis(lw, x, axis, slice(1, None)), _slice_axis(lw, x, axis, slice(None, max(m - 1, 0)))
        x = lw.elementwise("ne" if x.dtype == "bool" else "sub", hi, lo)
        if m == 0:
            break
    return x


@register("np.roll", "jnp.roll")
def _roll(lw, a, shift, axis=None):
    """Elements shifted along `axis` (the flattened array when None), those that leave one
    end coming back at the other: two slices, concatenated."""
    x = _arr(lw, a)
    shift = _static(lw, shift, "roll's shift")
    if axis is None:
        if isinstance(shift, (tuple, list)):
            lw.error("roll of the flattened array (axis=None) takes a single shift")
        return lw.reshape(_roll(lw, lw.reshape(x, (-1,)), shift, 0), x.shape)
    axis = _static(lw, axis, "axis")
    shifts = list(shift) if isinstance(shift, (tuple, list)) else [shift]
    axes = list(axis) if isinstance(axis, (tuple, list)) else [axis]
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    if len(axes) == 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        lw.error("roll: 'shift' and 'axis' should be scalars or 1D sequences of one length")
    for s, ax in zip(shifts, axes):
        ax = lw.norm_axis(ax, len(x.shape))
        m = x.shape[ax]
        s = lw.static_int(s, "roll's shift") % m if m else 0
        if s:
            x = lw.concatenate([_slice_axis(lw, x, ax, slice(m - s, None)),
                                _slice_axis(lw, x, ax, slice(None, m - s))], ax)
    return x


@register("np.tile", "jnp.tile")
def _tile(lw, A, reps):
    """A repeated reps[i] times along each axis: a broadcast along new axes beside A's,
    then a reshape merging each pair."""
    x = _arr(lw, A)
    reps = _static(lw, reps, "tile's reps")
    reps = tuple(lw.static_int(r, "tile's reps") for r in (reps if isinstance(reps, (tuple, list)) else (reps,)))
    if any(r < 0 for r in reps):
        lw.error(f"tile's reps must be non-negative, got {reps}")
    d = max(len(reps), len(x.shape))
    reps = (1,) * (d - len(reps)) + reps
    shape = (1,) * (d - len(x.shape)) + x.shape
    x = lw.reshape(x, tuple(v for n in shape for v in (1, n)))
    x = lw.broadcast_to(x, tuple(v for r, n in zip(reps, shape) for v in (r, n)))
    return lw.reshape(x, tuple(r * n for r, n in zip(reps, shape)))


@register("np.repeat", "jnp.repeat", method="repeat")
def _repeat(lw, a, repeats, axis=None, *, total_repeat_length=None):
    """Each element repeated along `axis` (of the flattened array when None): a broadcast
    along a new axis for one count, a take at the static indices for a count per element.
    With jnp's total_repeat_length, the counts may be traced (as in JAX)."""
    x = _arr(lw, a)
    if total_repeat_length is not None:
        return _repeat_to_length(lw, x, repeats, axis, _int(lw, total_repeat_length, "total_repeat_length"))
    if isinstance(repeats, Dyn) or (isinstance(repeats, (tuple, list)) and any(isinstance(r, Dyn) for r in repeats)):
        lw.error("repeat's repeats must be known at compile time, not a traced array",
                 "write the counts as a Python int, or a list or tuple of ints, or give "
                 "total_repeat_length= (jnp.repeat) to fix the result's size")
    if isinstance(repeats, np.ndarray):
        repeats = repeats.tolist()
    if axis is None:
        x, axis = lw.reshape(x, (-1,)), 0
    axis = lw.norm_axis(_static(lw, axis, "axis"), len(x.shape))
    m = x.shape[axis]
    if isinstance(repeats, (tuple, list)):
        counts = [lw.static_int(r, "repeat's repeats") for r in repeats]
        if len(counts) == 1:
            repeats = counts[0]
        elif len(counts) != m:
            lw.error(f"repeat: {len(counts)} repeats for an axis of size {m}")
    else:
        counts = None
    if counts is None or len(counts) == 1:
        r = lw.static_int(repeats, "repeat's repeats")
        if r < 0:
            lw.error("repeat: negative dimensions are not allowed")
        y = lw.reshape(x, x.shape[:axis + 1] + (1,) + x.shape[axis + 1:])
        y = lw.broadcast_to(y, x.shape[:axis + 1] + (r,) + x.shape[axis + 1:])
        out = lw.reshape(y, x.shape[:axis] + (m * r,) + x.shape[axis + 1:])
    else:
        if any(c < 0 for c in counts):
            lw.error("repeat: negative dimensions are not allowed")
        idx = np.repeat(np.arange(m), counts)
        out = lw.const(False if x.dtype == "bool" else 0, x.dtype, x.shape[:axis] + (0,) + x.shape[axis + 1:], x.weak) \
            if idx.size == 0 else lw.take(x, idx, axis)
    return out


def _repeat_to_length(lw, x: Dyn, repeats, axis, total: int) -> Dyn:
    """jnp.repeat(x, repeats, axis, total_repeat_length=total), as JAX computes it: the
    element at position p is the first whose running count exceeds p (a comparison with
    the cumulative counts, summed); past the counts' total the last element repeats, and
    counts beyond `total` are cut."""
    if axis is None:
        x, axis = lw.reshape(x, (-1,)), 0
    axis = lw.norm_axis(_static(lw, axis, "axis"), len(x.shape))
    m = x.shape[axis]
    r = lw.to_dyn(repeats)
    if not is_int(r.dtype) or len(r.shape) > 1:
        lw.error(f"repeat's repeats must be integers (a scalar or 1-d), got {describe(repeats)}")
    if total < 0:
        lw.error("repeat: total_repeat_length must be non-negative")
    if m == 0 or total == 0:
        return lw.const(False if x.dtype == "bool" else 0, x.dtype, x.shape[:axis] + (total,) + x.shape[axis + 1:], x.weak)
    r = lw.broadcast_to(lw.convert(r, DEFAULT["int"]), (m,))
    ends = Dyn(lw.emit("cumsum", [r.value], axis=0, reverse=False))
    p = lw.reshape(Dyn(lw.emit("iota", [], shape=(total,), dimension=0, dtype=DEFAULT["int"])), (total, 1))
    idx = lw.reduce("reduce_sum", lw.elementwise("le", ends, p, result_kind="bool"), -1, dtype=DEFAULT["int"])
    return lw.take(x, lw.elementwise("min", idx, m - 1), axis)


# ------------------------------------------------------------------- matrices

def _tri_mask(lw, x: Dyn, k: int, lower: bool):
    n, m = x.shape[-2:]
    keep = np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)
    return lw.const(keep, "bool", (n, m))


def _triangle(lower):
    def handler(lw, m, k=0):
        x = _arr(lw, m)
        k = _int(lw, k, "k")
        if not x.shape:
            lw.error(f"{'tril' if lower else 'triu'} needs an array of at least 1 dimension")
        if len(x.shape) == 1:
            x = lw.broadcast_to(x, x.shape * 2)
        return Dyn(lw.select(_tri_mask(lw, x, k, lower), x, _zeros(lw, x)).value, x.weak)
    return handler


register("np.tril", "jnp.tril")(_triangle(True))
register("np.triu", "jnp.triu")(_triangle(False))


@register("np.diagonal", "jnp.diagonal", method="diagonal")
def _diagonal(lw, a, offset=0, axis1=0, axis2=1):
    """The diagonal of the (axis1, axis2) planes as a last axis, as NumPy puts it: the
    square window the diagonal crosses, flattened, read at stride size + 1 (a slice)."""
    x = _arr(lw, a)
    if len(x.shape) < 2:
        lw.error(f"diagonal requires an array of at least two dimensions, got shape {x.shape}")
    k = _int(lw, offset, "diagonal's offset")
    i, j = lw.norm_axis(_static(lw, axis1, "axis1"), len(x.shape)), lw.norm_axis(_static(lw, axis2, "axis2"), len(x.shape))
    if i == j:
        lw.error("diagonal: axis1 and axis2 cannot be the same")
    x = lw.transpose(x, tuple(d for d in range(len(x.shape)) if d not in (i, j)) + (i, j))
    n1, n2 = x.shape[-2:]
    size = max(0, min(n1, n2 - k) if k >= 0 else min(n1 + k, n2))
    r0, c0 = (0, k) if k >= 0 else (-k, 0)
    batch = x.shape[:-2]
    if size == 0:
        return lw.const(False if x.dtype == "bool" else 0, x.dtype, batch + (0,), x.weak)
    win = lw.index(x, (Ellipsis, slice(r0, r0 + size), slice(c0, c0 + size)))
    return lw.index(lw.reshape(win, batch + (size * size,)), (Ellipsis, slice(None, None, size + 1)))


@register("np.diag", "jnp.diag")
def _diag(lw, v, k=0):
    """A 1-d v laid on the k-th diagonal of a square matrix (a select between the vector,
    broadcast, and zeros), or the k-th diagonal of a 2-d v."""
    x = _arr(lw, v)
    k = _int(lw, k, "k")
    if len(x.shape) == 2:
        return _diagonal(lw, x, k)
    if len(x.shape) != 1:
        lw.error(f"diag needs a 1-d or 2-d array, got shape {x.shape}", "use np.diagonal for more axes")
    n = x.shape[0]
    N = n + abs(k)
    pad = [x] + ([lw.const(False if x.dtype == "bool" else 0, x.dtype, (abs(k),), x.weak)] if k else [])
    line = lw.concatenate(pad, 0)
    full = lw.broadcast_to(lw.reshape(line, (N, 1) if k >= 0 else (1, N)), (N, N))
    mask = lw.const(np.eye(N, N, k, dtype=bool), "bool", (N, N))
    return Dyn(lw.select(mask, full, _zeros(lw, full)).value, x.weak)


@register("np.trace", "jnp.trace", method="trace")
def _trace(lw, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if out is not None:
        lw.error("trace with out= is not supported")
    d = _diagonal(lw, a, offset, axis1, axis2)
    dt = _dtype_arg(lw, dtype) or accumulator(d.dtype)
    return lw.reduce("reduce_sum", d, -1, dtype=dt)


@register("np.kron", "jnp.kron")
def _kron(lw, a, b):
    """Every product a[i] * b[k] at i * len(b) + k along each axis: a broadcast product
    over interleaved axes, reshaped."""
    x, y = _arr(lw, a), _arr(lw, b)
    d = max(len(x.shape), len(y.shape))
    sx, sy = (1,) * (d - len(x.shape)) + x.shape, (1,) * (d - len(y.shape)) + y.shape
    x = lw.reshape(x, tuple(v for n in sx for v in (n, 1)))
    y = lw.reshape(y, tuple(v for n in sy for v in (1, n)))
    return lw.reshape(_times(lw, x, y), tuple(p * q for p, q in zip(sx, sy)))


@register("np.cross", "jnp.cross")
def _cross(lw, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors along the last axis (or `axis`), broadcast over the rest."""
    x, y = _arr(lw, a), _arr(lw, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    axisa, axisb, axisc = (_static(lw, v, "axis") for v in (axisa, axisb, axisc))
    if not x.shape or not y.shape:
        lw.error("cross needs arrays of vectors, got a scalar")
    x, y = _move_last(lw, x, lw.norm_axis(axisa, len(x.shape))), _move_last(lw, y, lw.norm_axis(axisb, len(y.shape)))
    if x.shape[-1] != 3 or y.shape[-1] != 3:
        lw.error(f"cross here takes 3-vectors only, got vectors of sizes {x.shape[-1]} and {y.shape[-1]}",
                 "for 2-vectors write a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]")
    if x.dtype == "bool" or y.dtype == "bool":
        lw.error("cross of boolean arrays is not supported")
    xs = [lw.index(x, (Ellipsis, i)) for i in range(3)]
    ys = [lw.index(y, (Ellipsis, i)) for i in range(3)]
    parts = [lw.elementwise("sub", lw.elementwise("mul", xs[p], ys[q]), lw.elementwise("mul", xs[q], ys[p]))
             for p, q in ((1, 2), (2, 0), (0, 1))]
    out = lw.stack(parts, -1)
    return _move_from_last(lw, out, lw.norm_axis(axisc, len(out.shape)))


# ------------------------------------------------------------------- comparisons and counts

@register("np.isclose", "jnp.isclose")
def _isclose(lw, a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol * |b| where b is finite, or a == b (equal infinities), as
    NumPy computes it, in floating point (integers as float64)."""
    x, y = _arr(lw, a), _arr(lw, b)
    dt, _ = lw.promote(x, y)
    if not is_float(dt):
        dt = DEFAULT["float"]
    x, y = lw.convert(x, dt), lw.convert(y, dt)
    tol = lw.elementwise("add", atol, lw.elementwise("mul", rtol, lw.elementwise("abs", y)))
    close = lw.elementwise("le", lw.elementwise("abs", lw.elementwise("sub", x, y)), tol, result_kind="bool")
    finite = Dyn(lw.emit("is_finite", [lw.broadcast_to(y, lw.broadcast_shapes(y.shape, close.shape)).value]))
    out = lw.elementwise("or", lw.elementwise("and", close, finite), lw.elementwise("eq", x, y, result_kind="bool"))
    equal_nan = _static(lw, equal_nan, "equal_nan")
    if equal_nan:
        out = lw.elementwise("or", out, lw.elementwise("and", _isnan(lw, x), _isnan(lw, y)))
    return out


@register("np.allclose", "jnp.allclose")
def _allclose(lw, a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return lw.reduce("reduce_and", _isclose(lw, a, b, rtol, atol, equal_nan))


@register("np.count_nonzero", "jnp.count_nonzero")
def _count_nonzero(lw, a, axis=None, *, keepdims=False):
    x = _arr(lw, a)
    axis = _static(lw, axis, "axis")
    nz = lw.elementwise("ne", x, False if x.dtype == "bool" else 0, result_kind="bool")
    return lw.reduce("reduce_sum", nz, axis, keepdims, dtype=DEFAULT["int"])


@register("np.ptp", "jnp.ptp")
def _ptp(lw, a, axis=None, out=None, keepdims=False):
    if out is not None:
        lw.error("ptp with out= is not supported")
    x = _arr(lw, a)
    axis = _static(lw, axis, "axis")
    if x.dtype == "bool":
        lw.error("ptp of a boolean array is not supported", "convert it first: x.astype(np.int32)")
    return lw.elementwise("sub", lw.reduce("reduce_max", x, axis, keepdims), lw.reduce("reduce_min", x, axis, keepdims))


# ------------------------------------------------------------------- norms and means

def _vector_norm(lw, x: Dyn, ord, axis, keepdims):
    ax = lw.elementwise("abs", x)
    if ord is None or ord == 2:
        return lw.elementwise("sqrt", lw.reduce("reduce_sum", lw.elementwise("mul", x, x), axis, keepdims))
    if ord == math.inf:
        return lw.reduce("reduce_max", ax, axis, keepdims)
    if ord == -math.inf:
        return lw.reduce("reduce_min", ax, axis, keepdims)
    if ord == 0:
        nz = lw.elementwise("ne", x, 0, result_kind="bool")
        return lw.reduce("reduce_sum", nz, axis, keepdims, dtype=x.dtype)
    if ord == 1:
        return lw.reduce("reduce_sum", ax, axis, keepdims)
    s = lw.reduce("reduce_sum", lw.elementwise("pow", ax, float(ord)), axis, keepdims)
    return lw.elementwise("pow", s, 1.0 / float(ord))


def _matrix_norm(lw, x: Dyn, ord, axes, keepdims):
    r, c = axes
    if ord in (None, "fro"):
        return lw.elementwise("sqrt", lw.reduce("reduce_sum", lw.elementwise("mul", x, x), axes, keepdims))
    if ord in (1, -1, math.inf, -math.inf):
        inner, outer = (r, c) if ord in (1, -1) else (c, r)  # column sums (1) or row sums (inf)
        s = lw.reduce("reduce_sum", lw.elementwise("abs", x), inner, keepdims=True)
        out = lw.reduce("reduce_max" if ord > 0 else "reduce_min", s, outer, keepdims=True)
        return out if keepdims else lw.reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))
    if ord in (2, -2, "nuc") and not isinstance(ord, bool):
        from .linalg import singular_value_norm
        return singular_value_norm(lw, x, ord if ord == "nuc" else int(ord), axes, keepdims)
    lw.error(f"np.linalg.norm with ord={ord!r} on matrices is not supported",
             "ord=None or 'fro' (Frobenius), 'nuc', 1, -1, 2, -2, inf and -inf are supported for matrices")


@register("np.linalg.norm", "jnp.linalg.norm")
def _norm(lw, x, ord=None, axis=None, keepdims=False):
    """Vector norms (ord None/2, 1, inf, -inf, 0, any other number p) along one axis, and
    matrix norms ('fro', 1, -1, inf, -inf; 2, -2 and 'nuc' from singular values,
    linalg.py) over two; integers in float64."""
    v = _as_float(lw, _arr(lw, x))
    ord = _static(lw, ord, "ord")
    axis = _static(lw, axis, "axis")
    rank = len(v.shape)
    if isinstance(ord, str) and ord not in ("fro", "nuc"):
        lw.error(f"invalid norm order {ord!r}")
    if axis is None:
        if ord is None:
            out = _vector_norm(lw, lw.reshape(v, (-1,)), None, 0, False)
            return lw.reshape(out, (1,) * rank) if keepdims else out
        if rank == 1:
            axis = 0
        elif rank == 2:
            axis = (0, 1)
        else:
            lw.error(f"np.linalg.norm with ord={ord!r} needs a 1-d or 2-d array, or axis=, got shape {v.shape}")
    axes = lw.axis_list(axis, rank)
    if len(axes) == 1:
        if isinstance(ord, str):
            lw.error(f"invalid norm order {ord!r} for vectors")
        return _vector_norm(lw, v, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(lw, v, ord, tuple(axes), keepdims)
    lw.error("np.linalg.norm takes one axis (vector norms) or two (matrix norms)")


@register("np.average")
def _average(lw, a, axis=None, weights=None, returned=False, *, keepdims=False, jax=False):
    """sum(a * w) / sum(w) along `axis` (the mean without weights); a 1-d w goes along
    `axis`. The result is floating point, at NumPy's type of a and w together (`jax`:
    JAX's, float32 for integers up to 32 bits)."""
    x = _arr(lw, a)
    axis = _static(lw, axis, "axis")
    returned, keepdims = _static(lw, returned, "returned"), _static(lw, keepdims, "keepdims")
    if weights is None:
        avg = lw.mean(_as_float(lw, x, jax), axis, keepdims)
        if not returned:
            return avg
        count = int(np.prod([x.shape[i] for i in lw.norm_axes(axis, len(x.shape))]))
        return avg, lw.const(count, avg.dtype, avg.shape)
    w = _arr(lw, weights)
    dt, _ = lw.promote(x, w)
    if jax and not is_float(dt):
        dt = _inexact(dt, jax)
    elif not is_float(x.dtype):
        dt, _ = lw.promote(lw.const(0, dt), lw.const(0.0, DEFAULT["float"]))
    x, w = lw.convert(x, dt), lw.convert(w, dt)
    if w.shape != x.shape:
        if axis is None:
            lw.error(f"average: axis must be given when the weights' shape {w.shape} differs from a's {x.shape}")
        axes = lw.axis_list(axis, len(x.shape))
        if w.shape != tuple(x.shape[i] for i in axes):
            lw.error(f"average: weights of shape {w.shape} do not fit axis {axis} of an array of shape {x.shape}")
        order = sorted(range(len(axes)), key=lambda i: axes[i])
        w = lw.transpose(w, order)
        dims = tuple(sorted(axes))
        w = Dyn(lw.emit("broadcast_in_dim", [w.value], shape=x.shape, dims=dims), w.weak)
    total = lw.reduce("reduce_sum", w, axis, keepdims)
    avg = lw.elementwise("div", lw.reduce("reduce_sum", lw.elementwise("mul", x, w), axis, keepdims), total)
    return (avg, lw.broadcast_to(total, avg.shape)) if returned else avg


@register("jnp.average")
def _jnp_average(lw, a, axis=None, weights=None, returned=False, *, keepdims=False):
    return _average(lw, a, axis, weights, returned, keepdims=keepdims, jax=True)


# ------------------------------------------------------------------- elementwise

@register("np.nan_to_num", "jnp.nan_to_num")
def _nan_to_num(lw, x, copy=True, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced (by 0 and the dtype's largest finite numbers unless
    given); integers and bools come back as they are."""
    v = _arr(lw, x)
    if not is_float(v.dtype):
        return v
    from ..ir.types import numpy_dtype
    info = np.finfo(numpy_dtype(v.dtype))
    posinf = float(info.max) if posinf is None else posinf
    neginf = float(info.min) if neginf is None else neginf

    def fill(b):
        return lw.broadcast_to(lw.to_dyn(b, v.dtype), v.shape)
    out = lw.select(lw.elementwise("eq", v, math.inf, result_kind="bool"), fill(posinf), v)
    out = lw.select(lw.elementwise("eq", v, -math.inf, result_kind="bool"), fill(neginf), out)
    out = lw.select(_isnan(lw, v), fill(nan), out)
    return Dyn(out.value, v.weak)


def _scaled(factor):
    def handler(lw, x):
        return lw.elementwise("mul", _ufunc_arg(lw, x), factor, result_kind="float")
    return handler


register("np.deg2rad", "np.radians", "jnp.deg2rad", "jnp.radians")(_scaled(math.pi / 180.0))
register("np.rad2deg", "np.degrees", "jnp.rad2deg", "jnp.degrees")(_scaled(180.0 / math.pi))


@register("np.cbrt", "jnp.cbrt")
def _cbrt(lw, x):
    """sign(x) * |x| ** (1/3), refined by one Newton step (exact on perfect cubes as far
    as rounding allows; the step keeps the derivative 1 / (3 y**2))."""
    v = _as_float(lw, _ufunc_arg(lw, x))
    ax = lw.elementwise("abs", v)
    y = lw.elementwise("pow", ax, 1.0 / 3.0)
    # Newton: y - (y**3 - |x|) / (3 y**2), where y is positive and finite
    ok = lw.elementwise("and", lw.elementwise("gt", y, 0, result_kind="bool"),
                        Dyn(lw.emit("is_finite", [y.value])))
    safe = lw.select(ok, y, 1.0)
    step = lw.elementwise("div", lw.elementwise("sub", lw.elementwise("mul", lw.elementwise("mul", safe, safe), safe), ax),
                          lw.elementwise("mul", 3.0, lw.elementwise("mul", safe, safe)))
    y = lw.select(ok, lw.elementwise("sub", safe, step), y)
    return lw.select(lw.elementwise("lt", v, 0, result_kind="bool"), lw.elementwise("neg", y), y)


@register("np.heaviside", "jnp.heaviside")
def _heaviside(lw, x1, x2):
    """0 below 0, 1 above, x2 at 0, NaN at NaN, in floating point."""
    a, b = _ufunc_arg(lw, x1), _ufunc_arg(lw, x2)
    dt, weak = lw.promote(a, b)
    if not is_float(dt):
        dt = DEFAULT["float"]
    (a, b), _ = lw.coerce([a, b], dt)
    one, zero = lw.const(1, dt, a.shape, weak), lw.const(0, dt, a.shape, weak)
    out = lw.select(lw.elementwise("gt", a, 0, result_kind="bool"), one, b)
    out = lw.select(lw.elementwise("lt", a, 0, result_kind="bool"), zero, out)
    return lw.select(_isnan(lw, a), a, out)


@register("np.meshgrid", "jnp.meshgrid")
def _meshgrid(lw, *xi, copy=True, sparse=False, indexing="xy"):
    indexing, sparse = _static(lw, indexing, "indexing"), _static(lw, sparse, "sparse")
    if indexing not in ("xy", "ij"):
        lw.error(f"meshgrid's indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [lw.reshape(_arr(lw, x), (-1,)) for x in xi]
    nd = len(xs)
    sizes = [x.shape[0] for x in xs]
    if indexing == "xy" and nd > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, x in enumerate(xs):
        pos = (1 - i if i < 2 else i) if indexing == "xy" and nd > 1 else i
        shape = tuple(n if d == pos else 1 for d, n in enumerate(sizes))
        y = lw.reshape(x, shape)
        out.append(y if sparse else lw.broadcast_to(y, tuple(sizes)))
    return tuple(out)


@register("np.polyval", "jnp.polyval")
def _polyval(lw, p, x):
    """Horner's rule over the coefficients (a static-length list or a 1-d array),
    highest power first."""
    if isinstance(p, Dyn) and len(p.shape) != 1:
        lw.error(f"polyval needs a 1-d array of coefficients, got shape {p.shape}")
    coefs = [lw.index(p, i) for i in range(p.shape[0])] if isinstance(p, Dyn) else \
        [_strong(c) if is_static_scalar(c) else c for c in (np.asarray(p) if isinstance(p, np.ndarray) else p)]
    xv = _arr(lw, x)
    y = _zeros(lw, xv)
    for c in coefs:
        prod = _times(lw, y, xv)
        y = lw.elementwise("or" if lw.promote(prod, c)[0] == "bool" else "add", prod, c)
    return y


# ------------------------------------------------------------------- NaN-ignoring reductions

def _nan_fill(lw, x: Dyn, fill) -> Dyn:
    return lw.select(_isnan(lw, x), lw.const(fill, x.dtype, x.shape, x.weak), x)


@register("np.nansum", "jnp.nansum")
def _nansum(lw, a, axis=None, dtype=None, out=None, keepdims=False):
    if out is not None:
        lw.error("nansum with out= is not supported")
    x = _arr(lw, a)
    axis = _static(lw, axis, "axis")
    if is_float(x.dtype):
        x = _nan_fill(lw, x, 0.0)
    dt = _dtype_arg(lw, dtype) or accumulator(x.dtype)
    return lw.reduce("reduce_sum", x, axis, keepdims, dt)


@register("np.nanmean")
def _nanmean(lw, a, axis=None, dtype=None, out=None, keepdims=False, *, jax=False):
    if out is not None:
        lw.error("nanmean with out= is not supported")
    x = _arr(lw, a)
    if dtype is not None:
        x = lw.convert(x, _dtype_arg(lw, dtype))
    axis = _static(lw, axis, "axis")
    if not is_float(x.dtype):
        return lw.mean(_as_float(lw, x, jax), axis, keepdims)
    num = _not(lw, _isnan(lw, x))
    count = lw.reduce("reduce_sum", num, axis, keepdims, dtype=x.dtype)
    return lw.elementwise("div", lw.reduce("reduce_sum", _nan_fill(lw, x, 0.0), axis, keepdims), count)


@register("jnp.nanmean")
def _jnp_nanmean(lw, a, axis=None, dtype=None, out=None, keepdims=False):
    return _nanmean(lw, a, axis, dtype, out, keepdims, jax=True)


def _nan_extremum(prim, fill):
    def handler(lw, a, axis=None, out=None, keepdims=False):
        if out is not None:
            lw.error("nanmax/nanmin with out= is not supported")
        x = _arr(lw, a)
        axis = _static(lw, axis, "axis")
        if not is_float(x.dtype):
            return lw.reduce(prim, x, axis, keepdims)
        m = lw.reduce(prim, _nan_fill(lw, x, fill), axis, keepdims)
        all_nan = lw.reduce("reduce_and", _isnan(lw, x), axis, keepdims)
        return lw.select(all_nan, lw.const(math.nan, x.dtype, m.shape, m.weak), m)
    return handler


register("np.nanmax", "jnp.nanmax")(_nan_extremum("reduce_max", -math.inf))
register("np.nanmin", "jnp.nanmin")(_nan_extremum("reduce_min", math.inf))


# ------------------------------------------------------------------- cumulative product

def _cumprod(widen: bool):
    """out[i] = prod(x[j] for j <= i): x broadcast to an n-by-n square along `axis`, the
    entries above the diagonal replaced by 1, and a product over the last axis. O(n^2)
    work, but exact (no division) with an exact derivative where elements are 0, as the
    product's derivative is exact there."""
    def lower(lw, a, axis=None, dtype=None):
        x, axis = scan_operand(lw, _arr(lw, a), axis, dtype, widen)
        x = _move_last(lw, x, axis)
        n = x.shape[-1]
        if n == 0:
            return _move_from_last(lw, x, axis)
        square = x.shape + (n,)  # (..., i, j): x[..., j]
        rows = Dyn(lw.emit("broadcast_in_dim", [x.value], shape=square,
                           dims=tuple(range(len(x.shape) - 1)) + (len(x.shape),)), x.weak)
        mask = lw.broadcast_to(lw.const(np.tri(n, n, 0, dtype=bool), "bool", (n, n)), square)
        ones = lw.const(1, x.dtype, square, x.weak)
        out = lw.reduce("reduce_prod", Dyn(lw.select(mask, rows, ones).value, x.weak), -1)
        return _move_from_last(lw, out, axis)
    return lower


register("np.cumprod", method="cumprod")(_cumprod(widen=True))
register("jnp.cumprod")(_cumprod(widen=False))
