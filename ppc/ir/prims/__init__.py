"""Every primitive, declared once with all its rules, grouped by family.

IR ops are strict the way jaxprs are: elementwise operands share one shape and one
dtype (the frontend inserts `broadcast_in_dim` and `convert`), so every rule (shape,
emission, folding, derivatives) sees one simple case per primitive.
"""
from . import (collectives, control, elementwise, gather, linalg, machine, random, reductions, shapes,  # noqa: F401
               sorting)  # (each fills the registry)
from .common import JNP_DTYPE

__all__ = ["JNP_DTYPE"]
