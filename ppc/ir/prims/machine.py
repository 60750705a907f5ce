"""The program-counter machine's own operations (ppc/passes/pc.py builds programs from
them): an n-way `switch` that runs the block the machine chose, per-member stacks, and
storage initialised to zeros. They exist after batching, so they have no derivative or
batching rules; asking for one is an error naming the primitive."""
from __future__ import annotations

from ..registry import ShapeError, declare
from ..types import TensorType
from .common import JNP_DTYPE, tensor


def _index(t, what):
    if tensor(t).dtype not in ("i32", "i64"):
        raise ShapeError(f"{what} needs an integer index, got {t}")


def _switch_emit(a, at):
    cases = ", ".join(at.get("case", []))
    return f"lax.switch({a[0]}, [{cases}])"


# results = switch index case {...} case {...} ...: runs case `index` (clamped into range);
# the cases take no parameters and yield the results.
declare("switch", None, regions=("case",), variadic_regions=True, tuple_result=True, jax=_switch_emit, internal=True)


def _zeros(shape, dtype):
    return [TensorType(tuple(shape), dtype)]


def _zeros_emit(a, at):
    if at["dtype"] == "key":  # a key array needs some key: all slots hold key(0) until written
        return f"lax.broadcast_in_dim(jax.random.key(0), {tuple(at['shape'])}, ())"
    return f"jnp.zeros({tuple(at['shape'])}, {JNP_DTYPE[at['dtype']]})"


declare("zeros", _zeros, jax=_zeros_emit, internal=True)


def _stack_read(stack, depth):
    _index(depth, "stack_read")
    if tensor(stack).rank < 2 or depth.shape != stack.shape[1:2]:
        raise ShapeError(f"stack_read needs a stack [frames, B, ...] and one frame index per member, "
                         f"got {stack} and {depth}")
    return [stack.with_shape(stack.shape[1:])]


def _stack_write(stack, depth, value, mask):
    (out,) = _stack_read(stack, depth)
    if tensor(value) != out or tensor(mask) != TensorType(depth.shape, "bool"):
        raise ShapeError(f"stack_write of {value} under {mask} does not fit stack {stack}")
    return [stack]


# A stack is [frames, B, ...]: member b's frame f is stack[f, b]. The last frame is scratch:
# members outside `mask` write there, so a masked push is one scatter.
declare("stack_read", _stack_read, jax="{0}[{1}, jnp.arange({0}.shape[1])]", internal=True)
declare("stack_write", _stack_write,
        jax="{0}.at[jnp.where({3}, {1}, {0}.shape[0] - 1), jnp.arange({0}.shape[1])].set({2})", internal=True)
