"""Indexing by an integer array: `take` (a gather along one axis) and its transpose
`scatter_add`.

`take(x, idx) {axis, mode}` is `x.shape[:axis] + idx.shape + x.shape[axis+1:]`, picking
along `axis` the elements `idx` names (any integer dtype). A negative index counts from
the end once, as in NumPy; an index still out of range after that never reads another
element: with mode="fill" it gives JAX's `jnp.take` fill (NaN for floats, the most
negative value for signed integers, the largest for unsigned ones, True for bools), with
mode="zero" a zero (the tangent and cotangent programs use it, where a fill is no
derivative).

`scatter_add(ct, idx) {axis, size}` is the transpose: zeros of length `size` along `axis`,
each slice of `ct` added at the index `idx` names (repeated indices accumulate, as in
`x.at[idx].add(v)`); out-of-range entries, after the same wrap, are dropped.

Both are linear in their first operand, so each one's JVP is itself and its transpose the
other, and derivatives of any order stay in these two primitives.
"""
from __future__ import annotations

from ..registry import ShapeError, declare
from ..types import TensorType, is_int
from . import costs, tiling
from .common import axis_ok, tensor

MODES = ("fill", "zero")


def _index(idx) -> TensorType:
    idx = tensor(idx, "an index")
    if not is_int(idx.dtype):
        raise ShapeError(f"indices must be integers, got {idx}")
    return idx


def _take(x, idx, axis, mode):
    x, idx = tensor(x), _index(idx)
    axis_ok(axis, x.rank)
    if mode not in MODES:
        raise ShapeError(f"take mode must be one of {MODES}, got {mode!r}")
    return [x.with_shape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])]


def _scatter_add(ct, idx, axis, size):
    ct, idx = tensor(ct), _index(idx)
    if ct.dtype == "bool" or not 0 <= axis <= ct.rank - idx.rank or size < 0:
        raise ShapeError(f"cannot scatter-add {ct} at {idx} along axis {axis}")
    if ct.shape[axis:axis + idx.rank] != idx.shape:
        raise ShapeError(f"scatter_add updates {ct} do not hold {idx} at axis {axis}")
    return [ct.with_shape(ct.shape[:axis] + (size,) + ct.shape[axis + idx.rank:])]


# --- emission --------------------------------------------------------------------------------
# jnp.take and .at[].add wrap a negative index once themselves and fill (drop) the rest.

def _take_jax(a, at):
    x, idx, axis = a[0], a[1], at["axis"]
    if at["mode"] == "fill":
        return f'jnp.take({x}, {idx}, axis={axis}, mode="fill")'
    return f'jnp.take({x}, {idx}, axis={axis}, mode="fill", fill_value=0)'


def _scatter_add_jax(a, at):
    ct, idx, axis = a[0], a[1], at["axis"]
    return (f"jnp.zeros({ct}.shape[:{axis}] + ({at['size']},) + {ct}.shape[{axis} + {idx}.ndim:], {ct}.dtype)"
            f'.at[(slice(None),) * {axis} + ({idx},)].add({ct}, mode="drop")')


# --- derivatives -----------------------------------------------------------------------------

def _linear_jvp(cx, primals, tangents, **attrs):
    """Linear in the array operand; the indices get no tangent. A take's tangent is zero,
    not the fill, where the index is out of range."""
    outs = cx.primal()
    if tangents[0] is None:
        return outs, [None]
    if cx.prim == "take":
        attrs = dict(attrs, mode="zero")
    return outs, [cx.op(cx.prim, [tangents[0], primals[1]], **attrs)]


def _take_t(cx, cts, operands, linear, axis, mode):
    return [cx.op("scatter_add", [cts[0], operands[1]], axis=axis, size=cx.in_types[0].shape[axis]), None]


def _scatter_add_t(cx, cts, operands, linear, axis, size):
    return [cx.op("take", [cts[0], operands[1]], axis=axis, mode="zero"), None]


# --- batching --------------------------------------------------------------------------------

def _flat_indices(cx, idx, n):
    """Member b's indices into the member axis flattened with an axis of length n
    (b * n + i, negatives wrapped once first); out of range stays out of range (B * n)."""
    b = cx.b
    t = TensorType(idx.type.shape, "i64")
    i = idx if idx.type.dtype == "i64" else b.op("convert", [idx], dtype="i64")
    i = b.op("select", [b.op("lt", [i, b.constant(0, t)]), b.op("add", [i, b.constant(n, t)]), i])
    inside = b.op("and", [b.op("ge", [i, b.constant(0, t)]), b.op("lt", [i, b.constant(n, t)])])
    member = b.op("iota", [], shape=t.shape, dimension=0, dtype="i64")
    flat = b.op("add", [i, b.op("mul", [member, b.constant(n, t)])])
    return b.op("select", [inside, flat, b.constant(cx.size * n, t)])


def _member_axis_to(cx, x, axis):
    """x with its leading member axis moved to just before `axis` (of the unbatched shape)."""
    perm = tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, x.type.rank))
    return cx.b.op("transpose", [x], perm=perm) if axis else x


def _merge(cx, x, axis):
    """The member axis (at `axis`) merged with the one after it."""
    s = x.type.shape
    return cx.b.op("reshape", [x], shape=s[:axis] + (s[axis] * s[axis + 1],) + s[axis + 2:])


def _take_batch(cx, operands, batched, axis, mode):
    x, idx = operands
    if not batched[1]:
        return cx.b.op_n("take", [x, idx], axis=axis + 1, mode=mode), [True]
    if not batched[0]:  # one x for all: the members' indices are one more index axis
        return [cx.to_front(cx.b.op("take", [x, idx], axis=axis, mode=mode), axis)], [True]
    n = x.type.shape[axis + 1]
    flat = _merge(cx, _member_axis_to(cx, x, axis), axis)
    out = cx.b.op("take", [flat, _flat_indices(cx, idx, n)], axis=axis, mode=mode)
    return [cx.to_front(out, axis)], [True]


def _scatter_add_batch(cx, operands, batched, axis, size):
    ct, idx = operands
    if not batched[1]:
        return cx.b.op_n("scatter_add", [ct, idx], axis=axis + 1, size=size), [True]
    ct = ct if batched[0] else cx.broadcast(ct)
    out = cx.b.op("scatter_add", [_member_axis_to(cx, ct, axis), _flat_indices(cx, idx, size)],
                  axis=axis, size=cx.size * size)
    s = out.type.shape
    split = cx.b.op("reshape", [out], shape=s[:axis] + (cx.size, size) + s[axis + 1:])
    return [cx.to_front(split, axis)], [True]


@costs.estimated
def _scatter_add_cost(op):
    """One add per update element, XLA's price for a scatter's combiner."""
    return float(op.operands[0].type.size), 0.0


declare("take", _take, jax=_take_jax, tf='ppc_tf.take({0}, {1}, {axis}, "{mode}")',
        jvp=_linear_jvp, transpose=_take_t, batch=_take_batch, tile=tiling.replicated, cost=costs.free)
declare("scatter_add", _scatter_add, jax=_scatter_add_jax, tf="ppc_tf.scatter_add({0}, {1}, {axis}, {size})",
        jvp=_linear_jvp, transpose=_scatter_add_t, batch=_scatter_add_batch, tile=tiling.replicated,
        cost=_scatter_add_cost)
