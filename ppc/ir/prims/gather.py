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

`scatter(x, v, idx) {axis, combine}` is x with each slice of `v` (shaped as `take(x, idx)`)
combined into it at the index `idx` names, by `combine`: "mul", "min" or "max"; repeated
indices all combine (as JAX's scatter_mul/min/max), out-of-range ones (after the same
wrap) are dropped. It is `x.at[idx].mul/min/max(v)`; `x.at[idx].set(v)` is built from a
"max" scatter of the updates' positions (the last of repeated indices wins: the largest
position), a take of v at the winners and a select. Derivatives: "mul" is linear in x
(its transpose is itself); its derivative in v is the product of the other updates at
the same index (by an m-by-m mask over the m updates, as reduce_prod's JVP: exact at
zeros, to every order; JAX has no such derivative for repeated indices). "min"/"max" follow JAX: the
tangent is the average of the tangents of the contenders (x and the updates) equal to the
result. The derivatives use take, scatter_add and scatter itself, so any order works.
"""
from __future__ import annotations

import numpy as np

from ..diagnostics import CompileError
from ..registry import ShapeError, declare
from ..types import TensorType, is_int
from . import costs, tiling
from .common import axis_ok, tensor

MODES = ("fill", "zero")
COMBINES = ("mul", "min", "max")


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


def _scatter(x, v, idx, axis, combine):
    x, v, idx = tensor(x), tensor(v, "updates"), _index(idx)
    axis_ok(axis, x.rank)
    if combine not in COMBINES:
        raise ShapeError(f"scatter combine must be one of {COMBINES}, got {combine!r}")
    if x.dtype == "bool" or v.dtype != x.dtype:
        raise ShapeError(f"cannot scatter-{combine} {v} into {x}")
    if v.shape != x.shape[:axis] + idx.shape + x.shape[axis + 1:]:
        raise ShapeError(f"scatter-{combine} updates {v} do not fit {x} at {idx} along axis {axis}")
    return [x]


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


def _scatter_jax(a, at):
    x, v, idx, axis = a[0], a[1], a[2], at["axis"]
    how = {"mul": "multiply"}.get(at["combine"], at["combine"])
    return f'{x}.at[(slice(None),) * {axis} + ({idx},)].{how}({v}, mode="drop")'


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


def _take0(cx, x, idx, axis):
    return cx.op("take", [x, idx], axis=axis, mode="zero")


def _other_updates(cx, v, idx, axis, n):
    """For each update, the product of the other updates at the same index (d out / d v
    of a "mul" scatter, over x): as reduce_prod's JVP, without dividing (exact at zeros,
    so every order of derivative is), by an m-by-m mask over the m updates."""
    vt, it = v.type, idx.type
    m = int(np.prod(it.shape, dtype=np.int64))
    pre, post = vt.shape[:axis], vt.shape[axis + it.rank:]
    flat = cx.op("reshape", [v], shape=pre + (m,) + post)
    i = cx.op("reshape", [idx], shape=(m,))
    zero = cx.full(0, TensorType((m,), it.dtype))
    i = cx.op("select", [cx.op("lt", [i, zero]), cx.op("add", [i, cx.full(n, TensorType((m,), it.dtype))]), i])
    pair = TensorType((m, m), it.dtype)
    same = cx.op("eq", [cx.op("broadcast_in_dim", [i], shape=pair.shape, dims=(0,)),
                        cx.op("broadcast_in_dim", [i], shape=pair.shape, dims=(1,))])
    other = cx.op("ne", [cx.op("iota", [], shape=(m, m), dimension=0, dtype="i64"),
                         cx.op("iota", [], shape=(m, m), dimension=1, dtype="i64")])
    same = cx.op("and", [same, other])
    square = pre + (m, m) + post
    rows = cx.op("broadcast_in_dim", [flat], shape=square,
                 dims=tuple(range(axis)) + (axis + 1,) + tuple(range(axis + 2, len(square))))
    mask = cx.op("broadcast_in_dim", [same], shape=square, dims=(axis, axis + 1))
    others = cx.op("reduce_prod", [cx.op("select", [mask, rows, cx.full(1, rows.type)])], axes=(axis + 1,))
    return cx.op("reshape", [others], shape=vt.shape)


def _scatter_jvp(cx, primals, tangents, axis, combine):
    x, v, idx = primals
    tx, tv = tangents[0], tangents[1]
    [out] = cx.primal()
    if tx is None and tv is None:
        return [out], [None]
    xt, vt = cx.in_types[0], cx.in_types[1]
    n = xt.shape[axis]
    zeros_v, ones_v = cx.full(0, vt), cx.full(1, vt)

    def added(u):  # zeros of x's shape with u added at the indices
        return cx.op("scatter_add", [u, idx], axis=axis, size=n)

    if combine == "mul":
        t = None if tx is None else cx.op("scatter", [tx, v, idx], axis=axis, combine="mul")
        if tv is None:
            return [out], [t]
        return [out], [cx.add(t, cx.op("mul", [x, added(cx.op("mul", [tv, _other_updates(cx, v, idx, axis, n)]))]))]
    # min/max, as JAX: the average of the tangents of the contenders equal to the result
    zeros_x, ones_x = cx.full(0, xt), cx.full(1, xt)
    won = cx.op("eq", [v, _take0(cx, out, idx, axis)])
    kept = cx.op("eq", [x, out])
    count = cx.op("add", [added(cx.op("select", [won, ones_v, zeros_v])), cx.op("select", [kept, ones_x, zeros_x])])
    count = cx.op("select", [cx.op("eq", [count, zeros_x]), ones_x, count])  # (a NaN result: none equal)
    num = None if tx is None else cx.op("select", [kept, tx, zeros_x])
    if tv is not None:
        num = cx.add(num, added(cx.op("select", [won, tv, zeros_v])))
    return [out], [cx.op("div", [num, count])]


def _scatter_t(cx, cts, operands, linear, axis, combine):
    if combine != "mul" or not linear[0] or linear[1]:
        raise CompileError(f"cannot transpose this program: primitive 'scatter' ({combine}) is linear only in "
                           f"its array operand, and only for combine 'mul'", cx.source_op.loc)
    return [cx.op("scatter", [cts[0], operands[1], operands[2]], axis=axis, combine="mul"), None, None]


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


def _scatter_batch(cx, operands, batched, axis, combine):
    x, v, idx = operands
    x = x if batched[0] else cx.broadcast(x)
    v = v if batched[1] else cx.broadcast(v)
    if not batched[2]:
        return cx.b.op_n("scatter", [x, v, idx], axis=axis + 1, combine=combine), [True]
    n = x.type.shape[axis + 1]  # the members' rows side by side along the axis, each its own indices
    flat = _merge(cx, _member_axis_to(cx, x, axis), axis)
    out = cx.b.op("scatter", [flat, _member_axis_to(cx, v, axis), _flat_indices(cx, idx, n)],
                  axis=axis, combine=combine)
    s = out.type.shape
    split = cx.b.op("reshape", [out], shape=s[:axis] + (cx.size, n) + s[axis + 1:])
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


@costs.estimated
def _scatter_cost(op):
    """One combine per update element."""
    return float(op.operands[1].type.size), 0.0


declare("scatter", _scatter, jax=_scatter_jax, tf='ppc_tf.scatter({0}, {1}, {2}, {axis}, "{combine}")',
        jvp=_scatter_jvp, transpose=_scatter_t, batch=_scatter_batch, tile=tiling.replicated,
        cost=_scatter_cost)
