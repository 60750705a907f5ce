"""The program-counter machine's own operations (ppc/passes/pc.py builds programs from
them): an n-way `switch` that runs the block the machine chose, per-member stacks, and
storage initialised to zeros. They exist after batching, so they have no derivative or
batching rules; asking for one is an error naming the primitive."""
from __future__ import annotations

from ..registry import ShapeError, declare
from ..types import TensorType
from . import costs
from .common import JNP_DTYPE, TF_DTYPE, tensor


def _index(t, what):
    if tensor(t).dtype not in ("i32", "i64"):
        raise ShapeError(f"{what} needs an integer index, got {t}")


def _switch_emit(a, at):
    cases = ", ".join(at.get("case", []))
    return f"lax.switch({a[0]}, [{cases}])"


# results = switch index case {...} case {...} ...: runs case `index` (clamped into range);
# the cases take no parameters and yield the results.
declare("switch", None, regions=("case",), variadic_regions=True, tuple_result=True, jax=_switch_emit,
        tf=lambda a, at: f"ppc_tf.switch({a[0]}, [{', '.join(at.get('case', []))}])", internal=True)


def _zeros(shape, dtype):
    return [TensorType(tuple(shape), dtype)]


def _zeros_emit(a, at):
    if at["dtype"] == "key":  # a key array needs some key: all slots hold key(0) until written
        return f"lax.broadcast_in_dim(jax.random.key(0), {tuple(at['shape'])}, ())"
    return f"jnp.zeros({tuple(at['shape'])}, {JNP_DTYPE[at['dtype']]})"


declare("zeros", _zeros, jax=_zeros_emit, internal=True,  # a zero TF key is key(0)
        tf=lambda a, at: f"tf.zeros({list(at['shape'])}, {TF_DTYPE[at['dtype']]})", cost=costs.free)


def _row(f, what, rank_extra):
    if tensor(f).rank < rank_extra:
        raise ShapeError(f"{what} needs a file of rank >= {rank_extra}, got {f}")


def _file_read(f, row):
    _row(f, "file_read", 1)
    if not 0 <= row < f.shape[0]:
        raise ShapeError(f"file_read row {row} out of range for {f}")
    return [f.with_shape(f.shape[1:])]


def _file_write(f, row, value):
    _index(row, "file_write")
    _row(f, "file_write", 1)
    if row.rank != 0 or tensor(value) != f.with_shape(f.shape[1:]):
        raise ShapeError(f"file_write of {value} at {row} does not fit file {f}")
    return [f]


def _stack_read(f, depth, row):
    _index(depth, "stack_read")
    _row(f, "stack_read", 3)
    if depth.shape != f.shape[2:3] or not 0 <= row < f.shape[0]:
        raise ShapeError(f"stack_read needs a file [rows, frames, B, ...], a row and one frame per member, "
                         f"got {f}, {row} and {depth}")
    return [f.with_shape(f.shape[2:])]


def _stack_write(f, row, frames, value):
    _index(row, "stack_write")
    _index(frames, "stack_write")
    _row(f, "stack_write", 3)
    if row.rank != 0 or frames.shape != f.shape[2:3] or tensor(value) != f.with_shape(f.shape[2:]):
        raise ShapeError(f"stack_write of {value} at {row}, {frames} does not fit file {f}")
    return [f]


def _file_patch(f, row, index, update):
    _index(row, "file_patch")
    _index(index, "file_patch")
    _row(f, "file_patch", 2)
    f, update = tensor(f), tensor(update)
    cell = f.shape[2:]
    if (row.rank != 0 or index.shape != (f.shape[1], 1 + len(cell)) or update.dtype != f.dtype
            or update.shape[:1] != f.shape[1:2] or update.rank != f.rank - 1
            or any(u > n for u, n in zip(update.shape[1:], cell))):
        raise ShapeError(f"file_patch of {update} at {row}, {index} does not fit file {f}")
    return [f]


def _file_patch_emit(a, at):
    # (the file's rank fixes the dimension numbers; ranks are static when JAX traces)
    dims = (f"lax.ScatterDimensionNumbers(update_window_dims=tuple(range(1, {a[3]}.ndim)), "
            f"inserted_window_dims=(0, 1), scatter_dims_to_operand_dims=tuple(range({a[0]}.ndim)))")
    where = f"jnp.concatenate([jnp.full(({a[2]}.shape[0], 1), {a[1]}, {a[2]}.dtype), {a[2]}], axis=1)"
    return f"lax.scatter({a[0]}, {where}, {a[3]}, {dims}, mode=lax.GatherScatterMode.FILL_OR_DROP)"


# Storage files: every stored value of one kind and type is a row of one array, so a block
# writes its few rows in place instead of the machine carrying (and copying) each value.
# A register file is [rows, B, ...]; a uniform one [rows, ...]; a stack file is
# [rows, frames, B, ...], member b's frame f of row r at [r, f, b]. The last row, and a
# stack's last frame, are scratch: writes nobody needs go there.
declare("file_read", _file_read, jax="{0}[{row}]", tf="{0}[{row}]", internal=True, cost=costs.free)
declare("file_write", _file_write, jax="{0}.at[{1}].set({2})", tf="ppc_tf.file_write({0}, {1}, {2})", internal=True, cost=costs.free)
# file_patch(f, row, index, update): member b's window update[b] written into row `row` at
# index[b] = (member, start per cell axis); a member index out of range (the batch size)
# writes nothing. Starts must leave the window inside the cell (the machine clamps them,
# as dynamic_update_slice does). A block that changes part of a register (x.at[i].set(v)
# of a register it read) writes that window instead of the whole value.
declare("file_patch", _file_patch, jax=_file_patch_emit, tf="ppc_tf.file_patch({0}, {1}, {2}, {3})", internal=True, cost=costs.free)
declare("stack_read", _stack_read, jax="{0}[{row}, {1}, jnp.arange({0}.shape[2])]",
        tf="ppc_tf.stack_read({0}, {row}, {1})", internal=True, cost=costs.free)
declare("stack_write", _stack_write, jax="{0}.at[{1}, {2}, jnp.arange({0}.shape[2])].set({3})",
        tf="ppc_tf.stack_write({0}, {1}, {2}, {3})", internal=True, cost=costs.free)
