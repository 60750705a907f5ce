"""The Python functions compiled code may call: NumPy, jax.numpy, math, scipy.special and
builtins, each mapped to primitives. One handler serves every spelling of a function
(`np.exp`, `jnp.exp`, `math.exp`, `x.exp` where it is a method).

A handler is an ordinary Python function over lowering values, so Python itself binds
the call's arguments and reports a bad call.
"""
from __future__ import annotations

import builtins
import math
import sys

import numpy as np

from ..ir.types import is_float, is_int
from .arrays import DEFAULT, INDEX, NUMPY_SCALAR, accumulator, describe, is_index_array
from .iteration import items_at_compile_time
from .values import (BOTTOM, AtIndexer, BoundMethod, Dyn, DynRange, Enumerate, Selection, Zip,
                     contains_bottom, is_static_scalar)

_TABLE: dict = {}
METHODS: dict = {}


def _targets(names):
    """Resolve 'np.exp', 'jnp.exp', ... to objects, skipping spellings a library lacks."""
    import jax
    import jax.numpy as jnp
    import jax.scipy.linalg
    mods = {"np": np, "jnp": jnp, "math": math, "builtins": builtins, "jax": jax, "lax": jax.lax,
            "jsl": jax.scipy.linalg}
    try:
        import scipy.linalg
        mods["sl"] = scipy.linalg
    except ImportError:
        pass
    try:
        import jax.scipy.special as jss
        mods["jss"] = jss
    except ImportError:  # pragma: no cover
        pass
    try:
        import scipy.special as sps
        mods["sps"] = sps
    except ImportError:
        pass
    try:  # (frontend/stats.py's names: "jst.norm.logpdf", "sst.norm.logpdf")
        import jax.scipy.stats as jst
        mods["jst"] = jst
    except ImportError:  # pragma: no cover
        pass
    # scipy.stats costs ~0.4 s to import: its names are resolved only once a program has
    # imported it (code that calls it must have), the table then rebuilt (see _table)
    sst = sys.modules.get("scipy.stats")
    if sst is not None:
        mods["sst"] = sst
    out = []
    for n in names:
        mod, _, attr = n.partition(".")
        obj = mods.get(mod)
        for part in attr.split("."):
            obj = getattr(obj, part, None) if obj is not None else None
        if obj is not None:
            out.append(obj)
    return out


_PENDING: list = []


def register(*names, method: str | None = None, methods=()):
    def deco(fn):
        _PENDING.append((names, fn))
        for m in ((method,) if method else ()) + tuple(methods):
            METHODS[m] = fn
        return fn
    return deco


_BUILT_WITH: set = set()  # "sst" once the table holds scipy.stats' functions
_NUMPY_FAMILY: set = set()  # functions with NumPy's result types (strong, never weak)
_MATH_FAMILY: set = set()  # math.*: arrays in, a Python float (weak f64) out


def _table():
    if not _TABLE or ("sst" not in _BUILT_WITH and "scipy.stats" in sys.modules):
        _BUILT_WITH.add("sst" if "scipy.stats" in sys.modules else "")
        for names, fn in _PENDING:
            for name, obj in ((n, o) for n in names for o in _targets([n])):
                try:
                    _TABLE[obj] = fn
                    if name.startswith(("np.", "sps.")):
                        _NUMPY_FAMILY.add(obj)
                    elif name.startswith("math."):
                        _MATH_FAMILY.add(obj)
                except TypeError:  # unhashable
                    pass
        _TABLE.update(_PENDING_OBJECTS)
    return _TABLE


def _strong(v):
    """NumPy functions return NumPy types: a float64 from np.sqrt(2.0), not a weak float."""
    if isinstance(v, Dyn) and v.weak:
        return Dyn(v.value, False, v.nonneg)
    if type(v) in (bool, int, float):
        return NUMPY_SCALAR[type(v)](v)
    return v


def registered(prefix: str) -> list[str]:
    """The names registered under a module path (`registered("jax.random")`: key, split, ...)."""
    return [n[len(prefix) + 1:] for names, _ in _PENDING for n in names if n.startswith(prefix + ".")]


def register_callable(obj, handler):
    """Map a Python callable (not named by module path) to a lowering handler."""
    _PENDING_OBJECTS.append((obj, handler))
    if _TABLE:
        _TABLE[obj] = handler


_PENDING_OBJECTS: list = []


def call_builtin_or_numpy(lw, func, args, kwargs):
    try:
        handler = _table().get(func)
    except TypeError:
        handler = None
    if handler is None:
        cast = _cast_target(func)
        if cast is None:
            return False, None
        return True, _cast(lw, cast, *args, **kwargs)
    if contains_bottom(tuple(args), tuple(kwargs.values())):
        return True, BOTTOM
    from . import masks
    if masks.has_selection(args, kwargs):
        out = masks.call(lw, handler, getattr(func, "__name__", str(func)), args, kwargs)
        return True, _strong(out) if func in _NUMPY_FAMILY and isinstance(out, Dyn) else out
    if func in _MATH_FAMILY:
        args = [_math_arg(lw, func, a) for a in args]
    out = _invoke(lw, handler, getattr(func, "__name__", str(func)), args, kwargs)
    if func in _NUMPY_FAMILY and not isinstance(out, (tuple, list, range)):
        out = _strong(out)
    return True, out


def _invoke(lw, handler, name, args, kwargs):
    try:
        return handler(lw, *args, **kwargs)
    except TypeError as e:
        if "argument" in str(e):
            lw.error(f"bad call to {name}: {e}".replace(handler.__name__ + "()", name + "()"))
        raise
    except (ValueError, ArithmeticError) as e:  # Python's own, from a call folded at compile time
        lw.error(f"{name}(): {type(e).__name__}: {e}")


def _math_arg(lw, func, a):
    """math functions see a Python float: a size-1 array converted to float64, weakly typed."""
    if not isinstance(a, Dyn):
        return a
    if a.shape != ():
        lw.error(f"math.{func.__name__} needs a scalar, got an array of shape {a.shape}",
                 f"use np.{func.__name__} for arrays")
    return lw.convert(a, DEFAULT["float"], weak=True)


def call_method(lw, bm: BoundMethod, args, kwargs):
    if contains_bottom(tuple(args), tuple(kwargs.values())):  # (a recursive call's result, still unknown)
        return BOTTOM
    if isinstance(bm.obj, AtIndexer):
        return at_update(lw, bm.obj, bm.name, *args, **kwargs)
    if isinstance(bm.obj, Selection):
        from .masks import call_method as selection_method
        return selection_method(lw, bm, args, kwargs)
    return _invoke(lw, METHODS[bm.name], "." + bm.name, [bm.obj] + list(args), kwargs)


def _cast_target(func):
    """np.float32, jnp.int32, ...: a dtype used as a function."""
    if isinstance(func, type) and issubclass(func, np.generic):
        return np.dtype(func)
    dt = getattr(func, "dtype", None)
    if dt is not None and callable(func) and type(func).__name__ == "_ScalarMeta":
        return np.dtype(dt)
    return None


def _dtype_arg(lw, dtype):
    if dtype is None:
        return None
    from ..ir import dtype_of_numpy
    if dtype is float:
        return DEFAULT["float"]
    if dtype is int:
        return DEFAULT["int"]
    if dtype is bool:
        return "bool"
    try:
        return dtype_of_numpy(_cast_target(dtype) or np.dtype(dtype))
    except TypeError:
        lw.error(f"unsupported dtype {dtype!r}")


def _cast(lw, np_dtype, x=0, *rest, **kw):
    from ..ir import dtype_of_numpy
    if rest or kw:
        lw.error("dtype casts take a single argument")
    return lw.convert(x, dtype_of_numpy(np_dtype))


def _static(lw, v, what):
    if isinstance(v, Dyn) or v is BOTTOM or (isinstance(v, (tuple, list)) and any(
            isinstance(x, Dyn) or x is BOTTOM for x in v)):
        lw.error(f"{what} must be known at compile time, not a traced array",
                 "a size that comes from a function argument needs ppc.compile(..., static_argnums=...)")
    return v


# ------------------------------------------------------------------- elementwise

def _folded(py, x):
    """`py(x)` for a Python number known at compile time, or None: not foldable here (or
    where `py`, lenient, declines)."""
    if py is not None and is_static_scalar(x) and not isinstance(x, np.generic):
        return py(x)
    return None


def _unary(prim, result_kind="float", py=None):
    def handler(lw, x):
        out = _folded(py, x)
        return out if out is not None else lw.elementwise(prim, x, result_kind=result_kind)
    return handler


def _lenient(py):
    """`py` folding a number known at compile time, or None where Python raises: math.sqrt(-1.0)
    is an error, as in Python, but np.sqrt(-1.0) is NaN, so NumPy's functions then emit the op."""
    def fold(x):
        try:
            return py(x)
        except (ValueError, ArithmeticError):
            return None
    return fold


def _register_unary(prim, names, py, result_kind="float"):
    """math.* folds as Python does; the NumPy-like functions fold only where Python agrees."""
    strict = [n for n in names if n.startswith("math.")]
    if strict:
        register(*strict)(_unary(prim, result_kind, py))
    register(*[n for n in names if n not in strict])(_unary(prim, result_kind, py and _lenient(py)))


for _prim, _names, _py in [
    ("exp", ["np.exp", "jnp.exp", "math.exp"], math.exp),
    ("log", ["np.log", "jnp.log"], None),
    ("log1p", ["np.log1p", "jnp.log1p", "math.log1p"], math.log1p),
    ("expm1", ["np.expm1", "jnp.expm1", "math.expm1"], math.expm1),
    ("sqrt", ["np.sqrt", "jnp.sqrt", "math.sqrt"], math.sqrt),
    ("sin", ["np.sin", "jnp.sin", "math.sin"], math.sin),
    ("cos", ["np.cos", "jnp.cos", "math.cos"], math.cos),
    ("tan", ["np.tan", "jnp.tan", "math.tan"], math.tan),
    ("asin", ["np.arcsin", "jnp.arcsin", "math.asin"], math.asin),
    ("acos", ["np.arccos", "jnp.arccos", "math.acos"], math.acos),
    ("atan", ["np.arctan", "jnp.arctan", "math.atan"], math.atan),
    ("sinh", ["np.sinh", "jnp.sinh", "math.sinh"], math.sinh),
    ("cosh", ["np.cosh", "jnp.cosh", "math.cosh"], math.cosh),
    ("tanh", ["np.tanh", "jnp.tanh", "math.tanh", "jax.nn.tanh"], math.tanh),
    ("asinh", ["np.arcsinh", "jnp.arcsinh", "math.asinh"], math.asinh),
    ("acosh", ["np.arccosh", "jnp.arccosh", "math.acosh"], math.acosh),
    ("atanh", ["np.arctanh", "jnp.arctanh", "math.atanh"], math.atanh),
    ("logistic", ["sps.expit", "jss.expit", "jax.nn.sigmoid"], None),
    ("lgamma", ["sps.gammaln", "jss.gammaln", "math.lgamma", "jax.lax.lgamma"], math.lgamma),
    ("digamma", ["sps.digamma", "jss.digamma", "jax.lax.digamma"], None),
    ("erf", ["sps.erf", "jss.erf", "math.erf", "jax.lax.erf"], math.erf),
    ("erf_inv", ["sps.erfinv", "jss.erfinv", "jax.lax.erf_inv"], None),
]:
    _register_unary(_prim, _names, _py)


@register("math.log")
def _math_log(lw, x, base=None):
    if is_static_scalar(x) and (base is None or is_static_scalar(base)):
        return math.log(x) if base is None else math.log(x, base)
    out = lw.elementwise("log", x, result_kind="float")
    return out if base is None else lw.elementwise("div", out, _math_log(lw, base), result_kind="float")


def _log_base(base: float, py):
    def handler(lw, x):
        out = _folded(py, x)
        return out if out is not None else lw.elementwise(
            "div", lw.elementwise("log", x, result_kind="float"), math.log(base))
    return handler


register("math.log2")(_log_base(2.0, math.log2))
register("math.log10")(_log_base(10.0, math.log10))
register("np.log2", "jnp.log2")(_log_base(2.0, _lenient(math.log2)))
register("np.log10", "jnp.log10")(_log_base(10.0, _lenient(math.log10)))


@register("np.exp2", "jnp.exp2")
def _exp2(lw, x):
    return lw.elementwise("exp", lw.elementwise("mul", x, math.log(2.0), result_kind="float"))


def _same_kind(prim, py=None):
    def handler(lw, x):
        if py is not None and is_static_scalar(x) and not isinstance(x, np.generic):
            return py(x)
        d = lw.to_dyn(x)
        if prim in ("floor", "ceil", "round") and not is_float(d.dtype):
            return d
        return lw.elementwise(prim, d)
    return handler


register("np.abs", "np.absolute", "jnp.abs", "jnp.absolute", "builtins.abs", "np.fabs", "jnp.fabs",
         "math.fabs")(_same_kind("abs", abs))
register("np.sign", "jnp.sign")(_same_kind("sign"))
register("np.floor", "jnp.floor")(_same_kind("floor", np.floor))
register("np.ceil", "jnp.ceil")(_same_kind("ceil", np.ceil))
register("np.rint", "jnp.rint")(_same_kind("round"))
register("np.negative", "jnp.negative")(_same_kind("neg", lambda x: -x))


@register("np.round", "np.around", "jnp.round", "jnp.around", method="round")
def _round(lw, x, decimals=0):
    if decimals == 0:
        return _same_kind("round")(lw, x)
    scale = 10.0 ** _static(lw, decimals, "decimals")
    return lw.elementwise("div", lw.elementwise("round", lw.elementwise("mul", x, scale, result_kind="float")), scale)


@register("builtins.round")
def _py_round(lw, x, ndigits=None):
    if is_static_scalar(x):
        return round(x, ndigits) if ndigits is not None else round(x)
    out = _round(lw, x, ndigits or 0)
    return out if ndigits is not None else lw.convert(out, DEFAULT["int"], weak=True)


@register("np.trunc", "jnp.trunc")
def _trunc(lw, x):
    if is_static_scalar(x):
        return np.trunc(x)
    d = lw.to_dyn(x)
    if not is_float(d.dtype):
        return d
    return lw.select(lw.elementwise("lt", d, 0, result_kind="bool"), lw.elementwise("ceil", d),
                     lw.elementwise("floor", d))


def _py_int(rounding, py):
    """math.floor/ceil/trunc return Python ints, so on a traced scalar a weak int64."""
    def handler(lw, x):
        if is_static_scalar(x):
            return py(x)
        return lw.convert(rounding(lw, x), DEFAULT["int"], weak=True)
    return handler


register("math.floor")(_py_int(_same_kind("floor"), math.floor))
register("math.ceil")(_py_int(_same_kind("ceil"), math.ceil))
register("math.trunc")(_py_int(_trunc, math.trunc))


@register("np.square", "jnp.square")
def _square(lw, x):
    return lw.elementwise("mul", x, x)


@register("np.reciprocal", "jnp.reciprocal")
def _reciprocal(lw, x):
    return lw.elementwise("div", 1.0, x, result_kind="float")


@register("np.isfinite", "jnp.isfinite", "math.isfinite")
def _isfinite(lw, x):
    if is_static_scalar(x):
        return math.isfinite(x)
    d = lw.to_dyn(x)
    if not is_float(d.dtype):
        return lw.const(True, "bool", d.shape)
    return Dyn(lw.emit("is_finite", [d.value]))


@register("np.isnan", "jnp.isnan", "math.isnan")
def _isnan(lw, x):
    if is_static_scalar(x):
        return math.isnan(x)
    return lw.elementwise("ne", x, x, result_kind="bool")


@register("np.isinf", "jnp.isinf", "math.isinf")
def _isinf(lw, x):
    if is_static_scalar(x):
        return math.isinf(x)
    return lw.elementwise("eq", lw.elementwise("abs", x), float("inf"), result_kind="bool")


@register("np.logical_not", "jnp.logical_not")
def _logical_not(lw, x):
    return Dyn(lw.emit("not", [lw.elementwise("ne", x, 0, result_kind="bool").value]))


@register("np.invert", "np.bitwise_not", "jnp.invert", "jnp.bitwise_not")
def _invert(lw, x):
    d = lw.to_dyn(x)
    return Dyn(lw.emit("not", [d.value]), d.weak)


def _binary(prim, result_kind=None, py=None):
    def handler(lw, x, y):
        if py is not None and is_static_scalar(x) and is_static_scalar(y) \
                and not isinstance(x, np.generic) and not isinstance(y, np.generic):
            return py(x, y)
        return lw.elementwise(prim, x, y, result_kind=result_kind)
    return handler


for _prim, _kind, _names in [
    ("add", None, ["np.add", "jnp.add"]),
    ("sub", None, ["np.subtract", "jnp.subtract"]),
    ("mul", None, ["np.multiply", "jnp.multiply"]),
    ("div", "float", ["np.divide", "np.true_divide", "jnp.divide", "jnp.true_divide"]),
    ("floordiv", None, ["np.floor_divide", "jnp.floor_divide"]),
    ("mod", None, ["np.mod", "np.remainder", "jnp.mod", "jnp.remainder"]),
    ("max", None, ["np.maximum", "jnp.maximum"]),
    ("min", None, ["np.minimum", "jnp.minimum"]),
    ("atan2", "float", ["np.arctan2", "jnp.arctan2"]),
    ("logaddexp", "float", ["np.logaddexp", "jnp.logaddexp"]),
    ("eq", "bool", ["np.equal", "jnp.equal"]),
    ("ne", "bool", ["np.not_equal", "jnp.not_equal"]),
    ("lt", "bool", ["np.less", "jnp.less"]),
    ("le", "bool", ["np.less_equal", "jnp.less_equal"]),
    ("gt", "bool", ["np.greater", "jnp.greater"]),
    ("ge", "bool", ["np.greater_equal", "jnp.greater_equal"]),
    ("and", None, ["np.bitwise_and", "jnp.bitwise_and"]),
    ("or", None, ["np.bitwise_or", "jnp.bitwise_or"]),
    ("xor", None, ["np.bitwise_xor", "jnp.bitwise_xor"]),
    ("shift_left", None, ["np.left_shift", "jnp.left_shift"]),
    ("shift_right", None, ["np.right_shift", "jnp.right_shift"]),
]:
    register(*_names)(_binary(_prim, _kind))

register("math.atan2")(_binary("atan2", "float", math.atan2))


def _nan_ignoring(prim):
    """np.fmax/fmin: a NaN operand gives way to the other (NaN only where both are)."""
    def handler(lw, x, y):
        out = lw.elementwise(prim, x, y)
        out = lw.select(lw.elementwise("ne", x, x, result_kind="bool"), y, out)
        return lw.select(lw.elementwise("ne", y, y, result_kind="bool"), x, out)
    return handler


register("np.fmax", "jnp.fmax")(_nan_ignoring("max"))
register("np.fmin", "jnp.fmin")(_nan_ignoring("min"))


@register("np.power", "jnp.power", "math.pow", "builtins.pow")
def _power(lw, x, y):
    if is_static_scalar(x) and is_static_scalar(y):
        return x ** y
    return lw.power(x, y)


@register("np.hypot", "jnp.hypot", "math.hypot")
def _hypot(lw, x, y):
    if is_static_scalar(x) and is_static_scalar(y):
        return math.hypot(x, y)
    return lw.elementwise("sqrt", lw.elementwise("add", _square(lw, x), _square(lw, y)), result_kind="float")


def _logical(prim):
    def handler(lw, x, y):
        a = lw.elementwise("ne", x, 0, result_kind="bool")
        b = lw.elementwise("ne", y, 0, result_kind="bool")
        return lw.elementwise(prim, a, b)
    return handler


register("np.logical_and", "jnp.logical_and")(_logical("and"))
register("np.logical_or", "jnp.logical_or")(_logical("or"))
register("np.logical_xor", "jnp.logical_xor")(_logical("xor"))


@register("np.where", "jnp.where")
def _where(lw, cond, x=None, y=None):
    if x is None or y is None:
        lw.error("np.where(cond) with one argument has a data-dependent shape",
                 "use np.where(cond, x, y)")
    return lw.select(cond, x, y)


@register("np.clip", "jnp.clip", method="clip")
def _clip(lw, x, a_min=None, a_max=None, *, min=None, max=None):
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    out = lw.to_dyn(x)
    if lo is not None:
        out = lw.elementwise("max", out, lo)
    if hi is not None:
        out = lw.elementwise("min", out, hi)
    return out


@register("jax.nn.relu")
def _relu(lw, x):
    """x where x > 0 (NaN kept), else 0: the slope at 0 is 0, as JAX's (a max would split it)."""
    x = lw.to_dyn(x)
    rest = lw.select(lw.elementwise("ne", x, x, result_kind="bool"), x, 0.0)
    return lw.select(lw.elementwise("gt", x, 0, result_kind="bool"), x, rest)


@register("jax.nn.softplus")
def _softplus(lw, x):
    return lw.elementwise("logaddexp", x, 0.0, result_kind="float")


@register("jax.nn.log_sigmoid")
def _log_sigmoid(lw, x):
    return lw.elementwise("neg", _softplus(lw, lw.elementwise("neg", lw.to_dyn(x))))


@register("sps.logsumexp", "jss.logsumexp", "jax.nn.logsumexp")
def _logsumexp(lw, a, axis=None, keepdims=False, b=None):
    if b is not None:
        lw.error("logsumexp with weights b= is not supported", "add jnp.log(b) to the input")
    x = lw.to_dyn(a)
    if not is_float(x.dtype):
        x = lw.convert(x, DEFAULT["float"])
    m = lw.reduce("reduce_max", x, axis, keepdims=True)
    # a row that is all -inf has max -inf; shifting by 0 instead keeps it -inf, not nan
    m = lw.select(Dyn(lw.emit("is_finite", [m.value])), m, 0.0)
    m = Dyn(lw.emit("stop_gradient", [m.value]), m.weak)  # the shift cancels: no derivative
    s = lw.reduce("reduce_sum", lw.elementwise("exp", lw.elementwise("sub", x, m)), axis, keepdims=True)
    out = lw.elementwise("add", lw.elementwise("log", s), m)
    if not keepdims:
        axes = lw.norm_axes(axis, len(x.shape))
        out = lw.reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))
    return out


@register("jax.nn.softmax", "sps.softmax", "jss.softmax")
def _softmax(lw, x, axis=-1):
    """As JAX and SciPy compute it: exp(x - max) over its sum (so an infinite entry makes
    the whole slice NaN, as theirs; exp(x - logsumexp) gave 0 beside it)."""
    x = lw.to_dyn(x)
    if not is_float(x.dtype):
        x = lw.convert(x, DEFAULT["float"])
    m = lw.reduce("reduce_max", x, axis, keepdims=True)
    m = Dyn(lw.emit("stop_gradient", [m.value]), m.weak)  # the shift cancels: no derivative
    e = lw.elementwise("exp", lw.elementwise("sub", x, m))
    return lw.elementwise("div", e, lw.reduce("reduce_sum", e, axis, keepdims=True))


@register("jax.nn.log_softmax", "sps.log_softmax")
def _log_softmax(lw, x, axis=-1):
    return lw.elementwise("sub", x, _logsumexp(lw, x, axis, keepdims=True))


@register("jax.lax.stop_gradient")
def _stop_gradient(lw, x):
    d = lw.to_dyn(x)
    return Dyn(lw.emit("stop_gradient", [d.value]), d.weak)


def _starts(lw, x: Dyn, start_indices, what):
    """A start per axis of x, as index scalars, read as JAX reads them: a negative start
    counts from the end once, then starts clamp so the window fits (as the IR's do)."""
    items = list(start_indices) if isinstance(start_indices, (tuple, list)) else None
    if items is None or len(items) != len(x.shape):
        lw.error(f"{what} needs one start index per axis of its operand's {len(x.shape)}, got {describe(start_indices)}")
    starts = []
    for i, n in zip(items, x.shape):
        d = lw.to_dyn(i)
        if d.shape != () or not is_int(d.dtype):
            lw.error(f"{what} start indices must be integer scalars, got {describe(i)}")
        starts.append(lw.wrap_index(d, n).value)
    return starts


@register("jax.lax.dynamic_slice")
def _lax_dynamic_slice(lw, operand, start_indices, slice_sizes):
    x = lw.to_dyn(operand)
    sizes = tuple(lw.static_int(n, "a slice size") for n in _static(lw, slice_sizes, "slice_sizes"))
    if len(sizes) != len(x.shape) or any(not 0 <= n <= m for n, m in zip(sizes, x.shape)):
        lw.error(f"dynamic_slice sizes {sizes} do not fit an operand of shape {x.shape}")
    return Dyn(lw.emit("dynamic_slice", [x.value] + _starts(lw, x, start_indices, "dynamic_slice"), x.value.hint,
                       sizes=sizes), x.weak)


@register("jax.lax.dynamic_update_slice")
def _lax_dynamic_update_slice(lw, operand, update, start_indices):
    x = lw.to_dyn(operand)
    u = lw.to_dyn(update, x.dtype)
    if len(u.shape) != len(x.shape) or any(n > m for n, m in zip(u.shape, x.shape)):
        lw.error(f"dynamic_update_slice of an update of shape {u.shape} does not fit an operand of shape {x.shape}")
    starts = _starts(lw, x, start_indices, "dynamic_update_slice")
    return Dyn(lw.emit("dynamic_update_slice", [x.value, u.value] + starts, x.value.hint), x.weak)


@register("sps.xlogy", "jss.xlogy")
def _xlogy(lw, x, y):
    """0 where x is 0 (as JAX's, for any y but NaN), with d/dx = log y there too: y is
    replaced by 1 only where x is 0 and y is not positive or infinite, so no select cuts
    x's tangent."""
    unsafe = lw.elementwise("or", lw.elementwise("le", y, 0, result_kind="bool"),
                            lw.elementwise("ge", y, float("inf"), result_kind="bool"), result_kind="bool")
    at_zero = lw.elementwise("and", lw.elementwise("eq", x, 0, result_kind="bool"), unsafe, result_kind="bool")
    return lw.elementwise("mul", x, lw.elementwise("log", lw.select(at_zero, 1.0, y), result_kind="float"))


# ------------------------------------------------------------------- reductions

# what `where=` fills the left-out elements with, and how `initial=` joins the result
_IDENTITY = {"reduce_sum": (0, "add"), "reduce_prod": (1, "mul"), "reduce_max": (None, "max"),
             "reduce_min": (None, "min"), "reduce_and": (True, "and"), "reduce_or": (False, "or")}


def _reduction(prim, py=None):
    def handler(lw, a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        if out is not None:
            lw.error("out= is not supported in reductions", "use the result")
        if py is not None and isinstance(a, (tuple, list)) and all(is_static_scalar(v) for v in a) \
                and initial is None and where is None:
            return py(a)
        axis = _static(lw, axis, "axis")
        a, dt = lw.to_dyn(a), _dtype_arg(lw, dtype)
        if dt is None and prim in ("reduce_sum", "reduce_prod") and accumulator(a.dtype) != a.dtype:
            dt = accumulator(a.dtype)
        fill, join = _IDENTITY[prim]
        if where is not None:  # (NumPy: the left-out elements count as the reduction's identity)
            if fill is None and initial is None:
                lw.error(f"{prim.removeprefix('reduce_')} with where= needs initial= (the value of an empty "
                         "reduction), as in NumPy")
            a = lw.select(where, a, lw.convert(lw.to_dyn(initial if fill is None else fill), a.dtype))
        out = lw.reduce(prim, a, axis, keepdims, dt)
        return out if initial is None else lw.elementwise(join, out, initial)
    return handler


register("np.sum", "jnp.sum", method="sum")(_reduction("reduce_sum", builtins.sum))
register("np.prod", "jnp.prod", method="prod")(_reduction("reduce_prod", math.prod))
register("np.max", "np.amax", "jnp.max", "jnp.amax", method="max")(_reduction("reduce_max", builtins.max))
register("np.min", "np.amin", "jnp.min", "jnp.amin", method="min")(_reduction("reduce_min", builtins.min))
register("np.all", "jnp.all", method="all")(_reduction("reduce_and", builtins.all))
register("np.any", "jnp.any", method="any")(_reduction("reduce_or", builtins.any))


def _moment_dtype(lw, x: Dyn, dtype, jax: bool, what: str) -> str:
    """The dtype a mean, var or std of `x` is computed and returned in: `dtype=` if given,
    else x's float type, else (bools and integers) NumPy's float64, or JAX's with 64-bit
    types on: float32 for bools and integers up to 32 bits, float64 for 64-bit ones."""
    dt = _dtype_arg(lw, dtype)
    if dt == "bool":
        lw.error(f"{what} with dtype=bool is not supported", "use a float dtype")
    if dt is not None:
        if jax and what == "jnp.std" and not is_float(dt):
            lw.error(f"dtype argument to jnp.std must be inexact; got {np.dtype(dtype)}", "use a float dtype")
        return dt
    if is_float(x.dtype):
        return x.dtype
    return "f32" if jax and x.dtype not in ("i64", "u64") else DEFAULT["float"]


def _count(lw, x: Dyn, axes, keepdims, where, dtype: str):
    """The number of elements each result of a reduction over `axes` takes: a static int,
    or (with `where=`) a traced count in `dtype`."""
    if where is None:
        return int(np.prod([x.shape[a] for a in axes]))
    hits = lw.convert(lw.broadcast_to(lw.to_dyn(where), x.shape), dtype)
    return lw.reduce("reduce_sum", hits, axes, keepdims)


def _divide(lw, total: Dyn, n, dtype: str) -> Dyn:
    """total / n in `dtype`: integers divide as floats and truncate, as NumPy's mean with an
    integer dtype= (and JAX's integer division) does."""
    if not is_float(dtype):
        q = lw.elementwise("div", lw.convert(total, DEFAULT["float"]),
                           float(n) if isinstance(n, int) else lw.convert(n, DEFAULT["float"]))
        return lw.convert(q, dtype)
    return lw.elementwise("div", total, float(n) if isinstance(n, int) else lw.convert(n, dtype))


def mean_of(lw, a, axis=None, dtype=None, keepdims=False, where=None, *, jax=False) -> Dyn:
    """np.mean (jax=False) or jnp.mean (jax=True): the sum in the result's dtype (float16
    summed in float32, as both do) over the count; NaN where no element is counted."""
    what = "jnp.mean" if jax else "np.mean"
    x = lw.to_dyn(a)
    out_dt = _moment_dtype(lw, x, dtype, jax, what)
    work = "f32" if out_dt == "f16" else out_dt
    x = lw.convert(x, work)
    axes = lw.norm_axes(_static(lw, axis, "axis"), len(x.shape))
    keepdims = _static(lw, keepdims, "keepdims")
    if where is not None:
        x = lw.select(where, x, lw.convert(lw.to_dyn(0), work))
    total = lw.reduce("reduce_sum", x, axes, keepdims)
    n = _count(lw, x, axes, keepdims, where, work if is_float(work) else DEFAULT["float"])
    return lw.convert(_divide(lw, total, n, work), out_dt)


def var_of(lw, a, axis=None, dtype=None, keepdims=False, ddof=0, where=None, *, jax=False, std=False) -> Dyn:
    """np.var/np.std (jax=False) or jnp.var/jnp.std (jax=True), in two passes: the mean,
    then the summed squared deviations over count - ddof. NumPy divides by max(count - ddof,
    0) (inf or NaN at 0), JAX gives NaN where count - ddof <= 0. An integer dtype= computes in
    integers and truncates (NumPy keeps the integer type, JAX returns float64)."""
    what = ("jnp." if jax else "np.") + ("std" if std else "var")
    x = lw.to_dyn(a)
    out_dt = _moment_dtype(lw, x, dtype, jax, what)
    work = "f32" if jax and out_dt == "f16" else out_dt  # (JAX computes float16 in float32; NumPy's var does not)
    x = lw.convert(x, work)
    axes = lw.norm_axes(_static(lw, axis, "axis"), len(x.shape))
    keepdims, ddof = _static(lw, keepdims, "keepdims"), _static(lw, ddof, "ddof")
    zero = None if where is None else lw.convert(lw.to_dyn(0), work)
    count_dt = work if is_float(work) else DEFAULT["float"]
    n = _count(lw, x, axes, True, where, count_dt)
    mean = _divide(lw, lw.reduce("reduce_sum", x if where is None else lw.select(where, x, zero), axes, True), n, work)
    dev = lw.elementwise("sub", x, mean)
    if where is not None:
        dev = lw.select(where, dev, zero)
    total = lw.reduce("reduce_sum", lw.elementwise("mul", dev, dev), axes, keepdims)
    if isinstance(n, int):
        dof = n - ddof
        res = _divide(lw, total, max(dof, 0), work)
        if jax and dof <= 0:
            res = lw.elementwise("add", lw.elementwise("mul", lw.convert(res, count_dt), 0.0), float("nan"))
    else:
        dof = lw.elementwise("sub", n if keepdims else lw.reshape(n, total.shape), ddof)
        res = _divide(lw, total, lw.elementwise("max", dof, 0), work)
        if jax:
            res = lw.select(lw.elementwise("gt", dof, 0, result_kind="bool"), lw.convert(res, count_dt),
                            float("nan"))
    if jax and not is_float(out_dt):  # (jnp.var's integer dtype=: NaN joins a weak float64)
        return lw.convert(res, DEFAULT["float"], weak=True)
    if std:
        res = lw.elementwise("sqrt", res, result_kind="float")
    return lw.convert(res, out_dt)


def _ddof(lw, ddof, correction):
    if correction is not None:
        if _static(lw, ddof, "ddof") != 0:
            lw.error("ddof and correction cannot both be given")
        return correction
    return ddof


def _no_out(lw, out):
    if out is not None:
        lw.error("out= is not supported in reductions", "use the result")


@register("np.mean", method="mean")
def _mean(lw, a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _no_out(lw, out)
    return mean_of(lw, a, axis, dtype, keepdims, where)


@register("jnp.mean")
def _jnp_mean(lw, a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _no_out(lw, out)
    return mean_of(lw, a, axis, dtype, keepdims, where, jax=True)


@register("np.var", method="var")
def _var(lw, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    _no_out(lw, out)
    return var_of(lw, a, axis, dtype, keepdims, _ddof(lw, ddof, correction), where)


@register("jnp.var")
def _jnp_var(lw, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    _no_out(lw, out)
    return var_of(lw, a, axis, dtype, keepdims, _ddof(lw, ddof, correction), where, jax=True)


@register("np.std", method="std")
def _std(lw, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    _no_out(lw, out)
    return var_of(lw, a, axis, dtype, keepdims, _ddof(lw, ddof, correction), where, std=True)


@register("jnp.std")
def _jnp_std(lw, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None):
    _no_out(lw, out)
    return var_of(lw, a, axis, dtype, keepdims, _ddof(lw, ddof, correction), where, jax=True, std=True)


def _arg(prim):
    def handler(lw, a, axis=None, keepdims=False):
        x = lw.to_dyn(a)
        if x.dtype == "bool":
            x = lw.convert(x, DEFAULT["int"])
        shape = x.shape  # with keepdims, every axis reduced stays as size 1
        if axis is None:
            x, axis, kept = lw.reshape(x, (-1,)), 0, (1,) * len(shape)
        else:
            axis = lw.norm_axis(_static(lw, axis, "axis"), len(shape))
            kept = tuple(1 if i == axis else n for i, n in enumerate(shape))
        if x.shape[axis] == 0:
            lw.error(f"attempt to get {prim} of an empty sequence")
        out = Dyn(lw.emit(prim, [x.value], axis=axis, index_dtype=DEFAULT["int"]))
        return lw.reshape(out, kept) if keepdims else out
    return handler


register("np.argmax", "jnp.argmax", method="argmax")(_arg("argmax"))
register("np.argmin", "jnp.argmin", method="argmin")(_arg("argmin"))


def scan_operand(lw, x: Dyn, axis, dtype, widen: bool) -> tuple[Dyn, int]:
    """(operand, axis) of a cumulative sum or product: in `dtype`, or bools and (`widen`,
    NumPy's rule) narrow integers in 64 bits; flattened when `axis` is None."""
    if dtype is not None:
        x = lw.convert(x, _dtype_arg(lw, dtype))
    elif x.dtype == "bool" or (widen and accumulator(x.dtype) != x.dtype):
        x = lw.convert(x, accumulator(x.dtype))
    if axis is None:
        x, axis = lw.reshape(x, (-1,)), 0
    return x, lw.norm_axis(_static(lw, axis, "axis"), len(x.shape))


def _cumsum(widen: bool):
    """np.cumsum (and x.cumsum()) sums narrow integers in 64 bits, as np.sum does
    (np.cumsum of an int32 array is int64); jnp.cumsum keeps them, as JAX does."""
    def lower(lw, a, axis=None, dtype=None):
        x, axis = scan_operand(lw, lw.to_dyn(a), axis, dtype, widen)
        return Dyn(lw.emit("cumsum", [x.value], axis=axis, reverse=False), x.weak)
    return lower


register("np.cumsum", method="cumsum")(_cumsum(widen=True))
register("jnp.cumsum")(_cumsum(widen=False))


@register("np.searchsorted", "jnp.searchsorted", method="searchsorted")
def _searchsorted(lw, a, v, side="left", sorter=None, *, method=None):
    """The index where each element of `v` would go in the sorted 1-d `a`: for side "left"
    the count of a's elements below it, for "right" those not above it. Composed from a
    broadcast comparison and an integer sum over a's axis (O(len(a) * v.size), exact, and
    batched and partitioned as those are). NaN sorts last, as in NumPy: a NaN in `v` goes
    after a's numbers (left) or after everything (right). The result is the index int
    (int64), as NumPy's; jnp.searchsorted's int32 is widened. `method=` (jnp's choice of
    algorithm) changes nothing here."""
    if sorter is not None:
        lw.error("searchsorted with sorter= is not supported in compiled code",
                 "sort first and search the sorted array: np.searchsorted(a[sorter], v)")
    side = _static(lw, side, "searchsorted's side")
    if not isinstance(side, str) or side not in ("left", "right"):
        lw.error(f"searchsorted's side must be 'left' or 'right', got {describe(side)}")
    x = lw.to_dyn(a)
    if len(x.shape) != 1:
        lw.error(f"searchsorted needs a 1-d sorted array to search, got one of shape {x.shape}",
                 "search each row on its own (a loop, or ppc.autobatch over the rows)")
    q = lw.to_dyn(v)
    q = lw.reshape(q, q.shape + (1,))  # against every element of a, along a new last axis
    nan_q = lw.elementwise("ne", q, q, result_kind="bool") if is_float(q.dtype) else None
    if side == "left":  # a[i] < v, NaN above every number
        hit = lw.elementwise("lt", x, q, result_kind="bool")
        if nan_q is not None:
            if is_float(x.dtype):
                num_x = Dyn(lw.emit("not", [lw.elementwise("ne", x, x, result_kind="bool").value]))
                nan_q = lw.elementwise("and", nan_q, num_x, result_kind="bool")
            hit = lw.elementwise("or", hit, nan_q, result_kind="bool")
    else:  # a[i] <= v, NaN above every number and equal to NaN
        hit = lw.elementwise("le", x, q, result_kind="bool")
        if nan_q is not None:
            hit = lw.elementwise("or", hit, nan_q, result_kind="bool")
    return lw.reduce("reduce_sum", hit, -1, dtype=DEFAULT["int"])


# ------------------------------------------------------------------- linear algebra

def matmul(lw, a, b):
    x, y = lw.to_dyn(a), lw.to_dyn(b)
    dt, weak = lw.promote(x, y)
    x, y = lw.to_dyn(x, dt), lw.to_dyn(y, dt)
    if not x.shape or not y.shape:
        lw.error("matmul operands must be at least 1-d", "use * to multiply by a scalar")
    if len(x.shape) == 1 and len(y.shape) == 1:
        return _dot(lw, x, y, ((0,), (0,)), ((), ()), weak)
    if len(y.shape) == 1:
        return _dot(lw, x, y, ((len(x.shape) - 1,), (0,)), ((), ()), weak)
    if len(x.shape) == 1:
        return _dot(lw, x, y, ((0,), (len(y.shape) - 2,)), ((), ()), weak)
    batch = lw.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    x = lw.broadcast_to(x, batch + x.shape[-2:])
    y = lw.broadcast_to(y, batch + y.shape[-2:])
    nb = len(batch)
    return _dot(lw, x, y, ((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb))), weak)


def _dot(lw, x, y, contract, batch, weak=False):
    (xc, yc) = contract
    for a, b in zip(xc, yc):
        if x.shape[a] != y.shape[b]:
            lw.error(f"matmul shapes {x.shape} and {y.shape} do not align: "
                     f"{x.shape[a]} (axis {a}) != {y.shape[b]} (axis {b})")
    return Dyn(lw.emit("dot_general", [x.value, y.value], contract=contract, batch=batch), weak)


register("np.matmul", "jnp.matmul")(matmul)


@register("np.dot", "jnp.dot", method="dot")
def _np_dot(lw, a, b):
    x, y = lw.to_dyn(a), lw.to_dyn(b)
    if not x.shape or not y.shape:
        return lw.elementwise("mul", x, y)
    if len(x.shape) <= 2 and len(y.shape) <= 2:
        return matmul(lw, x, y)
    dt, weak = lw.promote(x, y)
    x, y = lw.to_dyn(x, dt), lw.to_dyn(y, dt)
    yc = len(y.shape) - 2 if len(y.shape) > 1 else 0
    return _dot(lw, x, y, ((len(x.shape) - 1,), (yc,)), ((), ()), weak)


@register("np.inner", "jnp.inner")
def _inner(lw, a, b):
    x, y = lw.to_dyn(a), lw.to_dyn(b)
    if not x.shape or not y.shape:
        return lw.elementwise("mul", x, y)
    dt, weak = lw.promote(x, y)
    return _dot(lw, lw.to_dyn(x, dt), lw.to_dyn(y, dt), ((len(x.shape) - 1,), (len(y.shape) - 1,)), ((), ()), weak)


@register("np.vdot", "jnp.vdot")
def _vdot(lw, a, b):
    return _inner(lw, lw.reshape(a, (-1,)), lw.reshape(b, (-1,)))


@register("np.outer", "jnp.outer")
def _outer(lw, a, b):
    x, y = lw.reshape(a, (-1,)), lw.reshape(b, (-1,))
    return lw.elementwise("mul", lw.reshape(x, (x.shape[0], 1)), lw.reshape(y, (1, y.shape[0])))


@register("np.einsum", "jnp.einsum")
def _einsum(lw, subscripts, *operands, optimize=None, precision=None):
    if not isinstance(subscripts, str):
        lw.error("einsum needs literal subscripts such as 'ij,jk->ik'")
    spec = subscripts.replace(" ", "")
    if "." in spec:
        lw.error("einsum with '...' is not supported", "write out every axis letter")
    ins, arrow, out = spec.partition("->")
    terms = ins.split(",")
    if len(terms) != len(operands):
        lw.error(f"einsum subscripts name {len(terms)} operands but {len(operands)} were given")
    if not arrow:
        counts = {c: ins.count(c) for c in ins if c != ","}
        out = "".join(sorted(c for c, n in counts.items() if n == 1))
    xs = [lw.to_dyn(o) for o in operands]
    dt, weak = lw.promote(*xs)
    xs = [lw.to_dyn(x, dt) for x in xs]
    for t, x in zip(terms, xs):
        if len(t) != len(x.shape):
            lw.error(f"einsum term '{t}' has {len(t)} letters for an operand of rank {len(x.shape)}")
        if len(set(t)) != len(t):
            lw.error(f"einsum term '{t}' repeats a letter (diagonals are not supported)")
    sizes = {}
    for t, x in zip(terms, xs):
        for c, n in zip(t, x.shape):
            if sizes.setdefault(c, n) != n:
                lw.error(f"einsum letter '{c}' has sizes {sizes[c]} and {n}")
    cur, cur_t = xs[0], terms[0]
    for k in range(1, len(xs)):
        later = "".join(terms[k + 1:]) + out
        cur, cur_t = _einsum_pair(lw, cur, cur_t, xs[k], terms[k], later)
    # sum letters no longer needed, then order as requested
    drop = tuple(i for i, c in enumerate(cur_t) if c not in out)
    if drop:
        cur = lw.reduce("reduce_sum", cur, drop)
        cur_t = "".join(c for c in cur_t if c in out)
    if set(out) - set(cur_t):
        lw.error(f"einsum output letters {''.join(sorted(set(out) - set(cur_t)))} appear in no input")
    return Dyn(lw.transpose(cur, [cur_t.index(c) for c in out]).value, weak)


def _einsum_pair(lw, x, xt, y, yt, later):
    # letters only in one operand and needed nowhere else are summed first
    for which in (0, 1):
        t, other = (xt, yt) if which == 0 else (yt, xt)
        drop = tuple(i for i, c in enumerate(t) if c not in other and c not in later)
        if drop:
            v = lw.reduce("reduce_sum", x if which == 0 else y, drop)
            t = "".join(c for i, c in enumerate(t) if i not in drop)
            if which == 0:
                x, xt = v, t
            else:
                y, yt = v, t
    shared = [c for c in xt if c in yt]
    batch = [c for c in shared if c in later]
    contract = [c for c in shared if c not in later]
    out = Dyn(lw.emit("dot_general", [x.value, y.value],
                      contract=(tuple(xt.index(c) for c in contract), tuple(yt.index(c) for c in contract)),
                      batch=(tuple(xt.index(c) for c in batch), tuple(yt.index(c) for c in batch))))
    out_t = "".join(batch) + "".join(c for c in xt if c not in shared) + "".join(c for c in yt if c not in shared)
    return out, out_t


# ------------------------------------------------------------------- shapes

@register("np.reshape", "jnp.reshape")
def _reshape_fn(lw, a, shape=None, order="C", *, newshape=None):
    shape = shape if shape is not None else newshape
    if order != "C":
        lw.error("only order='C' reshapes are supported")
    return lw.reshape(a, _static(lw, shape, "shape"))


def _reshape_method(lw, a, *shape, order="C"):
    if order != "C":
        lw.error("only order='C' reshapes are supported")
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return lw.reshape(a, _static(lw, tuple(shape), "shape"))


METHODS["reshape"] = _reshape_method


@register("np.transpose", "jnp.transpose")
def _transpose_fn(lw, a, axes=None):
    return lw.transpose(a, _static(lw, axes, "axes"))


def _transpose_method(lw, a, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return lw.transpose(a, tuple(axes) if axes else None)


METHODS["transpose"] = _transpose_method


@register("np.swapaxes", "jnp.swapaxes", method="swapaxes")
def _swapaxes(lw, a, axis1, axis2):
    x = lw.to_dyn(a)
    perm = list(range(len(x.shape)))
    i, j = lw.norm_axis(axis1, len(perm)), lw.norm_axis(axis2, len(perm))
    perm[i], perm[j] = perm[j], perm[i]
    return lw.transpose(x, perm)


@register("np.moveaxis", "jnp.moveaxis")
def _moveaxis(lw, a, source, destination):
    x = lw.to_dyn(a)
    n = len(x.shape)
    src, dst = (lw.axis_list(_static(lw, v, "axis"), n) for v in (source, destination))
    if len(src) != len(dst):
        lw.error("moveaxis: `source` and `destination` must have the same number of elements")
    perm = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return lw.transpose(x, perm)


@register("np.expand_dims", "jnp.expand_dims")
def _expand_dims(lw, a, axis):
    x = lw.to_dyn(a)
    axis = _static(lw, axis, "axis")
    rank = len(x.shape) + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axes = lw.norm_axes(axis, rank)
    shape = list(x.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return lw.reshape(x, tuple(shape))


@register("np.squeeze", "jnp.squeeze", method="squeeze")
def _squeeze(lw, a, axis=None):
    x = lw.to_dyn(a)
    if axis is None:
        axes = [i for i, n in enumerate(x.shape) if n == 1]
    else:
        axes = lw.norm_axes(_static(lw, axis, "axis"), len(x.shape))
        for ax in axes:
            if x.shape[ax] != 1:
                lw.error(f"cannot squeeze axis {ax} of size {x.shape[ax]}")
    return lw.reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


@register("np.ravel", "jnp.ravel", methods=("ravel", "flatten"))
def _ravel(lw, a):
    return lw.reshape(a, (-1,))


@register("np.broadcast_to", "jnp.broadcast_to")
def _broadcast_to(lw, a, shape):
    shape = _static(lw, shape, "shape")
    return lw.broadcast_to(lw.to_dyn(a), tuple(shape) if isinstance(shape, (tuple, list)) else (shape,))


@register("np.concatenate", "jnp.concatenate")
def _concatenate(lw, arrays, axis=0):
    if not isinstance(arrays, (tuple, list)):
        lw.error("concatenate needs a tuple or list of arrays")
    if axis is None:
        return lw.concatenate([lw.reshape(a, (-1,)) for a in arrays], 0)
    return lw.concatenate(list(arrays), _static(lw, axis, "axis"))


@register("np.stack", "jnp.stack")
def _stack(lw, arrays, axis=0):
    if not isinstance(arrays, (tuple, list)):
        lw.error("stack needs a tuple or list of arrays")
    return lw.stack(list(arrays), _static(lw, axis, "axis"))


@register("np.hstack", "jnp.hstack")
def _hstack(lw, arrays):
    ds = [lw.to_dyn(a) for a in arrays]
    ds = [lw.reshape(d, (1,)) if not d.shape else d for d in ds]
    return lw.concatenate(ds, 0 if len(ds[0].shape) == 1 else 1)


@register("np.vstack", "jnp.vstack")
def _vstack(lw, arrays):
    ds = [lw.to_dyn(a) for a in arrays]
    ds = [lw.reshape(d, (1, -1)) if len(d.shape) < 2 else d for d in ds]
    return lw.concatenate(ds, 0)


@register("np.flip", "jnp.flip")
def _flip(lw, a, axis=None):
    x = lw.to_dyn(a)
    axes = lw.norm_axes(_static(lw, axis, "axis"), len(x.shape))
    return Dyn(lw.emit("rev", [x.value], axes=axes), x.weak)


@register("np.take", "jnp.take")
def _take(lw, a, indices, axis=None):
    x = lw.to_dyn(a)
    if axis is None:
        x, axis = lw.reshape(x, (-1,)), 0
    axis = lw.norm_axis(_static(lw, axis, "axis"), len(x.shape))
    if isinstance(indices, (np.ndarray, list)) or (isinstance(indices, Dyn) and indices.shape):
        return lw.take(x, indices, axis)
    idx = (slice(None),) * axis + (indices,)
    return lw.index(x, idx)


# ------------------------------------------------------------------- creation

def _shape_arg(lw, shape):
    shape = _static(lw, shape, "shape")
    return tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)


def _fill(value):
    def handler(lw, shape, dtype=None):
        dt = _dtype_arg(lw, dtype) or DEFAULT["float"]
        return lw.const(value, dt, _shape_arg(lw, shape))
    return handler


register("np.zeros", "jnp.zeros", "np.empty", "jnp.empty")(_fill(0))
register("np.ones", "jnp.ones")(_fill(1))


@register("np.full", "jnp.full")
def _full(lw, shape, fill_value, dtype=None):
    shape = _shape_arg(lw, shape)
    if dtype is None and is_static_scalar(fill_value):
        dt, _ = lw.promote(fill_value)
        return lw.const(fill_value, dt, shape)
    v = lw.to_dyn(fill_value, _dtype_arg(lw, dtype))
    return lw.broadcast_to(v, shape)


def _like(value):
    def handler(lw, a, dtype=None, shape=None):
        _, dt, weak = lw.aval(a)
        shape = lw.aval(a)[0] if shape is None else _shape_arg(lw, shape)
        return lw.const(value, _dtype_arg(lw, dtype) or dt, shape, weak and dtype is None)
    return handler


register("np.zeros_like", "jnp.zeros_like", "np.empty_like", "jnp.empty_like")(_like(0))
register("np.ones_like", "jnp.ones_like")(_like(1))


@register("np.full_like", "jnp.full_like")
def _full_like(lw, a, fill_value, dtype=None):
    shape, dt, _ = lw.aval(a)
    dt = _dtype_arg(lw, dtype) or dt
    if is_static_scalar(fill_value):
        return lw.const(fill_value, dt, shape)
    return lw.broadcast_to(lw.to_dyn(fill_value, dt), shape)


@register("np.arange", "jnp.arange")
def _arange(lw, start, stop=None, step=1, dtype=None):
    for v in (start, stop, step):
        _static(lw, v, "arange bounds")
    if stop is None:
        start, stop = 0, start
    n = max(0, math.ceil((stop - start) / step))
    all_int = all(isinstance(v, int) for v in (start, stop, step))
    dt = _dtype_arg(lw, dtype) or (DEFAULT["int"] if all_int else DEFAULT["float"])
    if n == 0:
        return lw.const(0, dt, (0,))
    idx = Dyn(lw.emit("iota", [], shape=(n,), dimension=0, dtype=dt))
    if step != 1:
        idx = lw.elementwise("mul", idx, step)
    if start != 0:
        idx = lw.elementwise("add", idx, start)
    return lw.convert(idx, dt)


@register("np.linspace", "jnp.linspace")
def _linspace(lw, start, stop, num=50, endpoint=True, dtype=None):
    num = _static(lw, num, "num")
    dt = _dtype_arg(lw, dtype) or DEFAULT["float"]
    if num == 1:
        return lw.reshape(lw.to_dyn(start, dt), (1,))
    div = (num - 1) if endpoint else num
    i = Dyn(lw.emit("iota", [], shape=(num,), dimension=0, dtype=dt))
    delta = lw.elementwise("div", lw.elementwise("sub", stop, start, result_kind="float"), float(div))
    return lw.convert(lw.elementwise("add", lw.elementwise("mul", i, delta), start), dt)


@register("np.eye", "jnp.eye", "np.identity", "jnp.identity")
def _eye(lw, N, M=None, k=0, dtype=None):
    N, M, k = (_static(lw, v, "eye size") for v in (N, M if M is not None else N, k))
    return lw.const(np.eye(N, M, k), _dtype_arg(lw, dtype) or DEFAULT["float"], (N, M))


@register("np.copy", "jnp.copy", method="copy")
def _copy(lw, a, order="K", subok=False):
    """Arrays in compiled code are values that nothing can change, so a copy is the array
    itself (NumPy's copy exists to survive later writes, which compiled code refuses)."""
    return _np_array(lw, a)


@register("np.array", "np.asarray")
def _np_array(lw, obj, dtype=None, copy=None):
    # NumPy builds arrays from Python numbers at their full type (float64, int64)
    return _array(lw, _strong_leaves(obj), dtype, copy)


def _strong_leaves(obj):
    if isinstance(obj, (tuple, list)):
        return type(obj)(_strong_leaves(x) for x in obj)
    return _strong(obj)


@register("jnp.array", "jnp.asarray")
def _array(lw, obj, dtype=None, copy=None):
    dt = _dtype_arg(lw, dtype)
    if isinstance(obj, (tuple, list)) and not obj:
        return lw.const(0, dt or DEFAULT["float"], (0,))
    out = lw.to_dyn(obj, dt)
    return Dyn(out.value, out.weak and dt is None and not isinstance(obj, (tuple, list)))


def _astype(lw, a, dtype):
    return lw.convert(a, _dtype_arg(lw, dtype))


METHODS["astype"] = _astype


# ------------------------------------------------------------------- x.at[i].set(v)

def at_update(lw, at: AtIndexer, how, *args, **kwargs):
    if kwargs:
        lw.error("x.at[...] updates take one positional value")
    x = at.obj
    if how == "get":
        return lw.index(x, at.index)
    if len(args) != 1:
        lw.error(f"x.at[...].{how}(value) takes one value")
    from .masks import at_update as at_mask
    out = at_mask(lw, x, at.index, how, args[0])
    if out is not None:
        return out
    items = list(at.index) if isinstance(at.index, tuple) else [at.index]
    if any(is_index_array(i) for i in items):
        return _update_at_array(lw, x, items, args[0], how)
    old = lw.index(x, at.index)
    v = lw.broadcast_to(lw.to_dyn(args[0], x.dtype), old.shape)
    if how != "set":
        prim = {"add": "add", "mul": "mul", "multiply": "mul", "min": "min", "max": "max"}[how]
        v = lw.elementwise(prim, old, v)
    return _write(lw, x, at.index, v)


_AT_ARRAY = {"set": "set", "add": "add", "mul": "mul", "multiply": "mul", "min": "min", "max": "max"}


def _update_at_array(lw, x: Dyn, items: list, value, how: str) -> Dyn:
    """x.at[:, ..., idx].set/add/mul/min/max(v) with an integer array idx (after full
    slices only). Negatives count from the end once; out-of-range indices are dropped, as
    in JAX. .add is a scatter_add (repeated indices accumulate); .mul/.min/.max a scatter
    (they combine, as JAX's scatter_mul/min/max); .set writes the last of repeated indices
    (as NumPy's x[idx] = v), on every backend alike: a max-scatter of the updates'
    positions names each written element's winner, a take of v at the winners writes it."""
    combine = _AT_ARRAY.get(how)
    if combine is None:
        lw.error(f"x.at[...].{how} is not supported with an integer array index",
                 hint="use .set, .add, .mul, .min or .max")
    k = next(j for j, i in enumerate(items) if is_index_array(i))
    if any(j != k and not (isinstance(i, slice) and i == slice(None)) for j, i in enumerate(items)):
        lw.error(f"x.at[...].{how} with an integer array takes full slices (:) beside the array and nothing else",
                 hint="move the indexed axis with np.moveaxis, or index the other axes first")
    if combine in ("mul", "min", "max") and x.dtype == "bool":
        lw.error(f"x.at[idx].{how} with an integer array idx needs a numeric array, got bool",
                 hint="convert with x.astype(np.int32) first")
    n = x.shape[k]
    i = lw.convert(lw.checked_index(items[k], n, k), INDEX)
    v = lw.broadcast_to(lw.to_dyn(value, x.dtype), x.shape[:k] + i.shape + x.shape[k + 1:])
    if combine == "add":
        added = Dyn(lw.emit("scatter_add", [v.value, i.value], axis=k, size=n), x.weak)
        return lw.elementwise("add", x, added)
    if v.dtype != x.dtype:
        v = lw.convert(v, x.dtype)
    if combine != "set":
        return Dyn(lw.emit("scatter", [x.value, v.value, i.value], x.value.hint, axis=k, combine=combine), x.weak)
    m = int(np.prod(i.shape))
    if m == 0:
        return x
    position = lw.reshape(Dyn(lw.emit("iota", [], shape=(m,), dimension=0, dtype="i64"), False), i.shape)
    nobody = lw.const(-1, "i64", (n,))
    winner = Dyn(lw.emit("scatter", [nobody.value, position.value, i.value], axis=0, combine="max"), False)
    hit = lw.elementwise("ge", winner, 0, result_kind="bool")
    at = lw.select(hit, winner, m)  # (no winner: out of range, so the take fills and the select drops it)
    flat = lw.reshape(v, x.shape[:k] + (m,) + x.shape[k + 1:])
    written = Dyn(lw.emit("take", [flat.value, at.value], x.value.hint, axis=k, mode="fill"), x.weak)
    mask = Dyn(lw.emit("broadcast_in_dim", [hit.value], shape=x.shape, dims=(k,)), False)
    return Dyn(lw.emit("select", [mask.value, written.value, x.value], x.value.hint), x.weak)


def _write(lw, x: Dyn, idx, v: Dyn) -> Dyn:
    """x with the basic-indexed region `idx` replaced by v (dynamic_update_slice). A
    traced index out of range (after Python's wrap of negatives) drops the update, as
    JAX's does; a static one is an error."""
    items = list(idx) if isinstance(idx, tuple) else [idx]
    if any(i is None or i is Ellipsis for i in items):
        items = [i for i in items if i is not None]
        if Ellipsis in items:
            k = items.index(Ellipsis)
            items[k:k + 1] = [slice(None)] * (len(x.shape) - len(items) + 1)
    items += [slice(None)] * (len(x.shape) - len(items))
    starts, upd_shape, inside = [], [], True
    for item, n in zip(items, x.shape):
        if isinstance(item, slice):
            lo, hi, st = slice(*(lw.static_int(b, "a slice bound") if b is not None else None
                                 for b in (item.start, item.stop, item.step))).indices(n)
            if st != 1:
                lw.error("x.at[...] updates with strided slices are not supported")
            starts.append(lw.const(lo, INDEX).value)
            upd_shape.append(max(0, hi - lo))
        elif isinstance(item, Dyn):
            w = lw.wrap_index(item, n)
            ok = lw.elementwise("lt", w, n, result_kind="bool")
            if not w.nonneg:
                ok = lw.logical_and(ok, lw.elementwise("ge", w, 0, result_kind="bool"))
            inside = lw.logical_and(inside, ok)
            starts.append(w.value)
            upd_shape.append(1)
        elif isinstance(item, (int, np.integer)):
            if not -n <= item < n:
                lw.error(f"index {item} is out of bounds for size {n}")
            starts.append(lw.const(int(item) % n, INDEX).value)
            upd_shape.append(1)
        else:
            lw.error(f"cannot update an array at {describe(item)}")
    v = lw.reshape(v, tuple(upd_shape))
    if inside is not True:  # (the window keeps its old values: a write of the window only, as before)
        kept = Dyn(lw.emit("dynamic_slice", [x.value] + starts, x.value.hint, sizes=tuple(upd_shape)), x.weak)
        v = lw.select(inside, v, kept)
    return Dyn(lw.emit("dynamic_update_slice", [x.value, v.value] + starts, x.value.hint), x.weak)


# ------------------------------------------------------------------- builtins

@register("builtins.len")
def _len(lw, x):
    if isinstance(x, Dyn):
        if not x.shape:
            lw.error("len() of a 0-d array")
        return x.shape[0]
    return len(x)


def _minmax(py, later_wins, red):
    def handler(lw, *args, **kwargs):
        if kwargs:
            lw.error(f"{py.__name__}() with key= or default= is not supported")
        if len(args) == 1:
            (seq,) = args
            if isinstance(seq, Dyn):
                return lw.reduce(red, seq)
            args = tuple(seq)
        if all(is_static_scalar(a) for a in args):
            return py(args)
        out = args[0]
        for a in args[1:]:  # Python's: a later value replaces only a strictly smaller (larger) one
            out = lw.select(lw.elementwise(later_wins, a, out, result_kind="bool"), a, out)
        return out
    return handler


register("builtins.max")(_minmax(builtins.max, "gt", "reduce_max"))
register("builtins.min")(_minmax(builtins.min, "lt", "reduce_min"))


def _pyany(is_any: bool):
    """any()/all(): the truth of each item in turn (traced ones combine at run time), so
    the items of an array are its rows, as Python walks it."""
    def handler(lw, seq):
        if isinstance(seq, Dyn) and len(seq.shape) == 1:
            b = seq if seq.dtype == "bool" else lw.elementwise("ne", seq, 0, result_kind="bool")
            return lw.reduce("reduce_or" if is_any else "reduce_and", b)
        out = not is_any
        for x in items_at_compile_time(lw, seq, None, "any() or all()"):
            out = (lw.logical_or if is_any else lw.logical_and)(out, lw.truth(x))
        return out
    return handler


register("builtins.any")(_pyany(True))
register("builtins.all")(_pyany(False))


@register("builtins.sum")
def _pysum(lw, seq, start=0):
    if isinstance(seq, Dyn):
        total = lw.reduce("reduce_sum", seq, 0)
        return total if start == 0 else lw.elementwise("add", total, start)
    out = start
    for x in seq:
        out = lw.binop(_ADD, out, x)
    return out


def _py_number(py, keeps, kind):
    """float()/int(): Python's on static values; on a traced scalar, a conversion to the
    default dtype of that kind (weakly typed, like the Python number it stands for)."""
    def handler(lw, x=py()):
        if is_static_scalar(x) or isinstance(x, str):
            return py(x)
        d = _scalar_arg(lw, x, f"{py.__name__}()")
        return d if keeps(d.dtype) else lw.convert(d, DEFAULT[kind], weak=True)
    return handler


register("builtins.float")(_py_number(float, is_float, "float"))
register("builtins.int")(_py_number(int, is_int, "int"))


@register("builtins.bool")
def _bool(lw, x=False):
    if not isinstance(x, Dyn):
        return bool(x)
    return lw.truth(_scalar_arg(lw, x, "bool()"))


def _scalar_arg(lw, x, what):
    d = lw.to_dyn(x)
    if d.shape != ():
        lw.error(f"{what} needs a scalar, got an array of shape {d.shape}")
    return d


@register("builtins.range")
def _range(lw, *args):
    if not 1 <= len(args) <= 3:
        lw.error("range expected 1 to 3 arguments")
    for a in args:
        if isinstance(a, Dyn) and (a.shape != () or not is_int(a.dtype)):
            lw.error(f"range() bounds must be integer scalars, got {a.type}")
        if not isinstance(a, Dyn) and not isinstance(a, (int, np.integer)):
            lw.error(f"range() bounds must be integers, got {describe(a)}")
    start, stop, step = (0, args[0], 1) if len(args) == 1 else (args[0], args[1], args[2] if len(args) == 3 else 1)
    if any(isinstance(v, Dyn) for v in (start, stop, step)):
        return DynRange(start, stop, step)
    return range(int(start), int(stop), int(step))


@register("builtins.enumerate")
def _enumerate(lw, seq, start=0):
    return Enumerate(seq, start)


@register("builtins.zip")
def _zip(lw, *seqs):
    if all(isinstance(s, (tuple, list, range)) for s in seqs):
        return tuple(zip(*seqs))
    return Zip(list(seqs))


@register("builtins.reversed")
def _reversed(lw, seq):
    if isinstance(seq, (tuple, list, range)):
        return seq[::-1]
    lw.error("reversed() needs a sequence known at compile time", "use x[::-1] for arrays")


@register("builtins.tuple", "builtins.list")
def _tuple(lw, seq=()):
    if isinstance(seq, Dyn):
        return tuple(lw.index(seq, i) for i in range(seq.shape[0] if seq.shape else 0))
    return tuple(items_at_compile_time(lw, seq, None, "tuple() or list()"))


@register("builtins.isinstance")
def _isinstance(lw, obj, cls):
    if isinstance(obj, Dyn):
        import jax
        return cls in (np.ndarray, jax.Array) or (isinstance(cls, tuple) and any(c in (np.ndarray, jax.Array) for c in cls))
    return isinstance(obj, cls)


@register("builtins.print")
def _print(lw, *args, **kwargs):
    lw.error("print() is not supported in compiled code",
             "return the values you want to see, or call the function uncompiled")


for _name in ("builtins.input", "builtins.open", "builtins.eval", "builtins.exec", "builtins.setattr",
              "builtins.getattr", "builtins.iter", "builtins.next", "builtins.dict", "builtins.set",
              "builtins.map", "builtins.filter", "builtins.sorted", "builtins.id", "builtins.hash"):
    def _refused(lw, *args, _n=_name.split(".")[1], **kwargs):
        lw.error(f"{_n}() is not supported in compiled code")
    register(_name)(_refused)


import gast as _gast  # noqa: E402

_ADD = _gast.Add()


# ------------------------------------------------------------------- jax.random (explicit keys)

def _key_arg(lw, key):
    """A typed key; legacy key data (uint32 (..., 2), from jax.random.PRNGKey) is wrapped
    as jax.random.wrap_key_data wraps it."""
    k = lw.to_dyn(key)
    if k.dtype == "u32" and k.shape[-1:] == (2,):
        return Dyn(lw.emit("random_wrap", [k.value]))
    if k.dtype != "key":
        lw.error(f"expected a PRNG key (from jax.random.key, or jax.random.PRNGKey's uint32 pair), got {k.type}",
                 "make keys with jax.random.key(seed)")
    return k


def _float_dtype(lw, dtype):
    return _dtype_arg(lw, dtype) or DEFAULT["float"]


@register("jax.random.key")
def _rkey(lw, seed):
    return Dyn(lw.emit("random_seed", [lw.to_dyn(seed, DEFAULT["int"]).value]))


@register("jax.random.split")
def _rsplit(lw, key, num=2):
    return Dyn(lw.emit("random_split", [_key_arg(lw, key).value], num=_static(lw, num, "num")))


@register("jax.random.PRNGKey")
def _rprngkey(lw, seed, impl=None):
    """A typed key (JAX's legacy uint32 pair holds the same words: draws agree)."""
    if impl is not None:
        lw.error("jax.random.PRNGKey with impl= is not supported in compiled code")
    return _rkey(lw, seed)


@register("jax.random.fold_in")
def _rfold_in(lw, key, data):
    d = lw.to_dyn(data)
    if not d.dtype.startswith(("i", "u")) or d.shape != ():
        lw.error(f"jax.random.fold_in folds in one integer, got {describe(data)}")
    return Dyn(lw.emit("random_fold_in", [_key_arg(lw, key).value, d.value]))


@register("jax.random.normal")
def _rnormal(lw, key, shape=(), dtype=None):
    return Dyn(lw.emit("random_normal", [_key_arg(lw, key).value], shape=_shape_arg(lw, shape),
                       dtype=_float_dtype(lw, dtype)))


@register("jax.random.uniform")
def _runiform(lw, key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    u = Dyn(lw.emit("random_uniform", [_key_arg(lw, key).value], shape=_shape_arg(lw, shape),
                    dtype=_float_dtype(lw, dtype)))
    if minval == 0.0 and maxval == 1.0:
        return u
    return lw.elementwise("add", lw.elementwise("mul", u, lw.elementwise("sub", maxval, minval)), minval)


@register("jax.random.gamma")
def _rgamma(lw, key, a, shape=None, dtype=None):
    a = lw.to_dyn(a, _dtype_arg(lw, dtype))
    if shape is not None:
        a = lw.broadcast_to(a, _shape_arg(lw, shape))
    return Dyn(lw.emit("random_gamma", [_key_arg(lw, key).value, a.value]))


@register("jax.random.poisson")
def _rpoisson(lw, key, lam, shape=None, dtype=None):
    lam = lw.to_dyn(lam)
    if shape is not None:
        lam = lw.broadcast_to(lam, _shape_arg(lw, shape))
    return Dyn(lw.emit("random_poisson", [_key_arg(lw, key).value, lam.value]))


@register("jax.random.categorical")
def _rcategorical(lw, key, logits, axis=-1, shape=None):
    x = lw.to_dyn(logits)
    if lw.norm_axis(axis, len(x.shape)) != len(x.shape) - 1:
        lw.error("jax.random.categorical here draws along the last axis only")
    if shape is not None:  # (as JAX draws them: from the logits broadcast to shape + (k,))
        shape = _shape_arg(lw, shape)
        if len(shape) < len(x.shape) - 1 or lw.broadcast_shapes(shape, x.shape[:-1]) != shape:
            lw.error(f"jax.random.categorical: shape {shape} does not take the logits' batch shape {x.shape[:-1]}")
        x = lw.broadcast_to(x, shape + x.shape[-1:])
    return Dyn(lw.emit("random_categorical", [_key_arg(lw, key).value, x.value]))


@register("jax.random.binomial")
def _rbinomial(lw, key, n, p, shape=None, dtype=None):
    (n, p), _ = lw.coerce([n, p])
    if shape is not None:
        n, p = lw.broadcast_to(n, _shape_arg(lw, shape)), lw.broadcast_to(p, _shape_arg(lw, shape))
    return Dyn(lw.emit("random_binomial", [_key_arg(lw, key).value, n.value, p.value]))


@register("jsl.solve_triangular", "sl.solve_triangular")
def _solve_triangular(lw, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True):
    if unit_diagonal:
        lw.error("solve_triangular with unit_diagonal=True is not supported")
    (a2, b2), weak = lw.coerce_dtypes([a, b])
    # leading axes are batches of systems, broadcast; b is a vector only when it is 1-d (JAX
    # deprecates reading a batch of vectors from rank alone, as NumPy 2's linalg.solve did)
    vector = len(b2.shape) == 1
    rows = len(b2.shape) - (1 if vector else 2)
    if len(a2.shape) < 2 or a2.shape[-1] != a2.shape[-2] or rows < 0 or b2.shape[rows] != a2.shape[-1]:
        lw.error(f"solve_triangular needs square matrices and right-hand sides of matching rows, got "
                 f"{a2.shape} and {b2.shape}", "a batch of vectors b is a batch of columns: b[..., None]"
                 if len(b2.shape) == len(a2.shape) - 1 else None)
    batch = lw.broadcast_shapes(a2.shape[:-2], b2.shape[:rows])
    a2, b2 = lw.broadcast_to(a2, batch + a2.shape[-2:]), lw.broadcast_to(b2, batch + b2.shape[rows:])
    columns = vector and bool(batch)  # (the primitive takes a batch of vectors as columns)
    if columns:
        b2 = Dyn(lw.emit("reshape", [b2.value], shape=b2.shape + (1,)))
    transpose = {0: False, 1: True, "N": False, "T": True}.get(trans)
    if transpose is None:
        lw.error(f"unsupported trans={trans!r}")
    x = lw.emit("triangular_solve", [a2.value, b2.value], lower=bool(lower), transpose_a=transpose)
    return Dyn(lw.emit("reshape", [x], shape=b2.shape[:-1]) if columns else x)


# more of NumPy, by family; each registers its functions on import
from . import lax_control, linalg, nn, numpy_extra, numpy_more, random_more, sorting, stats  # noqa: E402, F401
