"""NumPy semantics on IR values: dtype promotion, broadcasting, coercion, reductions and
indexing. Mixed into the lowering class, which supplies `emit` and `error`.

Promotion follows NumPy between arrays; Python scalars are weakly typed as in JAX (with
64-bit types enabled), so `x_f32 * 2.0` stays f32 while a lone Python float is f64 and a
lone int i64, as in NumPy.
"""
from __future__ import annotations

import types

import numpy as np

from ..ir import TensorType, dtype_of_numpy
from ..ir.types import is_float, is_int
from .values import Dyn, DynRange, Enumerate, Selection, Zip, is_static_scalar, leaves

DEFAULT = {"bool": "bool", "int": "i64", "float": "f64"}
# the NumPy scalar a Python number becomes (its strong counterpart)
NUMPY_SCALAR = {bool: np.bool_, int: np.int64, float: np.float64}


def kind(dtype: str) -> str:
    return "bool" if dtype == "bool" else "float" if is_float(dtype) else "int"


INDEX = DEFAULT["int"]  # dtype of dynamic start indices
_KIND_ORDER = {"bool": 0, "int": 1, "float": 2}
_SLICE_HINT = ("a window at a traced offset is jax.lax.dynamic_slice(x, (i,), (size,)) "
               "(written back with jax.lax.dynamic_update_slice)")


def accumulator(dtype: str) -> str:
    """The dtype NumPy sums and multiplies `dtype` in: bools and integers narrower than
    64 bits widen (np.sum of an int32 array is int64, of a uint8 array uint64)."""
    if dtype == "bool" or (is_int(dtype) and dtype not in ("i64", "u64")):
        return "u64" if dtype.startswith("u") else DEFAULT["int"]
    return dtype


def scalar_aval(v) -> tuple[str, bool]:
    """(dtype, weak) of a static scalar."""
    if isinstance(v, (bool, np.bool_)):
        return "bool", False
    if isinstance(v, np.generic):
        return dtype_of_numpy(v.dtype), False
    if isinstance(v, int):
        return DEFAULT["int"], True
    if isinstance(v, float):
        return DEFAULT["float"], True
    raise TypeError(v)


def promote_pair(a: tuple[str, bool], b: tuple[str, bool]) -> tuple[str, bool]:
    (da, wa), (db, wb) = a, b
    if da == db:  # (also PRNG keys, which have no numeric promotion)
        return da, wa and wb
    if wa and wb:
        return (da, True) if _KIND_ORDER[kind(da)] >= _KIND_ORDER[kind(db)] else (db, True)
    if not wa and not wb:
        return dtype_of_numpy(np.promote_types(np.dtype(_np(da)), np.dtype(_np(db)))), False
    (dw, _), (ds, _) = ((da, wa), (db, wb)) if wa else ((db, wb), (da, wa))
    if _KIND_ORDER[kind(dw)] <= _KIND_ORDER[kind(ds)]:
        return ds, False
    return DEFAULT[kind(dw)], True


def _np(dtype: str):
    from ..ir.types import numpy_dtype
    return numpy_dtype(dtype)


class ArrayOps:
    # -- abstract values
    def aval(self, x) -> tuple[tuple[int, ...], str, bool]:
        """(shape, dtype, weak) of anything usable as an array."""
        if isinstance(x, Dyn):
            return x.shape, x.dtype, x.weak
        if is_static_scalar(x):
            return ((),) + scalar_aval(x)
        if isinstance(x, np.ndarray):
            return x.shape, dtype_of_numpy(x.dtype), False
        if isinstance(x, (tuple, list)):
            d = self.to_dyn(x)
            return d.shape, d.dtype, d.weak
        if isinstance(x, Selection):
            from .masks import refuse
            refuse(self)
        self.error(f"expected an array or a number, got {describe(x)}")

    def promote(self, *xs) -> tuple[str, bool]:
        out = None
        for x in xs:
            _, dt, weak = self.aval(x.x if isinstance(x, Selection) else x)
            out = (dt, weak) if out is None else promote_pair(out, (dt, weak))
        return out

    # -- making values
    def const(self, value, dtype: str, shape=(), weak=False, hint=None) -> Dyn:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and is_int(dtype):
            info = np.iinfo(_np(dtype))
            if not info.min <= value <= info.max:
                self.error(f"integer {value} does not fit in {dtype}")
        try:
            v = self.builder.constant(value, TensorType(tuple(shape), dtype), hint)
        except OverflowError:
            self.error(f"the integer is too large for {dtype}")
        self.ctx.defining[v] = self.builder.region.ops[-1]  # (masks.py folds masks known at compile time)
        return Dyn(v, weak)

    def to_dyn(self, x, dtype: str | None = None, weak: bool | None = None) -> Dyn:
        """An IR array for x (converted to `dtype` when given)."""
        if isinstance(x, Dyn):
            out = x
        elif is_static_scalar(x):
            dt, w = scalar_aval(x)
            return self.const(x, dtype or dt, weak=w if weak is None else weak)
        elif isinstance(x, np.ndarray):
            out = self.const(x, dtype_of_numpy(x.dtype), x.shape)
        elif isinstance(x, (tuple, list)) and x:
            return self.stack([self.to_dyn(e) for e in x], 0, dtype)
        elif hasattr(x, "__jax_array__") or type(x).__module__.startswith("jax"):
            return self.to_dyn(np.asarray(x), dtype)
        elif isinstance(x, Selection):
            from .masks import refuse
            refuse(self)
        else:
            self.error(f"expected an array or a number, got {describe(x)}")
        if dtype is not None and out.dtype != dtype:
            out = Dyn(self.emit("convert", [out.value], out.value.hint, dtype=dtype), out.weak)
        return out

    def convert(self, x, dtype: str, weak=False) -> Dyn:
        d = self.to_dyn(x, dtype)
        return Dyn(d.value, weak, d.nonneg and d.value is getattr(x, "value", None))

    def broadcast_to(self, x: Dyn, shape) -> Dyn:
        shape = tuple(shape)
        if x.shape == shape:
            return x
        if len(x.shape) > len(shape):
            self.error(f"cannot broadcast shape {x.shape} to {shape}")
        dims = tuple(range(len(shape) - len(x.shape), len(shape)))
        for d, n in zip(dims, x.shape):
            if n not in (1, shape[d]):
                self.error(f"cannot broadcast shape {x.shape} to {shape}")
        if any(n == 1 and shape[d] != 1 for d, n in zip(dims, x.shape)):
            # size-1 axes are dropped first so that broadcast_in_dim maps sizes exactly
            keep = [i for i, (d, n) in enumerate(zip(dims, x.shape)) if n == shape[d]]
            x = Dyn(self.emit("reshape", [x.value], x.value.hint,
                              shape=tuple(x.shape[i] for i in keep)), x.weak)
            dims = tuple(dims[i] for i in keep)
        return Dyn(self.emit("broadcast_in_dim", [x.value], x.value.hint, shape=shape, dims=dims), x.weak)

    def broadcast_shapes(self, *shapes):
        try:
            return tuple(np.broadcast_shapes(*shapes))
        except ValueError:
            self.error(f"shapes {' and '.join(map(str, shapes))} do not broadcast together")

    def coerce(self, xs, dtype=None):
        """Promote and broadcast `xs` to one dtype and shape: returns (dyns, weak)."""
        dt, weak = self.promote(*xs)
        if dtype is not None:
            dt = dtype
        shape = self.broadcast_shapes(*[self.aval(x)[0] for x in xs])
        out = []
        for x in xs:
            if is_static_scalar(x):  # build the constant at its final dtype and shape
                out.append(self.const(x, dt, shape, weak))
            else:
                out.append(self.broadcast_to(self.to_dyn(x, dt), shape))
        return out, weak

    def coerce_dtypes(self, xs):
        """Promote `xs` to one float dtype (shapes unchanged)."""
        dt, weak = self.promote(*xs)
        if not is_float(dt):
            dt = DEFAULT["float"]
        return [self.to_dyn(x, dt) for x in xs], weak

    # -- elementwise
    def elementwise(self, prim: str, *xs, dtype=None, result_kind=None, hint=None) -> Dyn:
        """Apply a same-type elementwise primitive after promotion and broadcasting.
        result_kind: "float" to move integer inputs to floating point first (exp, /),
        "bool" for comparisons."""
        if any(isinstance(x, Selection) for x in xs):  # (x[mask] + 1: the mask maps through)
            from .masks import lift
            return lift(self, lambda *ys: self.elementwise(prim, *ys, dtype=dtype, result_kind=result_kind,
                                                            hint=hint), xs, f"'{prim}'")
        if any(self.aval(x)[1] == "key" for x in xs):
            self.error(f"PRNG keys have no arithmetic or math ('{prim}' of a key)",
                       "make new keys with jax.random.split(key, n) (or jax.random.key(seed))")
        if result_kind == "float" and dtype is None:
            dt, _ = self.promote(*xs)
            if not is_float(dt):
                dtype = DEFAULT["float"]
        ds, weak = self.coerce(xs, dtype)
        out = self.emit(prim, [d.value for d in ds], hint)
        return Dyn(out, weak and result_kind != "bool")

    def select(self, pred, on_true, on_false) -> Dyn:
        if any(isinstance(x, Selection) for x in (pred, on_true, on_false)):
            from .masks import lift
            return lift(self, self.select, [pred, on_true, on_false], "np.where")
        (a, b), weak = self.coerce([on_true, on_false])
        p = self.to_dyn(pred)
        if p.dtype != "bool":
            p = self.elementwise("ne", p, 0, result_kind="bool")
        shape = self.broadcast_shapes(p.shape, a.shape)
        p, a, b = (self.broadcast_to(v, shape) for v in (p, a, b))
        return Dyn(self.emit("select", [p.value, a.value, b.value]), weak)

    # -- shapes
    def norm_axis(self, axis: int, rank: int) -> int:
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            self.error(f"an axis here must be a Python int known at compile time, got {describe(axis)}")
        if not -rank <= axis < max(rank, 1):
            self.error(f"axis {axis} is out of bounds for an array of rank {rank}")
        return int(axis) % max(rank, 1)

    def norm_axes(self, axis, rank) -> tuple[int, ...]:
        if axis is None:
            return tuple(range(rank))
        return tuple(sorted(self.axis_list(axis, rank)))

    def axis_list(self, axis, rank) -> list[int]:
        """`axis` (an int or a sequence of them) as non-negative axes in the order given;
        an axis named twice is an error, as in NumPy."""
        axes = [self.norm_axis(a, rank) for a in (axis if isinstance(axis, (tuple, list)) else (axis,))]
        if len(set(axes)) != len(axes):
            self.error(f"repeated axis in {axis}")
        return axes

    def reshape(self, x, shape) -> Dyn:
        x = self.to_dyn(x)
        shape = list(shape) if isinstance(shape, (tuple, list)) else [shape]
        shape = [self.static_int(s, "a reshape size") for s in shape]
        if shape.count(-1) > 1:
            self.error("only one reshape size may be -1")
        if -1 in shape:
            known = int(np.prod([s for s in shape if s != -1]))
            if known == 0 or int(np.prod(x.shape)) % known:
                self.error(f"cannot reshape an array of shape {x.shape} into {tuple(shape)}")
            shape[shape.index(-1)] = int(np.prod(x.shape)) // known
        shape = tuple(shape)
        if shape == x.shape:
            return x
        return Dyn(self.emit("reshape", [x.value], x.value.hint, shape=shape), x.weak)

    def transpose(self, x, perm=None) -> Dyn:
        x = self.to_dyn(x)
        perm = tuple(reversed(range(len(x.shape)))) if perm is None else tuple(
            self.norm_axis(p, len(x.shape)) for p in perm)
        if perm == tuple(range(len(x.shape))):
            return x
        return Dyn(self.emit("transpose", [x.value], x.value.hint, perm=perm), x.weak)

    def stack(self, xs, axis=0, dtype=None) -> Dyn:
        if not xs:
            self.error("cannot stack an empty sequence")
        ds, weak = self.coerce(list(xs), dtype)
        axis = self.norm_axis(axis, len(ds[0].shape) + 1)
        parts = [self.reshape(d, d.shape[:axis] + (1,) + d.shape[axis:]).value for d in ds]
        if len(parts) == 1:
            return Dyn(parts[0], weak)
        return Dyn(self.emit("concatenate", parts, axis=axis), weak)

    def concatenate(self, xs, axis=0) -> Dyn:
        if not xs:
            self.error("need at least one array to concatenate")
        dt, weak = self.promote(*xs)
        ds = [self.to_dyn(x, dt) for x in xs]
        if any(len(d.shape) == 0 for d in ds):
            self.error("zero-dimensional arrays cannot be concatenated")
        axis = self.norm_axis(axis, len(ds[0].shape))
        if len(ds) == 1:
            return ds[0]
        return Dyn(self.emit("concatenate", [d.value for d in ds], axis=axis), weak)

    # -- reductions
    def reduce(self, prim: str, x, axis=None, keepdims=False, dtype=None) -> Dyn:
        x = self.to_dyn(x)
        if prim in ("reduce_sum", "reduce_prod") and x.dtype == "bool":
            x = self.convert(x, DEFAULT["int"])
        if dtype is not None:
            x = self.convert(x, dtype)
        if prim in ("reduce_and", "reduce_or") and x.dtype != "bool":
            x = self.elementwise("ne", x, 0, result_kind="bool")
        axes = self.norm_axes(axis, len(x.shape))
        if prim in ("reduce_max", "reduce_min") and any(x.shape[a] == 0 for a in axes):
            self.error("zero-size array to reduction operation max/min which has no identity")
        if x.dtype == "bool" and prim in ("reduce_max", "reduce_min"):  # (as NumPy: any and all)
            prim = "reduce_or" if prim == "reduce_max" else "reduce_and"
        out = Dyn(self.emit(prim, [x.value], x.value.hint, axes=axes), x.weak)
        if keepdims:
            out = self.reshape(out, tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
        return out

    def mean(self, x, axis=None, keepdims=False) -> Dyn:
        x = self.to_dyn(x)
        axes = self.norm_axes(axis, len(x.shape))
        count = int(np.prod([x.shape[a] for a in axes]))
        if x.dtype == "bool" or is_int(x.dtype):  # (NumPy sums integers in float64: no wrap-around)
            x = self.convert(x, DEFAULT["float"])
        s = self.reduce("reduce_sum", x, axes, keepdims)
        return self.elementwise("div", s, float(count), result_kind="float")

    def var(self, x, axis=None, keepdims=False, ddof=0) -> Dyn:
        x = self.to_dyn(x)
        axes = self.norm_axes(axis, len(x.shape))
        count = int(np.prod([x.shape[a] for a in axes]))
        centered = self.elementwise("sub", x, self.mean(x, axes, keepdims=True), result_kind="float")
        sq = self.elementwise("mul", centered, centered)
        s = self.reduce("reduce_sum", sq, axes, keepdims)
        return self.elementwise("div", s, float(count - ddof))

    # -- indexing
    def index(self, x: Dyn, idx) -> Dyn:
        """NumPy indexing: ints (static or traced), slices, None, Ellipsis, and one integer
        array (a `take`)."""
        items = list(idx) if isinstance(idx, tuple) else [idx]
        from .masks import index_by_mask, is_mask
        if any(is_mask(i) for i in items):
            return index_by_mask(self, x, items)
        if sum(i is Ellipsis for i in items) > 1:
            self.error("an index can only have a single ellipsis ('...')")
        n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
        if n_real > len(x.shape):
            self.error(f"too many indices for an array of rank {len(x.shape)}")
        k = next((j for j, i in enumerate(items) if i is Ellipsis), None)
        if k is not None:
            items[k:k + 1] = [slice(None)] * (len(x.shape) - n_real)
        else:
            items += [slice(None)] * (len(x.shape) - n_real)
        arrays = [k for k, i in enumerate(items) if is_index_array(i)]
        if arrays:
            return self.index_by_array(x, items, arrays)

        start, limit, stride, rev_axes, dyn_starts = [], [], [], [], []
        out_shape = []  # final shape, with None entries inserted and int axes dropped
        axis = 0
        for item in items:
            if item is None:
                out_shape.append(1)
                continue
            n = x.shape[axis]
            if isinstance(item, slice):
                lo, hi, st = (self.static_int(v, "a slice bound", _SLICE_HINT) if v is not None else None
                              for v in (item.start, item.stop, item.step))
                lo, hi, st = slice(lo, hi, st).indices(n)
                if st > 0:
                    start.append(lo), limit.append(max(lo, hi)), stride.append(st)
                    size = len(range(lo, hi, st))
                else:
                    size = len(range(lo, hi, st))
                    first = lo + (size - 1) * st if size else 0  # smallest index taken
                    start.append(first), limit.append(first + (size - 1) * -st + 1 if size else 0)
                    stride.append(-st), rev_axes.append(axis)
                dyn_starts.append(None)
                out_shape.append(size)
            elif isinstance(item, Dyn):
                if not is_int(item.dtype):
                    self.error(f"only integers, slices, None, ... and integer arrays can index arrays here, "
                               f"got {describe(item)}", hint="for a boolean mask keep the shape with np.where(mask, x, 0)")
                start.append(0), limit.append(n), stride.append(1)
                dyn_starts.append(item)
            elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                i = int(item)
                if not -n <= i < n:
                    self.error(f"index {i} is out of bounds for axis {axis} with size {n}")
                i %= n
                start.append(i), limit.append(i + 1), stride.append(1)
                dyn_starts.append(None)
            else:
                self.error(f"cannot index an array with {describe(item)}",
                           hint="indices may be integers, slices, None or ...")
            axis += 1

        v = x.value
        if (start, limit, stride) != ([0] * len(x.shape), list(x.shape), [1] * len(x.shape)):
            v = self.emit("slice", [v], v.hint, start=tuple(start), limit=tuple(limit), stride=tuple(stride))
        if rev_axes:
            v = self.emit("rev", [v], v.hint, axes=tuple(rev_axes))
        if any(d is not None for d in dyn_starts):
            zero = self.const(0, INDEX).value
            starts, sizes = [], []
            for d, n in zip(dyn_starts, v.type.shape):
                if d is None:
                    starts.append(zero), sizes.append(n)
                else:
                    starts.append(self.wrap_index(d, n).value), sizes.append(1)
            v = self.emit("dynamic_slice", [v] + starts, v.hint, sizes=tuple(sizes))
        out = self.reshape(Dyn(v, x.weak), tuple(out_shape))
        return out

    def index_by_array(self, x: Dyn, items: list, arrays: list[int]) -> Dyn:
        """x[items] where items[k] is an integer array: the rest of the index first, then a
        take along the axis the array indexes. As in NumPy, the array's axes stand where it
        does unless other integers in the index are apart from it: then they come first."""
        if len(arrays) > 1:
            return self.index_by_arrays(x, items)
        k = arrays[0]
        rest = self.index(x, tuple(items[:k] + [slice(None)] + items[k + 1:]))
        axis = sum(1 for i in items[:k] if i is None or isinstance(i, slice))
        out = self.take(rest, items[k], axis)
        advanced = [j for j, i in enumerate(items) if i is not None and not isinstance(i, slice)]
        if advanced[-1] - advanced[0] + 1 == len(advanced):
            return out
        r = len(out.shape) - len(rest.shape) + 1
        front = tuple(range(axis, axis + r))
        return self.transpose(out, front + tuple(d for d in range(len(out.shape)) if d not in front))

    def index_by_arrays(self, x: Dyn, items: list) -> Dyn:
        """x[i, j, ...] with several integer arrays, and integers beside them (advanced
        indices too, as in NumPy): the indexed axes merged into one and taken at the
        arrays' broadcast flat position; an index out of range in any axis maps past the
        end, so the take fills. The result's axes stand where the advanced indices do when
        those are adjacent, else first, as in NumPy."""
        adv = [j for j, i in enumerate(items) if i is not None and not isinstance(i, slice)]
        rest = self.index(x, tuple(slice(None) if j in adv else i for j, i in enumerate(items)))
        idx = [self.checked_index(items[j], rest.shape[j], j) for j in adv]  # (item j is axis j of rest)
        shape = self.broadcast_shapes(*[i.shape for i in idx])
        flat, inside, size = None, None, 1
        for j, i in zip(reversed(adv), reversed(idx)):  # row-major: the last axis varies fastest
            n = rest.shape[j]
            w = self.broadcast_to(self.convert(i, INDEX), shape)
            w = self.select(self.elementwise("lt", w, 0, result_kind="bool"), self.elementwise("add", w, n), w)
            ok = self.elementwise("and", self.elementwise("ge", w, 0, result_kind="bool"),
                                  self.elementwise("lt", w, n, result_kind="bool"))
            inside = ok if inside is None else self.elementwise("and", inside, ok)
            term = self.elementwise("mul", w, size)
            flat = term if flat is None else self.elementwise("add", flat, term)
            size *= n
        flat = self.select(inside, flat, size)
        others = [d for d in range(len(rest.shape)) if d not in adv]
        merged = self.reshape(self.transpose(rest, tuple(adv) + tuple(others)),
                              (size,) + tuple(rest.shape[d] for d in others))
        out = Dyn(self.emit("take", [merged.value, flat.value], x.value.hint, axis=0, mode="fill"), x.weak)
        if adv[-1] - adv[0] + 1 != len(adv):
            return out
        r, at = len(shape), adv[0]  # adjacent: the index's axes move to where the first one stood
        perm = tuple(range(r, r + at)) + tuple(range(r)) + tuple(range(r + at, len(out.shape)))
        return self.transpose(out, perm)

    def checked_index(self, item, n: int, axis: int) -> Dyn:
        """An integer index (array or scalar) as a traced value; a static one out of range
        for size n is an error, as NumPy's is."""
        i = self.to_dyn(item)
        if i.dtype == "bool":
            self.error("boolean-mask indexing is not supported: its result's shape depends on the data",
                       hint="keep the shape with np.where(mask, x, 0) (then sum, or mask the log density)")
        if not is_int(i.dtype):
            self.error(f"arrays used as indices must be of integer type, got {i.dtype}")
        if not isinstance(item, Dyn) and not any(isinstance(v, Dyn) for v in leaves(item)):
            bad = [int(v) for v in np.ravel(item) if not -n <= v < n]
            if bad:
                self.error(f"index {bad[0]} is out of bounds for axis {axis} with size {n}")
        return i

    def take(self, x: Dyn, idx, axis: int) -> Dyn:
        """x's elements along `axis` at the integer array idx: negatives count from the end
        once; a traced index still out of range gives jnp.take's fill (NaN for floats), a
        static one is an error, as a static integer index is."""
        i = self.convert(self.checked_index(idx, x.shape[axis], axis), INDEX)
        return Dyn(self.emit("take", [x.value, i.value], x.value.hint, axis=axis, mode="fill"), x.weak)

    def wrap_index(self, i: Dyn, n: int) -> Dyn:
        """Python's negative indices for a traced scalar index (out-of-range indices clamp, as
        in JAX). Integer arrays never reach here: indexing takes them (`take`) and `x.at[i]`
        updates scatter them (numpy_api._update_at_array)."""
        if i.shape:
            self.error(f"a traced integer array {i.type} cannot be used as a single index here",
                       hint="index with it directly (x[i], x.at[i].set/add/mul/min/max(v)), "
                            "after full slices (:) only for updates")
        i = self.convert(i, INDEX)
        if i.nonneg:
            return i
        neg = self.elementwise("lt", i, 0, result_kind="bool")
        return self.select(neg, self.elementwise("add", i, n), i)

    def static_int(self, v, what: str, hint: str | None = None) -> int:
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            return int(v)
        self.error(f"{what} must be a Python int known at compile time, got {describe(v)}", hint)


def is_index_array(item) -> bool:
    """An index item that is an array (traced, NumPy or a list), not a scalar."""
    return (isinstance(item, Dyn) and item.shape != ()) or isinstance(item, (np.ndarray, list))


def describe(v) -> str:
    if isinstance(v, Dyn):
        return f"a traced array {v.type}"
    if isinstance(v, Selection):
        from .masks import describe_selection
        return describe_selection(v)
    if isinstance(v, DynRange):
        return "a range() with bounds computed at run time"
    if isinstance(v, Enumerate):
        return f"enumerate() of {describe(v.inner)}"
    if isinstance(v, Zip):
        return f"zip() of {', '.join(describe(x) for x in v.items)}"
    if isinstance(v, (tuple, list)) and any(isinstance(x, Dyn) for x in leaves(v)):  # (no reprs of IR values)
        return f"a {type(v).__name__} of {len(v)} items, traced arrays among them"
    if isinstance(v, type):
        return f"the type {v.__name__}"
    if isinstance(v, types.ModuleType):
        return f"module '{v.__name__}'"
    return f"{type(v).__name__} {v!r}"[:80]
