"""Helpers shared by the primitive families: shape-rule checks and the dtype names the
JAX and TF emission templates use."""
from __future__ import annotations

from ..registry import ShapeError
from ..types import TensorType, is_float

JNP_DTYPE = {"bool": "jnp.bool_", "i8": "jnp.int8", "i16": "jnp.int16", "i32": "jnp.int32",
             "i64": "jnp.int64", "u8": "jnp.uint8", "u32": "jnp.uint32", "u64": "jnp.uint64",
             "f16": "jnp.float16", "f32": "jnp.float32", "f64": "jnp.float64"}
# TF has no key dtype: the TF backend holds a PRNG key as one int64 (its two 32-bit words)
TF_DTYPE = {"bool": "tf.bool", "i8": "tf.int8", "i16": "tf.int16", "i32": "tf.int32", "i64": "tf.int64",
            "u8": "tf.uint8", "u32": "tf.uint32", "u64": "tf.uint64", "f16": "tf.float16", "f32": "tf.float32",
            "f64": "tf.float64", "key": "tf.int64"}


def tensor(t, what="operand") -> TensorType:
    if not isinstance(t, TensorType):
        raise ShapeError(f"{what} must be an array, got {t}")
    return t


def same(*types: TensorType) -> TensorType:
    first = tensor(types[0])
    for t in types[1:]:
        if tensor(t).shape != first.shape:
            raise ShapeError(f"shapes {first.shape} and {t.shape} differ")
        if t.dtype != first.dtype:
            raise ShapeError(f"dtypes {first.dtype} and {t.dtype} differ")
    return first


def numeric(t: TensorType, what: str):
    if t.dtype in ("bool", "key"):
        raise ShapeError(f"{what} needs a numeric operand, got {t}")


def floating(t: TensorType, what: str):
    if not is_float(t.dtype):
        raise ShapeError(f"{what} needs a floating-point operand, got {t}")


def axis_ok(axis: int, rank: int):
    if not 0 <= axis < rank:
        raise ShapeError(f"axis {axis} out of range for rank {rank}")
