"""Constants and primitives that move data without arithmetic: broadcast, reshape,
transpose, slices, pads, concatenation, dynamic slices. All are linear in their array
operands (indices are never differentiated), so each has a transpose rule."""
from __future__ import annotations

import numpy as np

from ..registry import ShapeError, declare
from ..types import TensorType, TupleType, is_int, numpy_dtype
from . import batching, costs, tiling
from .common import JNP_DTYPE, TF_DTYPE, axis_ok, tensor


def _no_tangent(cx, primals, tangents, **attrs):
    return cx.primal(), [None] * len(cx.out_types)


def _linear_in(n):
    """JVP of an op linear in its first `n` operands; the rest (indices) pass through."""
    def rule(cx, primals, tangents, **attrs):
        outs = cx.primal()
        if all(t is None for t in tangents[:n]):
            return outs, [None]
        ts = [cx.zeros(ty) if t is None else t for t, ty in zip(tangents[:n], cx.in_types)]
        return outs, [cx.op(cx.prim, ts + list(primals[n:]), **attrs)]
    return rule


# --- constants and tuples ------------------------------------------------------------------

def _emit_constant(_, attrs):
    value, dtype, shape = attrs["value"], attrs["dtype"], attrs["shape"]
    jdt = JNP_DTYPE[dtype]
    if isinstance(value, np.ndarray) and value.size == 0:  # (a list of nothing keeps no shape)
        return f"jnp.zeros({tuple(shape)!r}, {jdt})"
    if isinstance(value, np.ndarray):
        return f"jnp.asarray({_list_literal(value, 'jnp')}, {jdt})"
    lit = _py_literal(value)
    return f"{jdt}({lit})" if shape == () else f"jnp.full({shape!r}, {lit}, {jdt})"


def _py_literal(v, np_name="jnp") -> str:
    if isinstance(v, float) and not np.isfinite(v):
        return f"{np_name}.nan" if v != v else (f"{np_name}.inf" if v > 0 else f"-{np_name}.inf")
    return repr(v)


def _list_literal(value: np.ndarray, np_name: str) -> str:
    """A dense constant as a nested list, infinities and NaN named in the emitted module."""
    lit = repr(value.tolist())
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        lit = lit.replace("inf", f"{np_name}.inf").replace("nan", f"{np_name}.nan")
    return lit


def _emit_constant_tf(_, attrs):
    value, dtype, shape = attrs["value"], attrs["dtype"], attrs["shape"]
    tdt = TF_DTYPE[dtype]
    if isinstance(value, np.ndarray) and value.size == 0:
        return f"tf.zeros({list(shape)}, {tdt})"
    if isinstance(value, np.ndarray):
        return f"tf.constant({_list_literal(value, 'np')}, {tdt})"
    lit = _py_literal(value, "np")
    return f"tf.constant({lit}, {tdt})" if shape == () else f"tf.fill({list(shape)}, tf.constant({lit}, {tdt}))"


# A constant's value is a scalar (splat over `shape`) or a dense ndarray; shape and dtype
# are attributes so that the emitter sees them; the printer writes them as the result type.
declare("constant", lambda value, shape, dtype: [TensorType(tuple(shape), dtype)], jax=_emit_constant,
        tf=_emit_constant_tf, jvp=_no_tangent, tile=tiling.free_result, cost=costs.free)


def _tuple_expr(a, at):
    return f"({', '.join(a)}{',' if len(a) == 1 else ''})"


def _tuple_get_t(cx, cts, operands, linear, index):
    """The cotangent of a tuple: the element's cotangent in its slot, zeros elsewhere."""
    elements = cx.in_types[0].elements
    parts = [cts[0] if i == index else cx.zeros(t) for i, t in enumerate(elements)]
    return [cx.op("make_tuple", parts)]


declare("tuple_get", lambda t, index: [t.elements[index]], jax="{0}[{index}]", tf="{0}[{index}]",
        jvp=lambda cx, p, t, index: (cx.primal(), [None if t[0] is None else cx.op("tuple_get", [t[0]], index=index)]),
        transpose=_tuple_get_t, batch=batching.tuple_get, tile=tiling.replicated, cost=costs.free)
declare("make_tuple", lambda *xs: [TupleType(tuple(xs))], jax=_tuple_expr, tf=_tuple_expr,
        jvp=lambda cx, p, t: (cx.primal(), [None if all(x is None for x in t) else cx.op(
            "make_tuple", [x if x is not None else cx.zeros(ty) for x, ty in zip(t, cx.in_types)])]),
        transpose=lambda cx, cts, ops, lin: [cx.op("tuple_get", [cts[0]], index=i) if f else None
                                             for i, f in enumerate(lin)], batch=batching.make_tuple, tile=tiling.replicated,
        cost=costs.free)


# --- broadcast, reshape, transpose ---------------------------------------------------------

def _broadcast_in_dim(x, shape, dims):
    x = tensor(x)
    if len(dims) != x.rank or any(not 0 <= d < len(shape) for d in dims) or list(dims) != sorted(set(dims)):
        raise ShapeError(f"cannot broadcast {x} with dims {dims} into shape {shape}")
    for d, n in zip(dims, x.shape):
        if n not in (1, shape[d]):
            raise ShapeError(f"cannot broadcast {x} to shape {tuple(shape)}")
    return [x.with_shape(shape)]


def _fold_broadcast(x, shape, dims):
    expanded = x.reshape([x.shape[dims.index(i)] if i in dims else 1 for i in range(len(shape))])
    return np.broadcast_to(expanded, shape)


def _broadcast_t(cx, cts, operands, linear, shape, dims):
    x_type = cx.in_types[0]
    summed = tuple(d for d in range(len(shape))
                   if d not in dims or (x_type.shape[dims.index(d)] == 1 and shape[d] != 1))
    ct = cx.op("reduce_sum", [cts[0]], axes=summed) if summed else cts[0]
    return [cx.op("reshape", [ct], shape=x_type.shape) if ct.type.shape != x_type.shape else ct]


def _broadcast_tf(a, at):
    """tf.broadcast_to aligns trailing axes, as NumPy does; new axes elsewhere are indexed in."""
    shape, dims = at["shape"], at["dims"]
    x = a[0]
    if dims and tuple(dims) != tuple(range(len(shape) - len(dims), len(shape))):
        x = f"{x}[{', '.join(':' if i in dims else 'tf.newaxis' for i in range(dims[0], len(shape)))}]"
    return f"tf.broadcast_to({x}, {list(shape)})"


declare("broadcast_in_dim", _broadcast_in_dim, tile=tiling.broadcast_in_dim, jax="lax.broadcast_in_dim({0}, {shape}, {dims})", tf=_broadcast_tf,
        fold=_fold_broadcast, jvp=_linear_in(1), transpose=_broadcast_t, batch=batching.shifted_axes("broadcast"), cost=costs.free)


def _reshape(x, shape):
    x = tensor(x)
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(f"cannot reshape {x} ({x.size} elements) into shape {tuple(shape)}")
    return [x.with_shape(shape)]


declare("reshape", _reshape, tile=tiling.reshape, jax="jnp.reshape({0}, {shape})",
        tf=lambda a, at: f"tf.reshape({a[0]}, {list(at['shape'])})", fold=lambda x, shape: np.reshape(x, shape),
        jvp=_linear_in(1), batch=batching.shifted_axes("shape"),
        transpose=lambda cx, cts, ops, lin, shape: [cx.op("reshape", [cts[0]], shape=cx.in_types[0].shape)], cost=costs.free)


def _transpose(x, perm):
    x = tensor(x)
    if sorted(perm) != list(range(x.rank)):
        raise ShapeError(f"{perm} is not a permutation of the axes of {x}")
    return [x.with_shape(tuple(x.shape[p] for p in perm))]


declare("transpose", _transpose, tile=tiling.transpose, jax="jnp.transpose({0}, {perm})",
        tf=lambda a, at: f"tf.transpose({a[0]}, {list(at['perm'])})" if at["perm"] else a[0],
        fold=lambda x, perm: np.transpose(x, perm),
        jvp=_linear_in(1), batch=batching.shifted_axes("perm"), transpose=lambda cx, cts, ops, lin, perm: [
            cx.op("transpose", [cts[0]], perm=tuple(int(i) for i in np.argsort(perm)))], cost=costs.free)


# --- slices and pads -----------------------------------------------------------------------

def _slice(x, start, limit, stride):
    x = tensor(x)
    if not len(start) == len(limit) == len(stride) == x.rank:
        raise ShapeError(f"slice of {x} needs {x.rank} bounds")
    out = []
    for lo, hi, st, n in zip(start, limit, stride, x.shape):
        if not (0 <= lo <= hi <= n and st >= 1):
            raise ShapeError(f"slice [{lo}:{hi}:{st}] out of bounds for axis of size {n}")
        out.append(max(0, -(-(hi - lo) // st)))
    return [x.with_shape(out)]


def _slice_t(cx, cts, operands, linear, start, limit, stride):
    x_type, out = cx.in_types[0], cx.out_types[0]
    if 0 in out.shape:
        return [cx.zeros(x_type)]
    high = tuple(n - 1 - (lo + (k - 1) * st) for n, lo, k, st in zip(x_type.shape, start, out.shape, stride))
    return [cx.op("pad", [cts[0], cx.full(0.0, TensorType((), x_type.dtype))], low=tuple(start), high=high,
                  interior=tuple(st - 1 for st in stride))]


def _slice_tf(a, at):
    if not at["start"]:
        return a[0]
    parts = [f"{lo}:{hi}" + (f":{st}" if st != 1 else "") for lo, hi, st in zip(at["start"], at["limit"], at["stride"])]
    return f"{a[0]}[{', '.join(parts)}]"


declare("slice", _slice, tile=tiling.unchanged_dims, jax="lax.slice({0}, {start}, {limit}, {stride})", tf=_slice_tf,
        fold=lambda x, start, limit, stride: x[tuple(slice(a, b, s) for a, b, s in zip(start, limit, stride))],
        jvp=_linear_in(1), transpose=_slice_t, batch=batching.shifted_axes("slice"), cost=costs.free)


def _pad(x, value, low, high, interior):
    x, value = tensor(x), tensor(value)
    if value.shape != () or value.dtype != x.dtype or not len(low) == len(high) == len(interior) == x.rank:
        raise ShapeError(f"cannot pad {x} with {value}")
    shape = [lo + hi + n + max(0, n - 1) * i for n, lo, hi, i in zip(x.shape, low, high, interior)]
    if any(d < 0 for d in shape) or any(i < 0 for i in interior):
        raise ShapeError(f"padding {low}/{high}/{interior} does not fit {x}")
    return [x.with_shape(shape)]


def _pad_t(cx, cts, operands, linear, low, high, interior):
    if linear[1]:
        raise ValueError("pad is transposed only in its array operand")
    x_type = cx.in_types[0]
    limit = tuple(lo + n + max(0, n - 1) * i for n, lo, i in zip(x_type.shape, low, interior))
    return [cx.op("slice", [cts[0]], start=tuple(low), limit=limit, stride=tuple(i + 1 for i in interior)), None]


declare("pad", _pad, tile=tiling.unchanged_dims, jax=lambda a, at: f"lax.pad({a[0]}, {a[1]}, {list(zip(at['low'], at['high'], at['interior']))})",
        tf="ppc_tf.pad({0}, {1}, {low}, {high}, {interior})",
        jvp=_linear_in(2), transpose=_pad_t, batch=batching.pad, cost=costs.free)


def _rev(x, axes):
    x = tensor(x)
    for a in axes:
        axis_ok(a, x.rank)
    return [x]


declare("rev", _rev, tile=tiling.same_shape_except("axes"), jax="jnp.flip({0}, {axes})", tf=lambda a, at: f"tf.reverse({a[0]}, {list(at['axes'])})",
        fold=lambda x, axes: np.flip(x, axes), jvp=_linear_in(1), batch=batching.shifted_axes("axes"),
        transpose=lambda cx, cts, ops, lin, axes: [cx.op("rev", [cts[0]], axes=axes)], cost=costs.free)


# --- dynamic slices ------------------------------------------------------------------------

def _index_operands(x, idx, what):
    if len(idx) != x.rank:
        raise ShapeError(f"{what} of {x} needs {x.rank} start indices, got {len(idx)}")
    for i in idx:
        if tensor(i).shape != () or not is_int(i.dtype):
            raise ShapeError(f"{what} start indices must be integer scalars, got {i}")


def _dynamic_slice(x, *idx, sizes):
    x = tensor(x)
    _index_operands(x, idx, "dynamic_slice")
    if len(sizes) != x.rank or any(not 0 <= s <= n for s, n in zip(sizes, x.shape)):
        raise ShapeError(f"slice sizes {sizes} do not fit {x}")
    return [x.with_shape(sizes)]


def _tuple_src(exprs):
    return f"({', '.join(exprs)}{',' if len(exprs) == 1 else ''})"


declare("dynamic_slice", _dynamic_slice, tile=tiling.unchanged_dims,
        jax=lambda a, at: f"lax.dynamic_slice({a[0]}, {_tuple_src(a[1:])}, {at['sizes']}, allow_negative_indices=False)",
        tf=lambda a, at: f"ppc_tf.dynamic_slice({a[0]}, {_tuple_src(a[1:])}, {at['sizes']})",
        jvp=_linear_in(1), batch=batching.dynamic_slice, transpose=lambda cx, cts, ops, lin, sizes: [
            cx.op("dynamic_update_slice", [cx.zeros(cx.in_types[0]), cts[0]] + list(ops[1:]))]
        + [None] * (len(ops) - 1), cost=costs.free)


def _dynamic_update_slice(x, update, *idx):
    x, update = tensor(x), tensor(update)
    _index_operands(x, idx, "dynamic_update_slice")
    if update.dtype != x.dtype or update.rank != x.rank or any(u > n for u, n in zip(update.shape, x.shape)):
        raise ShapeError(f"cannot write {update} into {x}")
    return [x]


def _dus_t(cx, cts, operands, linear, **attrs):
    ct, idx = cts[0], list(operands[2:])
    upd_type = cx.in_types[1]
    return [cx.op("dynamic_update_slice", [ct, cx.zeros(upd_type)] + idx) if linear[0] else None,
            cx.op("dynamic_slice", [ct] + idx, sizes=upd_type.shape) if linear[1] else None] + [None] * len(idx)


declare("dynamic_update_slice", _dynamic_update_slice, tile=tiling.unchanged_dims,
        jax=lambda a, at: f"lax.dynamic_update_slice({a[0]}, {a[1]}, {_tuple_src(a[2:])}, allow_negative_indices=False)",
        tf=lambda a, at: f"ppc_tf.dynamic_update_slice({a[0]}, {a[1]}, {_tuple_src(a[2:])})",
        jvp=_linear_in(2), transpose=_dus_t, batch=batching.dynamic_update_slice, cost=costs.free)


# --- concatenation and iota ----------------------------------------------------------------

def _concatenate(*xs, axis):
    xs = [tensor(x) for x in xs]
    if not xs:
        raise ShapeError("concatenate needs at least one array")
    first = xs[0]
    axis_ok(axis, first.rank)
    for x in xs[1:]:
        if x.dtype != first.dtype or x.rank != first.rank or any(
                a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis):
            raise ShapeError(f"cannot concatenate {first} and {x} along axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return [first.with_shape(shape)]


def _concatenate_jvp(cx, primals, tangents, axis):
    outs = cx.primal()
    if all(t is None for t in tangents):
        return outs, [None]
    ts = [cx.zeros(ty) if t is None else t for t, ty in zip(tangents, cx.in_types)]
    return outs, [cx.op("concatenate", ts, axis=axis)]


def _concatenate_t(cx, cts, operands, linear, axis):
    out, offset = [], 0
    full = cx.out_types[0].shape
    for ty, lin in zip(cx.in_types, linear):
        n = ty.shape[axis]
        if lin:
            start = tuple(offset if d == axis else 0 for d in range(len(full)))
            limit = tuple(offset + n if d == axis else full[d] for d in range(len(full)))
            out.append(cx.op("slice", [cts[0]], start=start, limit=limit, stride=(1,) * len(full)))
        else:
            out.append(None)
        offset += n
    return out


declare("concatenate", _concatenate, tile=tiling.unchanged_dims, jax="jnp.concatenate([{args}], axis={axis})",
        tf="tf.concat([{args}], axis={axis})",
        fold=lambda *xs, axis: np.concatenate(xs, axis=axis), jvp=_concatenate_jvp, transpose=_concatenate_t,
        batch=batching.concatenate, cost=costs.free)


def _iota(shape, dimension, dtype):
    axis_ok(dimension, len(shape))
    return [TensorType(tuple(shape), dtype)]


declare("iota", _iota, tile=tiling.iota,
        jax=lambda a, at: f"lax.broadcasted_iota({JNP_DTYPE[at['dtype']]}, {at['shape']}, {at['dimension']})",
        tf=lambda a, at: f"ppc_tf.iota({TF_DTYPE[at['dtype']]}, {list(at['shape'])}, {at['dimension']})",
        fold=lambda shape, dimension, dtype: np.broadcast_to(
            np.arange(shape[dimension], dtype=numpy_dtype(dtype)).reshape(
                [-1 if i == dimension else 1 for i in range(len(shape))]), shape),
        jvp=_no_tangent, cost=costs.free)
