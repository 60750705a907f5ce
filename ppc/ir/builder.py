"""Appending ops to a region with their result types inferred by the registry."""
from __future__ import annotations

import numpy as np

from .core import Op, Region, Value
from .diagnostics import SourceLoc
from .registry import infer_types
from .types import TensorType, numpy_dtype


class Builder:
    def __init__(self, region: Region, loc: SourceLoc | None = None):
        self.region, self.loc = region, loc

    def op(self, prim: str, operands, hint: str | None = None, **attrs) -> Value:
        """Append a single-result op and return its result."""
        return self.op_n(prim, operands, hint, **attrs)[0]

    def op_n(self, prim: str, operands, hint: str | None = None, **attrs) -> list[Value]:
        types = infer_types(prim, [v.type for v in operands], attrs)
        results = [Value(t, hint) for t in types]
        self.region.ops.append(Op(prim, operands, attrs, results, loc=self.loc))
        return results

    def append(self, op: Op) -> Op:
        if op.loc is None:
            op.loc = self.loc
        self.region.ops.append(op)
        return op

    def constant(self, value, type: TensorType, hint: str | None = None) -> Value:
        """A constant of `type`: a Python scalar (splat) or an array of exactly that shape."""
        if isinstance(value, np.ndarray) and value.size > 0 and value.ndim > 0 and (value == value.flat[0]).all():
            value = value.flat[0]  # uniform arrays print as a splat
        if isinstance(value, np.ndarray) or isinstance(value, np.generic):
            arr = np.asarray(value, dtype=numpy_dtype(type.dtype))
            value = arr.reshape(type.shape) if arr.ndim else arr.item()
        if not isinstance(value, np.ndarray):
            value = np.asarray(value, dtype=numpy_dtype(type.dtype)).item()
        return self.op("constant", [], hint, value=value, shape=type.shape, dtype=type.dtype)
