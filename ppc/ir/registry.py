"""The primitive registry: one declaration per primitive, holding every stage's rule.

A primitive is declared once (`declare`) with its shape/dtype rule and its emission
templates; each later stage (JVP, transpose, batching, tiling, cost) adds a field here and
fills it beside the declaration. Asking for a rule that is missing (`rule`) is an error
naming the primitive and the stage, never a silent fallback.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .types import Type

# An emission rule is a source template: either a str.format pattern over the operand
# expressions ({0}, {1}, ..., {args}), the attributes by name, and region function names
# by region label; or a function (operand_exprs, attrs) -> str for the irregular cases.
Emission = str | Callable[[list[str], dict[str, Any]], str]


class ShapeError(Exception):
    """A shape rule rejected its operands; the frontend attaches the source location."""


class MissingRule(Exception):
    def __init__(self, prim: str, stage: str):
        super().__init__(f"primitive '{prim}' has no {stage} rule")
        self.prim, self.stage = prim, stage


@dataclass(eq=False)
class Primitive:
    name: str
    # (operand types, attrs) -> result types. None for ops whose results are fixed by
    # their regions or callee (if/while/call/constant); the verifier checks those.
    infer: Callable[..., list[Type]] | None
    jax: Emission | None = None
    # The TensorFlow emission (ppc/backends/tf), same conventions; generated TF code reads
    # `tf`, `np` and `ppc_tf` (ppc/backends/tf/runtime.py: PRNG and the ops TF lacks).
    tf: Emission | None = None
    # numpy implementation used by constant folding: (*arrays, **attrs) -> array
    fold: Callable | None = None
    regions: tuple[str, ...] = ()  # labels of nested regions, e.g. ("then", "else")
    # True when the op has any number of regions, all labelled regions[0] (switch cases)
    variadic_regions: bool = False
    # Built by ppc itself after the user-level passes (the program-counter machine): no
    # derivative, batching or tiling rules, by design
    internal: bool = False
    # True when the JAX expression evaluates to a tuple of all results (control flow)
    tuple_result: bool = False
    terminator: bool = False
    # Random variables: never merged or removed by canonicalize (each is a term of the model)
    effect: bool = False
    # Forward-mode rule: (cx, primals, tangents, **attrs) -> (primal results, tangents),
    # a tangent None meaning a symbolic zero. `cx` (passes/ad) offers cx.primal() (the op
    # re-emitted on the primals), cx.op(prim, operands, **attrs), zero-aware algebra
    # cx.add/sub/mul/div/neg, cx.full(value, type), cx.zeros(type), cx.in_types/out_types.
    jvp: Callable | None = None
    # Transpose rule, only for primitives linear in some operands:
    # (cx, result cotangents, operands, linear flags, **attrs) -> operand cotangents.
    # Linear operands arrive as None (they do not exist in the transposed program).
    transpose: Callable | None = None
    # Batching rule (local static batching): (cx, operands, batched flags, **attrs) ->
    # (results, batched flags); a batched value has a leading batch axis of size cx.size.
    batch: Callable | None = None
    # Tiling rule (partitioning, ppc/partition): op -> the op's factors (prims/tiling.py), each
    # a set of (value, dim) that must be tiled alike, and what tiling it does to the result.
    tile: Callable | None = None
    # Cost rule (the partitioning simulator): op -> (flops, transcendentals) as XLA counts the
    # op's lowering (prims/costs.py). Control flow has none: the simulator costs its parts.
    cost: Callable | None = None
    # Communication between devices (prims/collectives.py): only in partitioned programs,
    # which run on JAX, so no TF emission
    collective: bool = False


REGISTRY: dict[str, Primitive] = {}


def declare(name: str, infer, **fields) -> Primitive:
    if name in REGISTRY:
        raise ValueError(f"primitive '{name}' declared twice")
    prim = Primitive(name, infer, **fields)
    REGISTRY[name] = prim
    return prim


def lookup(name: str) -> Primitive:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown primitive '{name}'") from None


def rule(name: str, stage: str):
    """The `stage` rule of primitive `name`, or MissingRule naming both."""
    value = getattr(lookup(name), stage, None)
    if value is None:
        raise MissingRule(name, stage)
    return value


def region_labels(prim: Primitive, n: int) -> tuple[str, ...]:
    """The label of each of an op's `n` regions."""
    return prim.regions * n if prim.variadic_regions else prim.regions


def infer_types(name: str, in_types: list[Type], attrs: dict[str, Any]) -> list[Type]:
    prim = lookup(name)
    if prim.infer is None:
        raise MissingRule(name, "shape")
    out = prim.infer(*in_types, **attrs)
    return list(out) if isinstance(out, (list, tuple)) else [out]
