"""Boolean-mask indexing without data-dependent shapes.

XLA needs every shape at compile time, and `x[mask]` has as many elements as the mask
has true entries. Two cases still give users the NumPy idioms they write:

- A mask known at compile time (a NumPy array captured from globals or a closure, one
  made from a static argument, or anything folded from constants, `~MASK` or
  `np.arange(n) % 2 == 0`) is a static gather at its `np.nonzero` indices, so `x[mask]`
  has NumPy's static shape. (Known where it indexes: a mask passed as an argument to a
  module-level function is a traced parameter there.)
- A mask computed at run time gives a `Selection`: the array and the mask, deferred.
  What needs no length still works: elementwise operations map through it (the mask
  stays), and reductions consume it as masked reductions of the whole array
  (`np.sum(x[m])` is `np.sum(x, where=m)`), which differentiate, batch and run on every
  backend like any other array code. Everything else (returning it, indexing it, sorting
  it, arithmetic with an array that spans the selected axis) is refused where it happens.

Empty selections: sum 0, prod 1, any False, all True, mean/var/std NaN (as NumPy gives,
with its warning), and max/min the reduction's identity (-inf/+inf, an integer type's
min/max, False/True for bools), which is `np.max(x, where=mask, initial=-np.inf)`:
NumPy raises there, and no traced value can raise.
"""
from __future__ import annotations

import functools

import gast
import numpy as np

from ..ir import lookup
from ..ir.types import is_float, numpy_dtype
from .arrays import DEFAULT, describe
from .values import BoundMethod, Dyn, Selection, is_static_scalar, leaves

HINT = ("keep the shape with np.where(mask, x, 0) (then sum, or mask the log density), or reduce the "
        "selection directly: np.sum(x[mask]); a mask known at compile time (a NumPy constant) selects "
        "with a static shape")
REDUCTIONS = "sum, mean, max, min, prod, any, all, var, std, count_nonzero, len"
FOLD_LIMIT = 1 << 22  # elements: larger masks are left to run time


def refuse(lw, what: str | None = None):
    lw.error("boolean-mask indexing is not supported here" + (f" ({what})" if what else "") +
             ": x[mask] with a mask computed at run time has a shape that depends on the data, so only "
             f"reductions of it ({REDUCTIONS}), after elementwise operations, are supported", HINT)


# ------------------------------------------------------------------ masks known at compile time

class _Unknown(Exception):
    pass


# folds the registry leaves to the backends (the canonicalizer need not fold them) that
# masks built from np.arange use (`np.arange(n) % 2 == 0`); NumPy's are the backends'
# floored modulo and division, and exact on the integers such masks are made of
_FOLDS = {"mod": np.mod, "floordiv": np.floor_divide, "shift_left": np.left_shift,
          "shift_right": np.right_shift}


def static_value(lw, v) -> np.ndarray | None:
    """The value of IR value `v` where it folds from constants at compile time, else None."""
    defining = lw.ctx.defining
    memo: dict = {}

    def ev(v, depth):
        if v in memo:
            return memo[v]
        op = defining.get(v)
        if op is None or op.regions or len(op.results) != 1 or depth > 200:
            raise _Unknown
        t = v.type
        if int(np.prod(t.shape)) > FOLD_LIMIT:
            raise _Unknown
        if op.prim == "constant":
            val = op.attrs["value"]
            out = val if isinstance(val, np.ndarray) else np.full(t.shape, val, dtype=numpy_dtype(t.dtype))
        else:
            prim = lookup(op.prim)
            fold = prim.fold or _FOLDS.get(op.prim)
            if fold is None or prim.effect:
                raise _Unknown
            args = [ev(o, depth + 1) for o in op.operands]
            try:
                with np.errstate(all="ignore"):
                    out = np.asarray(fold(*args, **op.attrs)).astype(numpy_dtype(t.dtype))
            except Exception:
                raise _Unknown
            if out.shape != t.shape:
                raise _Unknown
        memo[v] = out
        return out
    try:
        return ev(v, 0)
    except _Unknown:
        return None


def same_value(lw, a, b, depth=0) -> bool:
    """Whether IR values a and b surely hold the same array: one value, or the same
    pure computation of the same inputs (`x[x > 0] * y[x > 0]` writes the mask twice)."""
    if a is b:
        return True
    oa, ob = lw.ctx.defining.get(a), lw.ctx.defining.get(b)
    if oa is None or ob is None or depth > 50 or oa.prim != ob.prim or a.type != b.type:
        return False
    if oa.regions or ob.regions or lookup(oa.prim).effect or len(oa.operands) != len(ob.operands):
        return False
    if oa.prim == "constant":
        va, vb = oa.attrs["value"], ob.attrs["value"]
        return type(va) is type(vb) and bool(np.array_equal(va, vb))
    if oa.results.index(a) != ob.results.index(b) or set(oa.attrs) != set(ob.attrs):
        return False
    if any(not _attr_equal(oa.attrs[k], ob.attrs[k]) for k in oa.attrs):
        return False
    return all(same_value(lw, x, y, depth + 1) for x, y in zip(oa.operands, ob.operands))


def _attr_equal(a, b) -> bool:
    try:
        return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else a == b
    except Exception:
        return False


# ------------------------------------------------------------------ indexing

def is_mask(item) -> bool:
    """An index item that is a boolean array (not a scalar bool)."""
    if isinstance(item, Dyn):
        return item.dtype == "bool" and item.shape != ()
    if isinstance(item, np.ndarray):
        return item.dtype == bool and item.ndim > 0
    if isinstance(item, list) and item:
        return all(isinstance(v, (bool, np.bool_)) or (isinstance(v, Dyn) and v.dtype == "bool")
                   for v in leaves(item))
    return False


def _known(lw, item):
    """(numpy mask, None) where the mask is known at compile time, else (None, traced mask)."""
    if isinstance(item, np.ndarray):
        return item, None
    if isinstance(item, list) and not any(isinstance(v, Dyn) for v in leaves(item)):
        return np.asarray(item, dtype=bool), None
    d = lw.to_dyn(item)
    val = static_value(lw, d.value)
    return (val.astype(bool), None) if val is not None else (None, d)


def _expand(lw, x: Dyn, items: list) -> list:
    """The index with `...` replaced and full slices appended, a k-dimensional mask
    standing for k axes."""
    def width(i):
        if i is None or i is Ellipsis:
            return 0
        if is_mask(i):
            return len(i.shape) if isinstance(i, Dyn) else int(np.ndim(i))
        return 1
    if sum(i is Ellipsis for i in items) > 1:
        lw.error("an index can only have a single ellipsis ('...')")
    n_real = sum(width(i) for i in items)
    if n_real > len(x.shape):
        lw.error(f"too many indices for an array of rank {len(x.shape)}")
    items = list(items)
    k = next((j for j, i in enumerate(items) if i is Ellipsis), None)
    if k is not None:
        items[k:k + 1] = [slice(None)] * (len(x.shape) - n_real)
    else:
        items += [slice(None)] * (len(x.shape) - n_real)
    return items, width


def index_by_mask(lw, x: Dyn, items: list):
    """x[items] where some items are boolean arrays: a gather where every mask is known
    at compile time, else a deferred Selection (one mask, beside slices and None only)."""
    items, width = _expand(lw, x, items)
    out, traced, axis = [], [], 0
    for item in items:
        if not is_mask(item):
            out.append(item)
            axis += width(item)
            continue
        known, dyn = _known(lw, item)
        shape = known.shape if known is not None else dyn.shape
        for d, n in enumerate(shape):
            if x.shape[axis + d] != n:
                lw.error(f"boolean index did not match indexed array along axis {axis + d}; size of axis is "
                         f"{x.shape[axis + d]} but size of corresponding boolean axis is {n}")
        if known is not None:
            out.extend(np.nonzero(known))
        else:
            traced.append(len(out))
            out.append(dyn)
        axis += len(shape)
    if not traced:
        return lw.index(x, tuple(out))
    if len(traced) > 1:
        refuse(lw, "two masks computed at run time in one index")
    j = traced[0]
    if any(not (i is None or isinstance(i, slice)) for n, i in enumerate(out) if n != j):
        refuse(lw, "a mask computed at run time beside integer indices or other masks; "
                   "index the other axes first")
    mask = out[j]
    rest = lw.index(x, tuple(out[:j] + [slice(None)] * len(mask.shape) + out[j + 1:]))
    return Selection(rest, mask, j)


# ------------------------------------------------------------------ elementwise operations

def _trail(s: Selection) -> int:
    return len(s.x.shape) - s.pos - len(s.mask.shape)


def lift(lw, fn, args, what: str = "this operation"):
    """fn (elementwise, over arrays) applied to args, some of them Selections of one mask:
    applied to the arrays they select from, the other arguments broadcast so that they do
    not span the selected axis (which has no length yet)."""
    sels = [a for a in args if isinstance(a, Selection)]
    s0 = sels[0]
    k, t = len(s0.mask.shape), _trail(s0)
    for s in sels[1:]:
        if _trail(s) != t or not same_value(lw, s.mask.value, s0.mask.value):
            refuse(lw, f"{what} of selections by different masks, which may differ in length")
    xs = []
    for a in args:
        if isinstance(a, Selection):
            xs.append(a.x)
        elif not isinstance(a, (Dyn, np.ndarray, tuple, list)):  # (numbers, dtypes: as they are)
            xs.append(a)
        else:
            if isinstance(a, (tuple, list)) and any(isinstance(v, Selection) for v in leaves(a)):
                refuse(lw, f"{what} of a sequence holding a selection")
            d = lw.to_dyn(a)
            if len(d.shape) > t:
                j = len(d.shape) - t - 1  # its axis that meets the selected one
                if d.shape[j] != 1:
                    refuse(lw, f"{what} of x[mask] with an array of shape {d.shape}, which spans the "
                               "selected axis")
                d = lw.reshape(d, d.shape[:j] + (1,) * k + d.shape[j + 1:])
            xs.append(d)
    out = fn(*xs)
    if not isinstance(out, Dyn):
        refuse(lw, what)
    pos = len(out.shape) - k - t
    if pos < 0 or out.shape[pos:pos + k] != s0.mask.shape:  # (an elementwise fn keeps the mask's axes)
        refuse(lw, what)
    return Selection(out, s0.mask, pos)


def unary(lw, op, s: Selection):
    """-s, +s, ~s."""
    if isinstance(op, gast.UAdd):
        return s
    if isinstance(op, gast.USub):
        if s.x.dtype == "bool":
            lw.error("cannot negate a bool array", "use ~x or jnp.logical_not(x)")
        return lift(lw, lambda d: Dyn(lw.emit("neg", [d.value]), d.weak), [s], "-")
    if s.x.dtype != "bool" and s.x.dtype[0] not in "iu":
        lw.error(f"~ needs an integer or bool array, got {s.x.dtype}")
    return lift(lw, lambda d: Dyn(lw.emit("not", [d.value]), d.weak), [s], "~")


# ------------------------------------------------------------------ attributes and reductions

def count(lw, s: Selection) -> Dyn:
    """How many elements the mask selects (traced, int64)."""
    n = lw.reduce("reduce_sum", s.mask, None, dtype=DEFAULT["int"])
    return Dyn(n.value, False, True)


def shape(lw, s: Selection) -> tuple:
    k = len(s.mask.shape)
    return s.x.shape[:s.pos] + (count(lw, s),) + s.x.shape[s.pos + k:]


def attribute(lw, s: Selection, attr: str, node):
    k = len(s.mask.shape)
    if attr == "shape":
        return shape(lw, s)
    if attr == "ndim":
        return len(s.x.shape) - k + 1
    if attr == "size":
        rest = int(np.prod(s.x.shape)) // max(int(np.prod(s.mask.shape)), 1)
        return lw.elementwise("mul", count(lw, s), rest)
    if attr == "dtype":
        return np.dtype(numpy_dtype(s.x.dtype))
    from .numpy_api import METHODS
    if attr in _METHODS or (attr in _ELEMENTWISE_METHODS and attr in METHODS):
        return BoundMethod(s, attr)
    refuse(lw, f"'.{attr}'")


def _mask_full(lw, s: Selection) -> Dyn:
    """The mask broadcast to the shape of the array it selects from."""
    k = len(s.mask.shape)
    if s.mask.shape == s.x.shape:
        return s.mask
    return Dyn(lw.emit("broadcast_in_dim", [s.mask.value], shape=s.x.shape, dims=tuple(range(s.pos, s.pos + k))))


def _axes(lw, s: Selection, axis, keepdims: bool, name: str):
    """(axes of s.x to reduce, the result's shape with keepdims): the reduction must take
    in the selected axis, else its result would keep a length that depends on the data."""
    from .numpy_api import _static
    axis = _static(lw, axis, "axis")
    k, p = len(s.mask.shape), s.pos
    r = len(s.x.shape) - k + 1
    axes = lw.norm_axes(axis, r)
    if p not in axes:
        refuse(lw, f"{name} along axis {axis}, which keeps the selected axis {p}")
    x_axes = tuple(a for a in axes if a < p) + tuple(range(p, p + k)) + tuple(a + k - 1 for a in axes if a > p)
    sel = s.x.shape[:p] + (1,) + s.x.shape[p + k:]
    kept = tuple(1 if i in axes else n for i, n in enumerate(sel))
    return x_axes, kept


def _finish(lw, out, kept, keepdims):
    return lw.reshape(out, kept) if keepdims else out


def _no_where(lw, where, name):
    if where is not None:
        refuse(lw, f"{name} with where=")


def _identity(dtype: str, is_max: bool):
    if is_float(dtype):
        return -np.inf if is_max else np.inf
    info = np.iinfo(numpy_dtype(dtype))
    return int(info.min if is_max else info.max)


def _red(np_name: str):
    def red(lw, s, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        from .numpy_api import _table
        _no_where(lw, where, f"np.{np_name}")
        axes, kept = _axes(lw, s, axis, keepdims, f"np.{np_name}")
        name = np_name
        if s.x.dtype == "bool" and name in ("max", "min") and initial is None and dtype is None:
            name = "any" if name == "max" else "all"  # (as NumPy: max of bools is any)
        elif name in ("max", "min") and initial is None:
            initial = _identity(s.x.dtype if dtype is None else _dt(lw, dtype), name == "max")
        handler = _table()[getattr(np, name)]
        kw = {} if initial is None else {"initial": initial}
        res = handler(lw, s.x, axes, dtype, out, False, where=_mask_full(lw, s), **kw)
        return _finish(lw, res, kept, keepdims)
    return red


def _dt(lw, dtype):
    from .numpy_api import _dtype_arg
    return _dtype_arg(lw, dtype)


def _mean(lw, s, axis=None, dtype=None, out=None, keepdims=False, *, where=None, jax=False):
    from .numpy_api import mean_of
    if out is not None:
        lw.error("out= is not supported in reductions", "use the result")
    name = "jnp.mean" if jax else "np.mean"
    _no_where(lw, where, name)
    axes, kept = _axes(lw, s, axis, keepdims, name)
    return _finish(lw, mean_of(lw, s.x, axes, dtype, False, where=_mask_full(lw, s), jax=jax), kept, keepdims)


def _var(lw, s, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None,
         jax=False, std=False):
    """Two passes, as NumPy: the mean, then the mean squared deviation from it (numpy_api.var_of
    over the mask); the result types of np.var/np.std or of jnp.var/jnp.std."""
    from .numpy_api import _ddof, var_of
    if out is not None:
        lw.error("out= is not supported in reductions", "use the result")
    name = ("jnp." if jax else "np.") + ("std" if std else "var")
    _no_where(lw, where, name)
    axes, kept = _axes(lw, s, axis, keepdims, name)
    res = var_of(lw, s.x, axes, dtype, False, _ddof(lw, ddof, correction), _mask_full(lw, s), jax=jax, std=std)
    return _finish(lw, res, kept, keepdims)


def _std(lw, s, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, correction=None,
         jax=False):
    return _var(lw, s, axis, dtype, out, ddof, keepdims, where=where, correction=correction, jax=jax, std=True)


def _count_nonzero(lw, s, axis=None, *, keepdims=False):
    axes, kept = _axes(lw, s, axis, keepdims, "np.count_nonzero")
    hit = lw.elementwise("and", _mask_full(lw, s), lw.elementwise("ne", s.x, 0, result_kind="bool"))
    return _finish(lw, lw.reduce("reduce_sum", hit, axes, dtype=DEFAULT["int"]), kept, keepdims)


def _len(lw, s):
    return count(lw, s) if s.pos == 0 else s.x.shape[0]


def _first_axis(lw, s, name):
    if s.pos != 0:  # (Python walks the static first axis: its items are selections themselves)
        refuse(lw, f"{name}() of a selection along a later axis")


def _pysum(lw, s, start=0):
    _first_axis(lw, s, "sum")
    m = _mask_full(lw, s)
    total = lw.reduce("reduce_sum", lw.select(m, s.x, lw.convert(lw.to_dyn(0), s.x.dtype)),
                      tuple(range(len(s.mask.shape))))
    return total if is_static_scalar(start) and start == 0 else lw.elementwise("add", total, start)


def _pyextremum(name):
    def red(lw, s, *more, **kwargs):
        if more or kwargs or len(s.x.shape) != len(s.mask.shape):
            refuse(lw, f"{name}() of a selection beside other arguments, or of rows")
        return _red(name)(lw, s)
    return red


def _pylogic(name):
    def red(lw, s):
        if len(s.x.shape) != len(s.mask.shape):
            refuse(lw, f"{name}() of a selection of rows")
        return _red(name)(lw, s)
    return red


_METHODS = {"sum": _red("sum"), "prod": _red("prod"), "max": _red("max"), "min": _red("min"),
            "any": _red("any"), "all": _red("all"), "mean": _mean, "var": _var, "std": _std}
_ELEMENTWISE_METHODS = ("astype", "round", "clip", "copy")
# NumPy functions that work elementwise (their handlers map through a selection)
_ELEMENTWISE = (
    "exp log log1p expm1 sqrt sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh "
    "log2 log10 exp2 abs absolute fabs sign floor ceil rint negative round around trunc square reciprocal "
    "isfinite isnan isinf logical_not invert bitwise_not add subtract multiply divide true_divide "
    "floor_divide mod remainder maximum minimum fmax fmin arctan2 logaddexp equal not_equal less "
    "less_equal greater greater_equal bitwise_and bitwise_or bitwise_xor left_shift right_shift power "
    "hypot logical_and logical_or logical_xor where clip nan_to_num deg2rad rad2deg radians degrees cbrt "
    "float_power copysign heaviside").split()
_OTHER_ELEMENTWISE = ("sps.expit", "jss.expit", "jax.nn.sigmoid", "sps.gammaln", "jss.gammaln", "sps.digamma",
                      "jss.digamma", "sps.erf", "jss.erf", "sps.erfinv", "jss.erfinv", "jax.nn.relu",
                      "jax.nn.softplus", "sps.xlogy", "jss.xlogy", "builtins.abs", "builtins.pow",
                      "builtins.round")  # (not math.*: Python's take scalars only)
_KINDS: dict = {}


def _kinds() -> dict:
    """handler -> what it does with a selection: an elementwise marker, or its reduction."""
    if not _KINDS:
        from . import numpy_more
        from .numpy_api import _table, _targets
        table = _table()

        def put(names, kind):
            for obj in _targets(names):
                h = table.get(obj)
                if h is not None:
                    _KINDS.setdefault(h, kind)
        for name, red in _METHODS.items():
            put([f"np.{name}", f"jnp.{name}"] + ([f"np.a{name}", f"jnp.a{name}"] if name in ("max", "min") else []),
                red)
        _KINDS[numpy_more._count_nonzero] = _count_nonzero
        for name in ("mean", "var", "std"):  # (jnp's result types: float32 for int32, ...)
            for obj in _targets([f"jnp.{name}"]):
                if table.get(obj) is not None:
                    _KINDS[table[obj]] = functools.partial(_METHODS[name], jax=True)
        put(["builtins.len"], _len)
        put(["builtins.sum"], _pysum)
        put(["builtins.max"], _pyextremum("max"))
        put(["builtins.min"], _pyextremum("min"))
        put(["builtins.any"], _pylogic("any"))
        put(["builtins.all"], _pylogic("all"))
        put([p + n for n in _ELEMENTWISE for p in ("np.", "jnp.")] + list(_OTHER_ELEMENTWISE), "elementwise")
        from .numpy_api import METHODS
        for m in _ELEMENTWISE_METHODS:
            if m in METHODS:
                _KINDS.setdefault(METHODS[m], "elementwise")
    return _KINDS


def has_selection(args, kwargs) -> bool:
    return any(isinstance(v, Selection) for v in leaves(tuple(args) + tuple(kwargs.values())))


def call(lw, handler, name: str, args, kwargs):
    """A NumPy (or builtin) function called with a selection among its arguments."""
    kind = _kinds().get(handler)
    if kind == "elementwise":
        if any(isinstance(v, Selection) for v in leaves(tuple(kwargs.values()))):
            refuse(lw, f"{name}() with a selection as a keyword argument")
        return lift(lw, lambda *xs: handler(lw, *xs, **kwargs), list(args), f"{name}()")
    if kind is None or not args or not isinstance(args[0], Selection) or has_selection(args[1:], kwargs):
        refuse(lw, f"{name}() of it")
    try:
        return kind(lw, *args, **kwargs)
    except TypeError as e:
        if "argument" in str(e):
            lw.error(f"bad call to {name}: {e}")
        raise


def call_method(lw, bm: BoundMethod, args, kwargs):
    """x[m].sum(), x[m].astype(float), ..."""
    from .numpy_api import METHODS
    if bm.name in _METHODS:
        return call(lw, _kind_handler(bm.name), "." + bm.name, [bm.obj] + list(args), kwargs)
    return call(lw, METHODS[bm.name], "." + bm.name, [bm.obj] + list(args), kwargs)


def _kind_handler(name):
    """The handler whose kind is reduction `name` (so that methods and functions agree)."""
    for h, k in _kinds().items():
        if k is _METHODS[name]:
            return h
    raise KeyError(name)


# ------------------------------------------------------------------ x.at[mask]

def at_update(lw, x: Dyn, index, how: str, value):
    """x.at[mask].set/add/mul/min/max(v): NumPy's `x[mask] = v` (and `x[mask] += v`) as
    np.where(mask, v, x), for one mask beside full slices; None where the index holds no
    mask. A mask known at compile time with v along the selection takes the integer-index
    path instead (v's items go to the selected places in order)."""
    items = list(index) if isinstance(index, tuple) else [index]
    if not any(is_mask(i) for i in items):
        return None
    items, _ = _expand(lw, x, items)
    where = [j for j, i in enumerate(items) if is_mask(i)]
    if len(where) > 1 or any(not (isinstance(i, slice) and i == slice(None)) for j, i in enumerate(items)
                             if j != where[0]):
        lw.error(f"x.at[...].{how} with a boolean mask takes full slices (:) beside the mask and nothing else",
                 hint="use np.where(mask, v, x)")
    j = where[0]
    known, dyn = _known(lw, items[j])
    m = dyn if known is None else lw.to_dyn(known)
    k = len(m.shape)
    if x.shape[j:j + k] != m.shape:
        lw.error(f"boolean index of shape {m.shape} does not match the array's axes {x.shape[j:j + k]}")
    s = Selection(x, m, j)
    v = value if isinstance(value, Selection) else lw.to_dyn(value, x.dtype)  # (x.at[m].add(y[m]))
    t = _trail(s)
    if known is not None and k == 1 and isinstance(v, Dyn) and len(v.shape) > t \
            and v.shape[len(v.shape) - t - 1] != 1:
        from .numpy_api import _update_at_array
        return _update_at_array(lw, x, items[:j] + [np.nonzero(known)[0]] + items[j + 1:], value, how)
    ops = {"set": None, "add": "add", "mul": "mul", "multiply": "mul", "min": "min", "max": "max"}
    if how not in ops:
        lw.error(f"x.at[mask].{how} is not supported", hint="use .set, .add, .mul, .min or .max")
    new = lift(lw, lambda xx, vv: lw.broadcast_to(vv, xx.shape) if ops[how] is None
               else lw.elementwise(ops[how], xx, vv), [s, v], f"x.at[mask].{how}")
    return lw.select(_mask_full(lw, s), lw.convert(new.x, x.dtype), x)


def describe_selection(s: Selection) -> str:
    return f"a boolean-mask selection of {describe(s.x)} (its length depends on the data)"
