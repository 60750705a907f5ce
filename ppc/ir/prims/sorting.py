"""Sorting: `sort(x) {axis}` -> (sorted values, permutation).

`sort` orders `x` along `axis` ascending, stably (equal elements keep their order), NaN
last and -0.0 equal to 0.0, as NumPy's `kind="stable"` sort does, and gives the sorted
values and the int64 permutation (`values = take_along_axis(x, perm, axis)`). JAX lowers
it to one `lax.sort` of (x, iota) with one key, which orders floats just so. TF's
`tf.argsort` follows XLA's total order under `jit_compile` (-0.0 before 0.0, NaN by its
sign), so the TF runtime's `sort` sorts an integer key instead: the float with -0.0 made 0.0 and
every NaN the positive one, bitcast to the integer of its width with the negative ones'
magnitude bits flipped (so integer order is float order); then the values are gathered.

Derivative: the values' tangent is the input tangent gathered by the permutation
(`gather_along`, a flat `take`, so the transpose is a `scatter_add`); the permutation has
none. Batching shifts the axis; tiling keeps the sorted axis whole and tiles the others.
Constant folding: canonicalize folds single-result ops only, so the fold rule here
(NumPy's stable sort) serves tools that evaluate ops by their fold rules.
"""
from __future__ import annotations

import numpy as np

from ..registry import ShapeError, declare
from ..types import TensorType
from . import batching, costs, tiling
from .common import axis_ok, tensor

INDEX = "i64"


def _sort(x, axis):
    x = tensor(x)
    if x.dtype in ("bool", "key"):
        raise ShapeError(f"sort needs a numeric operand, got {x}")
    axis_ok(axis, x.rank)
    return [x, TensorType(x.shape, INDEX)]


def _fold(x, axis):
    perm = np.argsort(x, axis=axis, kind="stable")
    return np.take_along_axis(x, perm, axis=axis), perm.astype(np.int64)


def _jax(a, at):
    x, axis = a[0], at["axis"]
    return (f"lax.sort(({x}, lax.broadcasted_iota(jnp.int64, {x}.shape, {axis})), dimension={axis}, "
            f"num_keys=1, is_stable=True)")


def gather_along(b, x, idx, axis: int, mode: str = "zero"):
    """x's elements along `axis` at the int64 indices `idx` (x's shape but for `axis`, where
    it may be any length): NumPy's take_along_axis, as one `take` from x flattened. An
    index is wrapped once if negative; one still out of range reads out of range of the
    flat array too (the take's fill, or 0 with mode "zero"). `b` is a Builder."""
    xt, it = x.type, idx.type
    shape, n = it.shape, xt.shape[axis]
    size = int(np.prod(xt.shape, dtype=np.int64))
    t = TensorType(shape, INDEX)
    strides = [int(np.prod(xt.shape[d + 1:], dtype=np.int64)) for d in range(xt.rank)]
    if idx.type.dtype != INDEX:
        idx = b.op("convert", [idx], dtype=INDEX)
    i = b.op("select", [b.op("lt", [idx, b.constant(0, t)]), b.op("add", [idx, b.constant(n, t)]), idx])
    flat = b.op("mul", [i, b.constant(strides[axis], t)]) if strides[axis] != 1 else i
    for d in range(xt.rank):
        if d != axis and shape[d] > 1:
            coord = b.op("iota", [], shape=shape, dimension=d, dtype=INDEX)
            flat = b.op("add", [flat, b.op("mul", [coord, b.constant(strides[d], t)]) if strides[d] != 1 else coord])
    inside = b.op("and", [b.op("ge", [i, b.constant(0, t)]), b.op("lt", [i, b.constant(n, t)])])
    flat = b.op("select", [inside, flat, b.constant(size, t)])
    xf = b.op("reshape", [x], shape=(size,)) if xt.rank != 1 else x
    return b.op("take", [xf, flat], axis=0, mode=mode)


def _jvp(cx, primals, tangents, axis):
    values, perm = cx.primal()
    t = tangents[0]
    if t is None:
        return [values, perm], [None, None]
    return [values, perm], [gather_along(cx.b, t, perm, axis, mode="zero"), None]


declare("sort", _sort, jax=_jax, tf="ppc_tf.sort({0}, {axis})", fold=_fold, tuple_result=True, jvp=_jvp,
        batch=batching.sort, tile=tiling.sort, cost=costs.sort)
