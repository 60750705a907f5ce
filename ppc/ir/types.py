"""Static IR types.

Shapes are fully known at compile time (XLA needs them), so a type is just a shape and
a dtype. The PRNG key is a dtype of its own (`key[]`, `key[2]`): keys are arrays of
opaque elements, exactly as JAX's typed keys are, so shape rules treat them uniformly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# IR dtype name -> numpy dtype (None for the opaque key dtype).
DTYPES: dict[str, np.dtype | None] = {
    "bool": np.dtype(np.bool_),
    "i8": np.dtype(np.int8),
    "i16": np.dtype(np.int16),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "u8": np.dtype(np.uint8),
    "u32": np.dtype(np.uint32),
    "u64": np.dtype(np.uint64),
    "f16": np.dtype(np.float16),
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "key": None,
}
_FROM_NUMPY = {v: k for k, v in DTYPES.items() if v is not None}


def dtype_of_numpy(dt) -> str:
    """The IR dtype name of a numpy dtype (or anything np.dtype accepts)."""
    dt = np.dtype(dt)
    try:
        return _FROM_NUMPY[dt]
    except KeyError:
        raise TypeError(f"dtype {dt} has no IR equivalent") from None


def numpy_dtype(name: str) -> np.dtype:
    dt = DTYPES[name]
    if dt is None:
        raise TypeError(f"dtype {name} has no numpy equivalent")
    return dt


def is_float(dtype: str) -> bool:
    return dtype.startswith("f")


def is_int(dtype: str) -> bool:
    return dtype[0] in "iu"


class Type:
    """Base of all IR types."""


@dataclass(frozen=True)
class TensorType(Type):
    shape: tuple[int, ...]
    dtype: str

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}")
        if not all(isinstance(d, int) and d >= 0 for d in self.shape):
            raise ValueError(f"bad shape {self.shape!r}")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def with_shape(self, shape) -> "TensorType":
        return TensorType(tuple(shape), self.dtype)

    def with_dtype(self, dtype: str) -> "TensorType":
        return TensorType(self.shape, dtype)

    def __str__(self):
        return f"{self.dtype}[{','.join(map(str, self.shape))}]"


@dataclass(frozen=True)
class TupleType(Type):
    """A tuple of types: the type of a structured (pytree) function argument."""

    elements: tuple[Type, ...]

    def __str__(self):
        return f"tuple<{', '.join(map(str, self.elements))}>"


def scalar(dtype: str) -> TensorType:
    return TensorType((), dtype)


_TENSOR = re.compile(r"([a-z]+\d*)\[([\d,\s]*)\]")


def parse_type(text: str) -> Type:
    """Parse a type written as the printer writes it (`f32[10,3]`, `tuple<i32[], key[]>`)."""
    text = text.strip()
    if text.startswith("tuple<") and text.endswith(">"):
        inner = text[len("tuple<"):-1]
        return TupleType(tuple(parse_type(t) for t in split_top_level(inner)) if inner.strip() else ())
    m = _TENSOR.fullmatch(text)
    if not m or m.group(1) not in DTYPES:
        raise ValueError(f"not a type: {text!r} (expected e.g. f32[10,3], i32[], bool[4], key[])")
    dims = [d for d in m.group(2).replace(" ", "").split(",") if d]
    return TensorType(tuple(int(d) for d in dims), m.group(1))


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside brackets of any kind."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return [p.strip() for p in parts]
