"""Yet more of NumPy, composed from existing frontend operations (slices, concatenation,
broadcasts, selects, takes, reductions, dot_general), so derivatives, batching,
partitioning and both backends follow from those operations' rules:

split array_split hsplit vsplit dsplit append atleast_1d atleast_2d atleast_3d column_stack
dstack fliplr flipud rot90 copysign signbit isposinf isneginf sinc fmod float_power
logaddexp2 tensordot cov corrcoef trapezoid logspace select interp nanvar nanstd tri
tril_indices triu_indices diag_indices diagflat vander digitize broadcast_arrays
(np. and jnp. spellings).

Sections, axes, sizes and counts must be known at compile time, as the shapes they make
are static. Not supported: cov's fweights/aweights, interp's period=, logspace's axis=;
signbit (and so copysign) sees -0.0 but not the sign bit of a NaN.
"""
from __future__ import annotations

import math

import numpy as np

from ..ir.types import is_float
from .arrays import DEFAULT
from .numpy_api import _dtype_arg, _flip, _isnan, _searchsorted, _static, register, var_of
from .numpy_more import _arr, _as_float, _diag, _diff, _inexact, _int, _not, _slice_axis, _ufunc_arg
from .values import Dyn


# ------------------------------------------------------------------- splitting

def _split(lw, ary, indices_or_sections, axis, even: bool, what: str):
    x = _arr(lw, ary)
    if not x.shape:
        lw.error(f"{what} needs an array of at least one dimension")
    axis = lw.norm_axis(_static(lw, axis, "axis"), len(x.shape))
    ios = _static(lw, indices_or_sections, f"{what}'s indices_or_sections")
    n = x.shape[axis]
    if isinstance(ios, np.ndarray):
        ios = ios.tolist()
    if isinstance(ios, (tuple, list)):
        points = [lw.static_int(i, f"{what}'s indices") for i in ios]
        points = [p + n if p < 0 else p for p in points]
        bounds = [0] + points + [n]
    else:
        k = lw.static_int(ios, f"{what}'s sections")
        if k <= 0:
            lw.error(f"{what}: number of sections must be larger than 0")
        if even and n % k:
            lw.error(f"{what}: array split does not result in an equal division ({n} into {k})",
                     "use np.array_split for unequal parts")
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        bounds = [0] + [int(v) for v in np.cumsum(sizes)]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        lo, hi = min(max(lo, 0), n), min(max(hi, 0), n)
        hi = max(hi, lo)
        if hi == lo:
            out.append(lw.const(False if x.dtype == "bool" else 0, x.dtype,
                                x.shape[:axis] + (0,) + x.shape[axis + 1:], x.weak))
        else:
            out.append(_slice_axis(lw, x, axis, slice(lo, hi)))
    return tuple(out)


@register("np.split", "jnp.split")
def _np_split(lw, ary, indices_or_sections, axis=0):
    return _split(lw, ary, indices_or_sections, axis, True, "split")


@register("np.array_split", "jnp.array_split")
def _array_split(lw, ary, indices_or_sections, axis=0):
    return _split(lw, ary, indices_or_sections, axis, False, "array_split")


@register("np.hsplit", "jnp.hsplit")
def _hsplit(lw, ary, indices_or_sections):
    x = _arr(lw, ary)
    return _split(lw, x, indices_or_sections, 1 if len(x.shape) > 1 else 0, True, "hsplit")


def _split_along(name: str, axis: int):
    """vsplit (axis 0) and dsplit (axis 2): arrays of at least axis + 2 dimensions only."""
    def handler(lw, ary, indices_or_sections):
        x = _arr(lw, ary)
        if len(x.shape) < max(axis + 1, 2):
            lw.error(f"{name} only works on arrays of {max(axis + 1, 2)} or more dimensions")
        return _split(lw, x, indices_or_sections, axis, True, name)
    return handler


register("np.vsplit", "jnp.vsplit")(_split_along("vsplit", 0))
register("np.dsplit", "jnp.dsplit")(_split_along("dsplit", 2))


# ------------------------------------------------------------------- joining and shaping

def _args(lw, jax, *args):
    """Arguments as arrays: NumPy's asarray (Python numbers at full types), or (`jax`) as
    JAX takes them, Python numbers weakly typed."""
    return [(_ufunc_arg if jax else _arr)(lw, a) for a in args]


@register("np.append")
def _append(lw, arr, values, axis=None, *, jax=False):
    x, v = _args(lw, jax, arr, values)
    if axis is None:
        return lw.concatenate([lw.reshape(x, (-1,)), lw.reshape(v, (-1,))], 0)
    return lw.concatenate([x, v], _static(lw, axis, "axis"))


def _at_least(ndim: int):
    def one(lw, a):
        x = _arr(lw, a)
        r = len(x.shape)
        if r >= ndim:
            return x
        if ndim == 1:
            return lw.reshape(x, (1,))
        if ndim == 2:
            return lw.reshape(x, (1,) * (2 - r) + x.shape)
        return lw.reshape(x, (1, 1, 1) if r == 0 else (1,) + x.shape + (1,) if r == 1 else x.shape + (1,))

    def handler(lw, *arys):
        out = tuple(one(lw, a) for a in arys)
        return out[0] if len(out) == 1 else out
    return handler, one


_atleast_1d, _one_1d = _at_least(1)
_atleast_2d, _one_2d = _at_least(2)
_atleast_3d, _one_3d = _at_least(3)
register("np.atleast_1d", "jnp.atleast_1d")(_atleast_1d)
register("np.atleast_2d", "jnp.atleast_2d")(_atleast_2d)
register("np.atleast_3d", "jnp.atleast_3d")(_atleast_3d)


def _seq(lw, tup, what):
    if not isinstance(tup, (tuple, list)):
        lw.error(f"{what} needs a tuple or list of arrays")
    return [_arr(lw, a) for a in tup]


@register("np.column_stack", "jnp.column_stack")
def _column_stack(lw, tup):
    xs = _seq(lw, tup, "column_stack")
    xs = [lw.reshape(x, (-1, 1)) if len(x.shape) < 2 else x for x in xs]
    return lw.concatenate(xs, 1)


@register("np.dstack", "jnp.dstack")
def _dstack(lw, tup):
    return lw.concatenate([_one_3d(lw, x) for x in _seq(lw, tup, "dstack")], 2)


@register("jnp.append")
def _jnp_append(lw, arr, values, axis=None):
    return _append(lw, arr, values, axis, jax=True)


@register("np.broadcast_arrays", "jnp.broadcast_arrays")
def _broadcast_arrays(lw, *args):
    xs = [_arr(lw, a) for a in args]
    shape = lw.broadcast_shapes(*[x.shape for x in xs]) if xs else ()
    return tuple(lw.broadcast_to(x, shape) for x in xs)


# ------------------------------------------------------------------- flips and rotations

@register("np.fliplr", "jnp.fliplr")
def _fliplr(lw, m):
    x = _arr(lw, m)
    if len(x.shape) < 2:
        lw.error("fliplr needs an array of at least 2 dimensions")
    return _flip(lw, x, 1)


@register("np.flipud", "jnp.flipud")
def _flipud(lw, m):
    x = _arr(lw, m)
    if not x.shape:
        lw.error("flipud needs an array of at least 1 dimension")
    return _flip(lw, x, 0)


@register("np.rot90", "jnp.rot90")
def _rot90(lw, m, k=1, axes=(0, 1)):
    x = _arr(lw, m)
    k = _int(lw, k, "rot90's k") % 4
    axes = _static(lw, axes, "axes")
    if len(axes) != 2 or len(x.shape) < 2:
        lw.error("rot90 needs two axes of an array of at least 2 dimensions")
    a0, a1 = (lw.norm_axis(a, len(x.shape)) for a in axes)
    if a0 == a1:
        lw.error("rot90's axes must be different")
    perm = list(range(len(x.shape)))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 0:
        return x
    if k == 2:
        return _flip(lw, _flip(lw, x, a0), a1)
    if k == 1:
        return lw.transpose(_flip(lw, x, a1), perm)
    return _flip(lw, lw.transpose(x, perm), a1)


# ------------------------------------------------------------------- elementwise

def _float_args(lw, jax, *args):
    """Ufunc arguments promoted together and made floating (NumPy: float64 for integers;
    JAX: its inexact type)."""
    xs = [_ufunc_arg(lw, a) for a in args]
    dt, weak = lw.promote(*xs)
    if not is_float(dt):
        dt = _inexact(dt, jax)
    (xs), _ = lw.coerce(xs, dt)
    return xs


@register("np.signbit", "jnp.signbit")
def _signbit(lw, x):
    """x < 0, and -0.0 (whose reciprocal is -inf); the sign of a NaN is not seen."""
    v = _ufunc_arg(lw, x)
    neg = lw.elementwise("lt", v, 0, result_kind="bool")
    if not is_float(v.dtype):
        return neg
    zero = lw.elementwise("eq", v, 0, result_kind="bool")
    inv = lw.elementwise("div", 1.0, lw.select(zero, v, lw.const(1, v.dtype, v.shape)))
    return lw.elementwise("or", neg, lw.elementwise("and", zero, lw.elementwise("lt", inv, 0, result_kind="bool")))


def _copysign(jax):
    def handler(lw, x1, x2):
        a, b = _float_args(lw, jax, x1, x2)
        shape = lw.broadcast_shapes(a.shape, b.shape)
        mag = lw.broadcast_to(lw.elementwise("abs", a), shape)
        return lw.select(lw.broadcast_to(_signbit(lw, b), shape), lw.elementwise("neg", mag), mag)
    return handler


register("np.copysign")(_copysign(False))
register("jnp.copysign")(_copysign(True))


def _is_inf(sign):
    def handler(lw, x):
        v = _ufunc_arg(lw, x)
        if not is_float(v.dtype):
            return lw.const(False, "bool", v.shape)
        return lw.elementwise("eq", v, sign * math.inf, result_kind="bool")
    return handler


register("np.isposinf", "jnp.isposinf")(_is_inf(1))
register("np.isneginf", "jnp.isneginf")(_is_inf(-1))


def _sinc(jax):
    def handler(lw, x):
        v = _float_args(lw, jax, x)[0]
        zero = lw.elementwise("eq", v, 0, result_kind="bool")
        safe = lw.elementwise("mul", lw.select(zero, lw.const(1, v.dtype, v.shape, v.weak), v), math.pi)
        return lw.select(zero, lw.const(1, v.dtype, v.shape, v.weak),
                         lw.elementwise("div", lw.elementwise("sin", safe), safe))
    return handler


register("np.sinc")(_sinc(False))
register("jnp.sinc")(_sinc(True))


@register("np.fmod", "jnp.fmod")
def _fmod(lw, x1, x2):
    """The remainder with the dividend's sign (C's fmod): the floored remainder of the
    magnitudes (exact for non-negative operands), given x1's sign."""
    a, b = _ufunc_arg(lw, x1), _ufunc_arg(lw, x2)
    if a.dtype == "bool" and b.dtype == "bool":
        lw.error("fmod of two boolean arrays is not supported")
    r = lw.elementwise("mod", lw.elementwise("abs", a), lw.elementwise("abs", b))
    neg = lw.broadcast_to(_signbit(lw, a), r.shape)
    return lw.select(neg, lw.elementwise("neg", r), r)


@register("np.float_power")
def _float_power(lw, x1, x2):
    a, b = lw.convert(_ufunc_arg(lw, x1), DEFAULT["float"]), lw.convert(_ufunc_arg(lw, x2), DEFAULT["float"])
    return lw.power(a, b)


@register("jnp.float_power")
def _jnp_float_power(lw, x1, x2):
    a, b = _float_args(lw, True, x1, x2)
    return lw.power(a, b)


def _logaddexp2(jax):
    def handler(lw, x1, x2):
        """log2(2**x1 + 2**x2) = logaddexp(x1 ln 2, x2 ln 2) / ln 2."""
        ln2 = math.log(2.0)
        a, b = _float_args(lw, jax, x1, x2)
        s = lw.elementwise("logaddexp", lw.elementwise("mul", a, ln2), lw.elementwise("mul", b, ln2))
        return lw.elementwise("div", s, ln2)
    return handler


register("np.logaddexp2")(_logaddexp2(False))
register("jnp.logaddexp2")(_logaddexp2(True))


# ------------------------------------------------------------------- products and statistics

@register("np.tensordot")
def _tensordot(lw, a, b, axes=2, *, jax=False):
    """A dot_general over the static axes (the last `axes` of a with the first of b, or
    two lists)."""
    x, y = _args(lw, jax, a, b)
    axes = _static(lw, axes, "tensordot's axes")
    if isinstance(axes, (tuple, list)):
        if len(axes) != 2:
            lw.error("tensordot's axes must be an int or a pair of axis lists")
        ax, ay = ([v] if isinstance(v, int) else list(v) for v in axes)
        if len(ax) != len(ay):
            lw.error("tensordot: the axis lists differ in length")
    else:
        n = lw.static_int(axes, "tensordot's axes")
        if n < 0 or n > min(len(x.shape), len(y.shape)):
            lw.error(f"tensordot: {n} axes for arrays of ranks {len(x.shape)} and {len(y.shape)}")
        ax, ay = list(range(len(x.shape) - n, len(x.shape))), list(range(n))
    ax = [lw.norm_axis(i, len(x.shape)) for i in ax]
    ay = [lw.norm_axis(i, len(y.shape)) for i in ay]
    for i, j in zip(ax, ay):
        if x.shape[i] != y.shape[j]:
            lw.error(f"tensordot: shape mismatch, {x.shape} axis {i} against {y.shape} axis {j}")
    dt, weak = lw.promote(x, y)
    x, y = lw.to_dyn(x, dt), lw.to_dyn(y, dt)
    return Dyn(lw.emit("dot_general", [x.value, y.value], contract=(tuple(ax), tuple(ay)), batch=((), ())), weak)


@register("jnp.tensordot")
def _jnp_tensordot(lw, a, b, axes=2, *, precision=None, preferred_element_type=None):
    return _tensordot(lw, a, b, axes, jax=True)


def _cov_matrix(lw, m, y, rowvar, bias, ddof, fweights, aweights, jax, what):
    if fweights is not None or aweights is not None:
        lw.error(f"{what} with fweights= or aweights= is not supported")
    rowvar, bias, ddof = (_static(lw, v, n) for v, n in ((rowvar, "rowvar"), (bias, "bias"), (ddof, "ddof")))
    x = _arr(lw, m)
    if len(x.shape) > 2:
        lw.error(f"{what}: m has more than 2 dimensions")
    dt = x.dtype
    if y is not None:
        yy = _arr(lw, y)
        dt, _ = lw.promote(x, yy)
    if jax:  # JAX's inexact type (float32 for integers up to 32 bits)
        dt = _inexact(dt, True)
    else:  # NumPy's result_type(m, y, float64)
        dt, _ = lw.promote(lw.const(0, dt), lw.const(0, DEFAULT["float"]))
    X = lw.convert(_one_2d(lw, x), dt)
    if not rowvar and X.shape[0] != 1:
        X = lw.transpose(X, (1, 0))
    if y is not None:
        Y = lw.convert(_one_2d(lw, yy), dt)
        if not rowvar and Y.shape[0] != 1:
            Y = lw.transpose(Y, (1, 0))
        X = lw.concatenate([X, Y], 0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = X.shape[1]
    X = lw.elementwise("sub", X, lw.mean(X, 1, True))
    c = Dyn(lw.emit("dot_general", [X.value, X.value], contract=((1,), (1,)), batch=((), ())))
    c = lw.elementwise("div", c, float(max(n - ddof, 0)))
    return c


def _squeeze_all(lw, c):
    return lw.reshape(c, tuple(s for s in c.shape if s != 1))


def _cov(jax):
    def handler(lw, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, dtype=None):
        c = _cov_matrix(lw, m, y, rowvar, bias, ddof, fweights, aweights, jax, "cov")
        c = _squeeze_all(lw, c)
        return c if dtype is None else lw.convert(c, _dtype_arg(lw, dtype))
    return handler


def _corrcoef(jax):
    def handler(lw, x, y=None, rowvar=True, dtype=None):
        c = _cov_matrix(lw, x, y, rowvar, False, None, None, None, jax, "corrcoef")
        k = c.shape[0]
        d = lw.elementwise("sqrt", _diag(lw, c))
        c = lw.elementwise("div", c, lw.reshape(d, (k, 1)))
        c = lw.elementwise("div", c, lw.reshape(d, (1, k)))
        c = lw.elementwise("min", lw.elementwise("max", c, -1.0), 1.0)
        c = _squeeze_all(lw, c)
        return c if dtype is None else lw.convert(c, _dtype_arg(lw, dtype))
    return handler


register("np.cov")(_cov(False))
register("jnp.cov")(_cov(True))
register("np.corrcoef")(_corrcoef(False))
register("jnp.corrcoef")(_corrcoef(True))


def _trapezoid(jax):
    def handler(lw, y, x=None, dx=1.0, axis=-1):
        v = _arr(lw, y)
        if not v.shape:
            lw.error("trapezoid needs an array of at least 1 dimension")
        axis = lw.norm_axis(_static(lw, axis, "axis"), len(v.shape))
        if x is None:
            d = lw.to_dyn(dx)
        else:
            xv = _arr(lw, x)
            d = _diff(lw, xv, axis=0 if len(xv.shape) == 1 else axis)
            if len(xv.shape) == 1:
                d = lw.reshape(d, tuple(d.shape[0] if i == axis else 1 for i in range(len(v.shape))))
        n = v.shape[axis]
        hi, lo = _slice_axis(lw, v, axis, slice(1, None)), _slice_axis(lw, v, axis, slice(None, max(n - 1, 0)))
        if jax:
            v2 = _as_float(lw, v, True)
            hi, lo = _slice_axis(lw, v2, axis, slice(1, None)), _slice_axis(lw, v2, axis, slice(None, max(n - 1, 0)))
            s = lw.elementwise("mul", d, lw.elementwise("add", hi, lo))
            return lw.elementwise("mul", lw.reduce("reduce_sum", s, axis), 0.5)
        s = lw.elementwise("div", lw.elementwise("mul", d, lw.elementwise("add", hi, lo)), 2.0, result_kind="float")
        return lw.reduce("reduce_sum", s, axis)
    return handler


register("np.trapezoid")(_trapezoid(False))
register("jnp.trapezoid")(_trapezoid(True))


def _nan_moment(std, jax):
    def handler(lw, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
        if out is not None or where is not None:
            lw.error("nanvar/nanstd with out= or where= is not supported")
        if correction is not None:
            ddof = correction
        x = _arr(lw, a)
        mask = _not(lw, _isnan(lw, x)) if is_float(x.dtype) else None
        return var_of(lw, x, axis, dtype, keepdims, ddof, mask, jax=jax, std=std)
    return handler


register("np.nanvar")(_nan_moment(False, False))
register("jnp.nanvar")(_nan_moment(False, True))
register("np.nanstd")(_nan_moment(True, False))
register("jnp.nanstd")(_nan_moment(True, True))


# ------------------------------------------------------------------- creation

@register("np.logspace", "jnp.logspace")
def _logspace(lw, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    from .numpy_api import _linspace
    if _static(lw, axis, "axis") != 0:
        lw.error("logspace with axis= other than 0 is not supported")
    y = _linspace(lw, start, stop, num, endpoint)
    out = lw.power(lw.to_dyn(base, y.dtype) if not isinstance(base, Dyn) else base, y)
    dt = _dtype_arg(lw, dtype)
    return out if dt is None else lw.convert(out, dt)


def _tri(jax):
    def handler(lw, N, M=None, k=0, dtype=None):
        N, k = _int(lw, N, "tri's N"), _int(lw, k, "tri's k")
        M = N if M is None else _int(lw, M, "tri's M")
        dt = _dtype_arg(lw, dtype) or ("f32" if jax else DEFAULT["float"])
        return lw.const(np.tri(N, M, k), dt, (N, M))
    return handler


register("np.tri")(_tri(False))
register("jnp.tri")(_tri(True))


def _index_pair(fn):
    def handler(lw, n, k=0, m=None):
        n, k = _int(lw, n, "n"), _int(lw, k, "k")
        m = None if m is None else _int(lw, m, "m")
        rows, cols = fn(n, k, m)
        return tuple(lw.const(v, DEFAULT["int"], v.shape) for v in (rows, cols))
    return handler


register("np.tril_indices", "jnp.tril_indices")(_index_pair(np.tril_indices))
register("np.triu_indices", "jnp.triu_indices")(_index_pair(np.triu_indices))


@register("np.diag_indices", "jnp.diag_indices")
def _diag_indices(lw, n, ndim=2):
    n, ndim = _int(lw, n, "n"), _int(lw, ndim, "ndim")
    idx = lw.const(np.arange(n), DEFAULT["int"], (n,))
    return (idx,) * ndim


@register("np.diagflat", "jnp.diagflat")
def _diagflat(lw, v, k=0):
    return _diag(lw, lw.reshape(_arr(lw, v), (-1,)), k)


def _vander(jax):
    def handler(lw, x, N=None, increasing=False):
        v = _arr(lw, x)
        if len(v.shape) != 1:
            lw.error("vander needs a 1-d array")
        n = v.shape[0] if N is None else _int(lw, N, "vander's N")
        increasing = _static(lw, increasing, "increasing")
        if not jax:  # (NumPy's type: promote_types(x.dtype, int), float64 for float32)
            v = lw.convert(v, lw.promote(v, lw.const(0, DEFAULT["int"]))[0])
        cols, p = [], lw.const(1, v.dtype, v.shape)
        for i in range(n):
            cols.append(p)
            if i + 1 < n:
                p = lw.elementwise("mul", p, v) if i else v
        if not increasing:
            cols = cols[::-1]
        if not cols:
            return lw.const(0, v.dtype, (v.shape[0], 0))
        return lw.stack(cols, 1)
    return handler


register("np.vander")(_vander(False))
register("jnp.vander")(_vander(True))


# ------------------------------------------------------------------- selection and lookup

def _select(jax):
    def handler(lw, condlist, choicelist, default=0):
        if not isinstance(condlist, (tuple, list)) or not isinstance(choicelist, (tuple, list)):
            lw.error("select needs lists of conditions and choices")
        if len(condlist) != len(choicelist):
            lw.error("select: list of cases must be same length as list of conditions")
        choices = [_ufunc_arg(lw, c) for c in choicelist]  # (Python numbers stay weak, as in both)
        dflt = _ufunc_arg(lw, default)
        conds = [lw.to_dyn(c) for c in condlist]
        for c in conds:
            if c.dtype != "bool":
                lw.error(f"select: condlist entries must be boolean arrays, got {c.dtype}")
        dt, weak = lw.promote(*choices, dflt)
        shape = lw.broadcast_shapes(*[v.shape for v in choices + conds + [dflt]])
        out = lw.broadcast_to(lw.to_dyn(dflt, dt), shape)
        for c, v in reversed(list(zip(conds, choices))):
            out = lw.select(lw.broadcast_to(c, shape), lw.broadcast_to(lw.to_dyn(v, dt), shape), out)
        return Dyn(out.value, weak)
    return handler


register("np.select")(_select(False))
register("jnp.select")(_select(True))


def _interp(jax):
    def handler(lw, x, xp, fp, left=None, right=None, period=None):
        if period is not None:
            lw.error("interp with period= is not supported")
        xv, xpv, fpv = _arr(lw, x), _arr(lw, xp), _arr(lw, fp)
        if len(xpv.shape) != 1 or len(fpv.shape) != 1 or xpv.shape != fpv.shape:
            lw.error(f"interp needs 1-d xp and fp of one length, got shapes {xpv.shape} and {fpv.shape}")
        m = xpv.shape[0]
        if m == 0:
            lw.error("interp: xp and fp must not be empty")
        dt, _ = lw.promote(xv, xpv, fpv)
        if not is_float(dt):
            dt = _inexact(dt, jax)
        if not jax:
            dt = DEFAULT["float"]
        xv, xpv, fpv = (lw.convert(v, dt) for v in (xv, xpv, fpv))
        if m == 1:
            out = lw.broadcast_to(lw.index(fpv, 0), xv.shape)
        else:
            i = _searchsorted(lw, xpv, xv, side="right")
            i = lw.elementwise("min", lw.elementwise("max", i, 1), m - 1)
            j = lw.elementwise("sub", i, 1)
            x0, x1 = lw.take(xpv, j, 0), lw.take(xpv, i, 0)
            f0, f1 = lw.take(fpv, j, 0), lw.take(fpv, i, 0)
            dx = lw.elementwise("sub", x1, x0)
            tiny = lw.elementwise("le", lw.elementwise("abs", dx), 0.0, result_kind="bool")
            safe = lw.select(tiny, lw.const(1, dt, dx.shape), dx)
            f = lw.elementwise("add", f0, lw.elementwise("mul", lw.elementwise("div", lw.elementwise("sub", xv, x0), safe),
                                                         lw.elementwise("sub", f1, f0)))
            out = lw.select(tiny, f0, f)
        lo = lw.index(fpv, 0) if left is None else lw.to_dyn(left, dt)
        hi = lw.index(fpv, m - 1) if right is None else lw.to_dyn(right, dt)
        out = lw.select(lw.elementwise("lt", xv, lw.index(xpv, 0), result_kind="bool"), lw.broadcast_to(lo, out.shape), out)
        out = lw.select(lw.elementwise("gt", xv, lw.index(xpv, m - 1), result_kind="bool"),
                        lw.broadcast_to(hi, out.shape), out)
        if not jax:  # NumPy returns fp[-1] at x == xp[-1] exactly
            out = lw.select(lw.elementwise("eq", xv, lw.index(xpv, m - 1), result_kind="bool"),
                            lw.broadcast_to(lw.index(fpv, m - 1), out.shape), out)
        return lw.convert(out, dt)
    return handler


register("np.interp")(_interp(False))
register("jnp.interp")(_interp(True))


def _digitize(jax):
    def handler(lw, x, bins, right=False, *, method=None):
        b = _arr(lw, bins)
        if len(b.shape) != 1:
            lw.error(f"digitize needs 1-d bins, got shape {b.shape}")
        right = _static(lw, right, "right")
        side = "left" if right else "right"
        n = b.shape[0]
        xv = _arr(lw, x)
        if n == 0:
            out = lw.const(0, DEFAULT["int"], xv.shape)
        else:
            up = _searchsorted(lw, b, xv, side=side)
            down = lw.elementwise("sub", n, _searchsorted(lw, _flip(lw, b, 0), xv, side=side))
            inc = lw.elementwise("ge", lw.index(b, n - 1), lw.index(b, 0), result_kind="bool")
            out = lw.select(lw.broadcast_to(inc, up.shape), up, down)
        return lw.convert(out, "i32") if jax else out
    return handler


register("np.digitize")(_digitize(False))
register("jnp.digitize")(_digitize(True))

