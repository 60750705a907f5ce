"""The IR records: a handful of slots each, in the spirit of a jaxpr.

A `Module` holds `Function`s (the first one is the entry point). A function has typed
parameters and one `Region`. A region is a list of `Op`s with optional parameters
(block arguments, used by loop regions) and ends in a terminator (`return` at function
level, `yield` inside control flow). An op names a primitive from the registry.
Values are defined exactly once and compared by identity; `hint` is the source
variable name, kept so dumps read like the source.
"""
from __future__ import annotations

from typing import Any, Iterator

from .diagnostics import SourceLoc
from .types import Type


class Value:
    __slots__ = ("type", "hint")

    def __init__(self, type: Type, hint: str | None = None):
        self.type, self.hint = type, hint

    def __repr__(self):
        return f"Value({self.hint or '?'}: {self.type})"


class Op:
    __slots__ = ("prim", "operands", "attrs", "results", "regions", "loc")

    def __init__(self, prim: str, operands, attrs: dict[str, Any] | None, results,
                 regions=(), loc: SourceLoc | None = None):
        self.prim = prim
        self.operands: list[Value] = list(operands)
        self.attrs: dict[str, Any] = dict(attrs or {})
        self.results: list[Value] = list(results)
        self.regions: list[Region] = list(regions)
        self.loc = loc

    @property
    def result(self) -> Value:
        assert len(self.results) == 1, f"{self.prim} has {len(self.results)} results"
        return self.results[0]

    def __repr__(self):
        return f"Op({self.prim}, {len(self.operands)} operands, {len(self.results)} results)"


class Region:
    __slots__ = ("params", "ops")

    def __init__(self, params=(), ops=()):
        self.params: list[Value] = list(params)
        self.ops: list[Op] = list(ops)

    @property
    def terminator(self) -> Op:
        return self.ops[-1]


class Function:
    __slots__ = ("name", "body", "result_types")

    def __init__(self, name: str, body: Region, result_types):
        self.name, self.body = name, body
        self.result_types: list[Type] = list(result_types)

    @property
    def params(self) -> list[Value]:
        return self.body.params


class Module:
    __slots__ = ("functions",)

    def __init__(self, functions=()):
        self.functions: dict[str, Function] = {f.name: f for f in functions}

    @property
    def entry(self) -> Function:
        return next(iter(self.functions.values()))

    def __eq__(self, other):
        return isinstance(other, Module) and modules_equal(self, other)

    __hash__ = None

    def __str__(self):
        from .printer import print_module
        return print_module(self)


def walk_ops(region: Region) -> Iterator[Op]:
    """Every op in a region and, depth first, in its nested regions."""
    for op in region.ops:
        yield op
        for r in op.regions:
            yield from walk_ops(r)


def clone_region(region: Region, mapping: dict[Value, Value]) -> Region:
    """A deep copy of `region` with fresh values; `mapping` (old -> new) is extended and
    also supplies replacements for values defined outside the region."""
    params = []
    for p in region.params:
        mapping[p] = Value(p.type, p.hint)
        params.append(mapping[p])
    ops = []
    for op in region.ops:
        regions = [clone_region(r, mapping) for r in op.regions]
        results = []
        for v in op.results:
            mapping[v] = Value(v.type, v.hint)
            results.append(mapping[v])
        ops.append(Op(op.prim, [mapping.get(v, v) for v in op.operands], op.attrs, results,
                      regions, op.loc))
    return Region(params, ops)


# --- structural equality (alpha-equivalence: values matched by position, not identity) ---

def attrs_equal(a, b) -> bool:
    import numpy as np
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and np.array_equal(a, b, equal_nan=True))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(attrs_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # nan == nan for constants
    return type(a) is type(b) and a == b


def _bind(va: list[Value], vb: list[Value], env: dict[Value, Value]) -> bool:
    if len(va) != len(vb):
        return False
    for x, y in zip(va, vb):
        if x.type != y.type or x.hint != y.hint:
            return False
        env[x] = y
    return True


def regions_equal(a: Region, b: Region, env: dict[Value, Value]) -> bool:
    if not _bind(a.params, b.params, env) or len(a.ops) != len(b.ops):
        return False
    for x, y in zip(a.ops, b.ops):
        if (x.prim != y.prim or len(x.operands) != len(y.operands)
                or any(env.get(u) is not v for u, v in zip(x.operands, y.operands))
                or x.attrs.keys() != y.attrs.keys()
                or not all(attrs_equal(x.attrs[k], y.attrs[k]) for k in x.attrs)
                or len(x.regions) != len(y.regions)
                or not all(regions_equal(r, s, env) for r, s in zip(x.regions, y.regions))
                or not _bind(x.results, y.results, env)):
            return False
    return True


def modules_equal(a: Module, b: Module) -> bool:
    if list(a.functions) != list(b.functions):
        return False
    for name, fa in a.functions.items():
        fb = b.functions[name]
        if fa.result_types != fb.result_types or not regions_equal(fa.body, fb.body, {}):
            return False
    return True
