"""What a Python name can stand for while a function is being lowered.

Static things stay plain Python objects (ints, floats, tuples, modules, functions,
dtypes), so shape arithmetic and Python-level branching are evaluated at compile time,
exactly as Python would. Only arrays become IR values (`Dyn`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gast

from ..ir import TensorType, Value


@dataclass(eq=False)
class Dyn:
    """An array computed at run time. `weak` marks values born from Python scalars,
    which take the dtype of whatever they meet (JAX's weak types)."""

    value: Value
    weak: bool = False
    nonneg: bool = False  # known >= 0 (counters of ascending loops): indexing skips wrap-around

    @property
    def type(self) -> TensorType:
        return self.value.type

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.type.shape

    @property
    def dtype(self) -> str:
        return self.value.type.dtype


@dataclass(eq=False)
class Undefined:
    """A name bound on some paths only (say, in one branch of an `if`)."""

    name: str
    why: str


class Bottom:
    """The unknown result of a recursive call while its result type is being inferred."""

    def __repr__(self):
        return "Bottom"


BOTTOM = Bottom()


@dataclass(eq=False)
class Closure:
    """A `def` or `lambda` written inside compiled code: inlined where it is called."""

    node: Any  # gast.FunctionDef | gast.Lambda
    env: Any  # the Lowerer it was defined in
    defaults: list = field(default_factory=list)
    kwdefaults: dict = field(default_factory=dict)  # evaluated where it was defined, as Python does

    @property
    def name(self) -> str:
        return getattr(self.node, "name", "<lambda>")

    __name__ = name  # (read like a Python function's in messages)


@dataclass(eq=False)
class BoundMethod:
    """`x.sum`, `x.reshape`: an array method not yet called."""

    obj: Dyn
    name: str


@dataclass(eq=False)
class AtIndexer:
    """`x.at[idx]`, awaiting `.set(v)` / `.add(v)` / ..."""

    obj: Dyn
    index: Any = None


@dataclass(eq=False)
class Selection:
    """`x[mask]` with a mask computed at run time: its length depends on the data, which
    no static shape can hold, so it stays deferred as the array it selects from and the
    mask. Elementwise operations map through it and reductions consume it (see masks.py).

    x: the array, mask's axes at `pos`; mask: bool, shape x.shape[pos:pos + mask.ndim]."""

    x: Dyn
    mask: Dyn
    pos: int

    def __bool__(self):  # (`if x[m]:` must not read as a true Python object)
        raise TypeError("the truth value of a boolean-mask selection is ambiguous")

    def __iter__(self):
        raise TypeError("a boolean-mask selection cannot be iterated")


@dataclass(eq=False)
class DynRange:
    """`range(...)` with a bound or step computed at run time."""

    start: Any
    stop: Any
    step: Any


@dataclass(eq=False)
class Enumerate:
    """`enumerate(inner, start)`, walked by `for` loops and comprehensions."""

    inner: Any
    start: Any = 0


@dataclass(eq=False)
class Zip:
    """`zip(*items)` over at least one sequence not known at compile time."""

    items: list


def is_static_scalar(v) -> bool:
    import numpy as np
    return isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)) and not isinstance(v, Dyn)


def leaves(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in leaves(t)]
    return [tree]


def contains_bottom(*trees) -> bool:
    return any(x is BOTTOM for t in trees for x in leaves(t))


def is_gast(node) -> bool:
    return isinstance(node, gast.AST)
