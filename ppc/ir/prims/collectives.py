"""Communication between the devices of a mesh, made explicit by partitioning
(ppc/partition). They appear only in a partitioned (per-device) program, which runs under
`jax.shard_map`: each names the mesh axis it communicates over, and `parts`, that axis's
size, so shape rules need no mesh. They have no derivative or batching rules (partitioning
comes after every other pass) and no TF emission (partitioned programs run on JAX).

    all_reduce      x {axes, reduce}            every device gets the sum (max, min) over `axes`
    all_gather      x {axis, parts, dim}        the tiles along `dim` concatenated: dim grows parts-fold
    reduce_scatter  x {axis, parts, dim}        the sum over `axis`, each device keeping its tile of `dim`
    all_to_all      x {axis, parts, split, concat}  re-tile: `split` is cut into tiles, `concat` gathered
    shard_slice     x {axis, parts, dim}        this device's tile of a value every device holds (no traffic)
"""
from __future__ import annotations

from ..registry import ShapeError, declare
from . import costs
from .common import axis_ok, tensor

REDUCERS = {"sum": "lax.psum", "max": "lax.pmax", "min": "lax.pmin"}


def _all_reduce(x, axes, reduce):
    if reduce not in REDUCERS:
        raise ShapeError(f"all_reduce reduces by {', '.join(REDUCERS)}, not {reduce!r}")
    if not axes:
        raise ShapeError("all_reduce needs at least one mesh axis")
    return [tensor(x)]


def _resized(x, dim, parts, grow):
    x = tensor(x)
    axis_ok(dim, x.rank)
    if parts < 1 or (not grow and x.shape[dim] % parts):
        raise ShapeError(f"cannot cut dim {dim} of {x} into {parts} tiles")
    shape = list(x.shape)
    shape[dim] = shape[dim] * parts if grow else shape[dim] // parts
    return [x.with_shape(shape)]


def _all_to_all(x, axis, parts, split, concat):
    x = tensor(x)
    _resized(x, split, parts, grow=False)
    axis_ok(concat, x.rank)
    shape = list(x.shape)
    shape[split] //= parts
    shape[concat] *= parts
    return [x.with_shape(shape)]


def _all_reduce_emit(a, at):
    return f"{REDUCERS[at['reduce']]}({a[0]}, {tuple(at['axes'])!r})"


declare("all_reduce", _all_reduce, jax=_all_reduce_emit, collective=True, cost=costs.all_reduce)
declare("all_gather", lambda x, axis, parts, dim: _resized(x, dim, parts, grow=True), collective=True,
        jax="lax.all_gather({0}, {axis!r}, axis={dim}, tiled=True)", cost=costs.free)
declare("reduce_scatter", lambda x, axis, parts, dim: _resized(x, dim, parts, grow=False), collective=True,
        jax="lax.psum_scatter({0}, {axis!r}, scatter_dimension={dim}, tiled=True)", cost=costs.free)
declare("all_to_all", _all_to_all, collective=True,
        jax="lax.all_to_all({0}, {axis!r}, {split}, {concat}, tiled=True)", cost=costs.free)
declare("shard_slice", lambda x, axis, parts, dim: _resized(x, dim, parts, grow=False), collective=True,
        jax=lambda a, at: (f"lax.dynamic_slice_in_dim({a[0]}, lax.axis_index({at['axis']!r}) * "
                           f"({a[0]}.shape[{at['dim']}] // {at['parts']}), {a[0]}.shape[{at['dim']}] // {at['parts']}, "
                           f"{at['dim']}, allow_negative_indices=False)"), cost=costs.free)
