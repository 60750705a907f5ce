"""What `for` loops and comprehensions walk: tuples, lists, ranges and arrays, and
`enumerate`/`zip` of them nested in any way.

A walk over values known at compile time lists its items (the loop is unrolled). Any
other walk is indexed: it has a length (static, or traced for a range with traced bounds)
and gives its item at a counter, static or traced, so that a loop over it lowers to one
`while` counting from 0. An indexed walk that takes part of a tuple or list is unrolled
too, as the tuple's items may be any Python objects, which a traced counter cannot pick.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gast

from .arrays import describe
from .values import BOTTOM, Dyn, DynRange, Enumerate, Zip

STATIC_SEQUENCES = (tuple, list, str, range)


@dataclass
class Indexed:
    length: Any  # int, or a traced integer scalar
    item: Callable  # counter (int or traced) -> the item there
    unroll: bool  # it takes part of a tuple or list: walk it at compile time


def static_items(seq) -> list | None:
    """The items of `seq` when they are known at compile time, else None."""
    if isinstance(seq, STATIC_SEQUENCES):
        return list(seq)
    if isinstance(seq, Enumerate):
        inner = static_items(seq.inner)
        return None if inner is None else list(enumerate(inner, seq.start))
    if isinstance(seq, Zip):
        parts = [static_items(x) for x in seq.items]
        return None if any(p is None for p in parts) else list(zip(*parts))
    return None


def indexed(lw, seq, node) -> Indexed:
    """`seq` as an indexed walk (see the module's docstring)."""
    if seq is BOTTOM:  # a recursive call's result while its type is inferred: unknown items
        return Indexed(1, lambda k: BOTTOM, False)
    if isinstance(seq, Dyn):
        if not seq.shape:
            lw.error("cannot iterate over a 0-d array", node=node)
        return Indexed(seq.shape[0], lambda k: lw.index(seq, k), False)
    if isinstance(seq, range):
        return Indexed(len(seq), lambda k: _affine(lw, seq.start, k, seq.step), False)
    if isinstance(seq, (tuple, list, str)):
        return Indexed(len(seq), lambda k: seq[k], True)
    if isinstance(seq, DynRange):
        return _dyn_range(lw, seq, node)
    if isinstance(seq, Enumerate):
        inner = indexed(lw, seq.inner, node)
        return Indexed(inner.length, lambda k: (lw.binop(gast.Add(), k, seq.start), inner.item(k)), inner.unroll)
    if isinstance(seq, Zip):
        parts = [indexed(lw, x, node) for x in seq.items]
        length = parts[0].length
        for p in parts[1:]:
            both_static = isinstance(length, int) and isinstance(p.length, int)
            length = min(length, p.length) if both_static else lw.elementwise("min", length, p.length)
        return Indexed(length, lambda k: tuple(p.item(k) for p in parts), any(p.unroll for p in parts))
    lw.error(f"cannot iterate over {describe(seq)}",
             "iterate over range(...), an array, a tuple, enumerate(...) or zip(...)", node)


def items_at_compile_time(lw, seq, node, why: str) -> list:
    """Every item of `seq`, for walks that must be unrolled (`why` says which)."""
    items = static_items(seq)
    return items if items is not None else unrolled_items(lw, indexed(lw, seq, node), seq, node, why)


def unrolled_items(lw, walk: Indexed, seq, node, why: str) -> list:
    if isinstance(walk.length, Dyn):
        lw.error(f"{why} needs a length known at compile time, got {describe(seq)}",
                 "use a for loop, or bounds known at compile time", node)
    return [walk.item(k) for k in range(walk.length)]


def _dyn_range(lw, r: DynRange, node) -> Indexed:
    """A range with traced bounds inside enumerate/zip: its length is computed at run time."""
    if not isinstance(r.step, int):
        lw.error("a range() with a step computed at run time cannot be walked inside enumerate() or zip()",
                 "give the range a step known at compile time", node)
    if r.step == 0:
        lw.error("range() step must not be zero", node=node)
    sign = 1 if r.step > 0 else -1
    span = lw.binop(gast.Add(), lw.binop(gast.Sub(), r.stop, r.start), r.step - sign)
    length = lw.elementwise("max", lw.binop(gast.FloorDiv(), span, r.step), 0)
    return Indexed(length, lambda k: _affine(lw, r.start, k, r.step), False)


def _affine(lw, start, k, step):
    """start + k * step, without ops for a start of 0 or a step of 1."""
    scaled = k if isinstance(step, int) and step == 1 else lw.binop(gast.Mult(), k, step)
    return scaled if isinstance(start, int) and start == 0 else lw.binop(gast.Add(), start, scaled)
