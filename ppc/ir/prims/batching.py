"""Batching rules (local static batching): how a primitive runs on values that carry a
leading batch axis. Most primitives fall in a few families; the rules for the families
are here, and each declaration names its rule."""
from __future__ import annotations

from ..types import TensorType


def _zero_index(cx, like):
    return cx.b.constant(0, TensorType((), like.type.dtype))


def _lift_all(cx, operands, batched):
    """Every operand batched (unbatched ones broadcast along a new leading axis)."""
    return [v if b else cx.broadcast(v) for v, b in zip(operands, batched)]


def elementwise(cx, operands, batched, **attrs):
    return cx.b.op_n(cx.prim, _lift_all(cx, operands, batched), **attrs), [True]


def shifted_axes(name):
    """Rules that only renumber axis attributes past the batch axis."""
    def rule(cx, operands, batched, **attrs):
        (x,) = operands
        a = dict(attrs)
        if name == "axes":
            a["axes"] = tuple(i + 1 for i in attrs["axes"])
        elif name == "axis":
            a["axis"] = attrs["axis"] + 1
        elif name == "perm":
            a["perm"] = (0,) + tuple(p + 1 for p in attrs["perm"])
        elif name == "shape":
            a["shape"] = (cx.size,) + tuple(attrs["shape"])
        elif name == "slice":
            a = {"start": (0,) + tuple(attrs["start"]), "limit": (cx.size,) + tuple(attrs["limit"]),
                 "stride": (1,) + tuple(attrs["stride"])}
        elif name == "broadcast":
            a = {"shape": (cx.size,) + tuple(attrs["shape"]), "dims": (0,) + tuple(d + 1 for d in attrs["dims"])}
        return cx.b.op_n(cx.prim, [x], **a), [True]
    return rule


def concatenate(cx, operands, batched, axis):
    return cx.b.op_n("concatenate", _lift_all(cx, operands, batched), axis=axis + 1), [True]


def pad(cx, operands, batched, low, high, interior):
    if batched[1]:
        raise ValueError("padding with a batched value")
    return cx.b.op_n("pad", operands, low=(0,) + tuple(low), high=(0,) + tuple(high),
                     interior=(0,) + tuple(interior)), [True]


def dot_general(cx, operands, batched, contract, batch):
    x, y = operands
    (xc, yc), (xb, yb) = contract, batch
    if batched[0] and batched[1]:
        out = cx.b.op("dot_general", [x, y], contract=(_up(xc), _up(yc)), batch=((0,) + _up(xb), (0,) + _up(yb)))
        return [out], [True]
    if batched[1] and not xb and y.type.rank == len(yc) + 1:
        # y's only free axis is the batch: with the operands swapped the result comes out
        # batch-first, where a transpose would copy it (a matrix times per-member vectors)
        return [cx.b.op("dot_general", [y, x], contract=(_up(yc), xc), batch=((), ()))], [True]
    # one batched operand: its batch axis is a free axis of the contraction, moved to the front
    out = cx.b.op("dot_general", [x, y], contract=(_up(xc), yc) if batched[0] else (xc, _up(yc)),
                  batch=(_up(xb), yb) if batched[0] else (xb, _up(yb)))
    if batched[0]:
        pos = len(xb)
    else:
        pos = len(xb) + (x.type.rank - len(xc) - len(xb))
    return [cx.to_front(out, pos)], [True]


def _up(axes):
    return tuple(a + 1 for a in axes)


def dynamic_slice(cx, operands, batched, sizes):
    x, idx = operands[0], list(operands[1:])
    if not any(batched[1:]):
        zero = _zero_index(cx, idx[0]) if idx else None
        return cx.b.op_n("dynamic_slice", [x if batched[0] else cx.broadcast(x), zero] + idx,
                         sizes=(cx.size,) + tuple(sizes)), [True]
    x = x if batched[0] else cx.broadcast(x)
    # a traced start per member: one element picked by a one-hot mask, a longer window
    # shifted per member to start at 0 (see BatchCx.shift); then a slice at 0
    for axis, (i, b, size) in enumerate(zip(idx, batched[1:], sizes)):
        if b and size == 1:
            x = cx.pick(x, axis + 1, i)
        elif b and size < x.type.shape[axis + 1]:
            x = cx.shift(x, axis + 1, cx.clamp(i, x.type.shape[axis + 1] - size), toward_start=True)
    rest = [_zero_index(cx, i) if b else i for i, b in zip(idx, batched[1:])]
    zero = _zero_index(cx, idx[0])
    return cx.b.op_n("dynamic_slice", [x, zero] + rest, sizes=(cx.size,) + tuple(sizes)), [True]


def dynamic_update_slice(cx, operands, batched, **attrs):
    x, upd, idx = operands[0], operands[1], list(operands[2:])
    if not any(batched[2:]):
        zero = _zero_index(cx, idx[0]) if idx else None
        return cx.b.op_n("dynamic_update_slice", _lift_all(cx, [x, upd], batched[:2]) + [zero] + idx), [True]
    x = x if batched[0] else cx.broadcast(x)
    upd = upd if batched[1] else cx.broadcast(upd)
    # per member: the update padded to x's shape and shifted to its start along each axis
    # it does not fill, and written where the window is (a mask per axis)
    shape = x.type.shape
    mask = None
    for axis, (i, b, n, u) in enumerate(zip(idx, batched[2:], shape[1:], upd.type.shape[1:])):
        if u == n:
            continue
        start = cx.clamp(i, n - u)
        if not b:
            start = cx.b.op("broadcast_in_dim", [start], shape=(cx.size,), dims=())
        if u == 1:  # one element: the same value all along the axis, the mask picks the place
            wide = list(upd.type.shape)
            wide[axis + 1] = n
            upd = cx.b.op("broadcast_in_dim", [upd], shape=tuple(wide), dims=tuple(range(len(shape))))
        else:
            high = [0] * len(shape)
            high[axis + 1] = n - u
            upd = cx.b.op("pad", [upd, cx.b.constant(0, TensorType((), upd.type.dtype))], low=(0,) * len(shape),
                          high=tuple(high), interior=(0,) * len(shape))
            upd = cx.shift(upd, axis + 1, start, toward_start=False)
        coords = cx.b.op("iota", [], shape=shape, dimension=axis + 1, dtype=start.type.dtype)
        lo = cx.b.op("broadcast_in_dim", [start], shape=shape, dims=(0,))
        hi = cx.b.op("add", [lo, cx.b.constant(u, TensorType(shape, start.type.dtype))])
        inside = cx.b.op("and", [cx.b.op("ge", [coords, lo]), cx.b.op("lt", [coords, hi])])
        mask = inside if mask is None else cx.b.op("and", [mask, inside])
    if mask is None:  # (every axis whole: the update is the new value)
        return [upd], [True]
    return [cx.b.op("select", [mask, upd, x])], [True]


def structured(cx, operands, batched, **attrs):
    """if/while/call: their regions or callee are batched by the pass itself."""
    return cx.batch_structured(operands, batched)


def make_tuple(cx, operands, batched):
    """A tuple holding any batched element holds them all batched."""
    return cx.b.op_n("make_tuple", [v if b else cx.broadcast(v) for v, b in zip(operands, batched)]), [True]


def tuple_get(cx, operands, batched, index):
    return cx.b.op_n("tuple_get", operands, index=index), [True]


def triangular_solve(cx, operands, batched, lower, transpose_a):
    """Per-member right-hand sides against one shared matrix become extra columns of one
    solve; per-member matrices make the member axis one more batch axis of the solve."""
    a, rhs = operands
    if batched[0] or a.type.rank > 2:
        a = a if batched[0] else cx.broadcast(a)
        rhs = rhs if batched[1] else cx.broadcast(rhs)
        t = rhs.type
        if t.rank < a.type.rank:  # one vector per member: a column
            rhs = cx.b.op("reshape", [rhs], shape=t.shape + (1,))
        x = cx.b.op("triangular_solve", [a, rhs], lower=lower, transpose_a=transpose_a)
        return [x if t.rank == a.type.rank else cx.b.op("reshape", [x], shape=t.shape)], [True]
    t = rhs.type  # (B, k) or (B, k, m)
    cols = cx.b.op("transpose", [rhs], perm=(1, 0) + tuple(range(2, t.rank)))
    k = t.shape[1]
    flat = cx.b.op("reshape", [cols], shape=(k, int(t.size // k)))
    solved = cx.b.op("triangular_solve", [a, flat], lower=lower, transpose_a=transpose_a)
    back = cx.b.op("reshape", [solved], shape=(k, t.shape[0]) + t.shape[2:])
    return [cx.b.op("transpose", [back], perm=(1, 0) + tuple(range(2, t.rank)))], [True]


def leading_batch(cx, operands, batched, **attrs):
    """Primitives that take any number of leading batch axes (cholesky, lu): the member
    axis is one more, in front; every result is batched."""
    results = cx.b.op_n(cx.prim, _lift_all(cx, operands, batched), **attrs)
    return results, [True] * len(results)


def sort(cx, operands, batched, axis):
    """sort: the sorted axis moves past the batch axis; values and permutation are batched."""
    return cx.b.op_n("sort", operands, axis=axis + 1), [True, True]
