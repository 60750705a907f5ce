"""The SSA IR: typed values, ops with nested regions, functions and modules; the
primitive registry; the printer, parser and verifier."""
from . import prims as _prims  # noqa: F401  (fills the registry)
from .builder import Builder
from .core import Function, Module, Op, Region, Value, clone_region, walk_ops
from .diagnostics import CompileError, InternalError, SourceLoc
from .parser import ParseError, parse
from .printer import print_function, print_module
from .registry import REGISTRY, MissingRule, Primitive, ShapeError, declare, infer_types, lookup, region_labels, rule
from .types import DTYPES, TensorType, TupleType, Type, dtype_of_numpy, parse_type, scalar
from .verifier import VerifyError, verify

__all__ = [
    "Builder", "Function", "Module", "Op", "Region", "Value", "clone_region", "walk_ops",
    "CompileError", "InternalError", "SourceLoc", "ParseError", "parse", "print_function",
    "print_module", "REGISTRY", "MissingRule", "Primitive", "ShapeError", "declare",
    "infer_types", "lookup", "region_labels", "rule", "DTYPES", "TensorType", "TupleType", "Type",
    "dtype_of_numpy", "parse_type", "scalar", "VerifyError", "verify",
]
