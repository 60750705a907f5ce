"""Checks the IR's invariants: SSA (defined once, defined before use, in scope), types
(every op's results agree with its shape rule), and region structure (terminators,
if/while/call signatures)."""
from __future__ import annotations

import numpy as np

from .core import Function, Module, Op, Region, Value
from .registry import MissingRule, ShapeError, infer_types, lookup
from .types import TensorType, numpy_dtype


class VerifyError(Exception):
    pass


def _types(values) -> list:
    return [v.type for v in values]


class _Verifier:
    def __init__(self, module: Module):
        self.module = module
        self.defined: set[Value] = set()

    def fail(self, fn: Function, msg: str):
        raise VerifyError(f"in @{fn.name}: {msg}")

    def define(self, fn, v: Value, scope: set):
        if v in self.defined:
            self.fail(fn, f"value {v!r} is defined more than once")
        self.defined.add(v)
        scope.add(v)

    def function(self, fn: Function):
        self.defined = set()
        term = self.region(fn, fn.body, set(), terminator="return")
        if _types(term.operands) != fn.result_types:
            self.fail(fn, f"returns {_types(term.operands)} but is declared to return {fn.result_types}")

    def region(self, fn, region: Region, outer: set, terminator: str) -> Op:
        scope = set(outer)
        for p in region.params:
            self.define(fn, p, scope)
        if not region.ops or region.ops[-1].prim != terminator:
            self.fail(fn, f"region does not end in '{terminator}'")
        for i, op in enumerate(region.ops):
            if lookup(op.prim).terminator and i != len(region.ops) - 1:
                self.fail(fn, f"'{op.prim}' in the middle of a region")
            for v in op.operands:
                if v not in scope:
                    self.fail(fn, f"operand {v!r} of '{op.prim}' is not defined before use in scope")
            self.op(fn, op, scope)
            for r in op.results:
                self.define(fn, r, scope)
        return region.ops[-1]

    def op(self, fn, op: Op, scope: set):
        prim = lookup(op.prim)
        if len(op.regions) != len(prim.regions) and not prim.variadic_regions:
            self.fail(fn, f"'{op.prim}' needs {len(prim.regions)} regions, has {len(op.regions)}")
        check = getattr(self, "check_" + op.prim, None)
        if check:
            check(fn, op, scope)
        elif prim.infer is not None:
            try:
                expected = infer_types(op.prim, _types(op.operands), op.attrs)
            except (ShapeError, MissingRule, TypeError, KeyError, IndexError) as e:
                self.fail(fn, f"'{op.prim}' rejects its operands: {e}")
            if expected != _types(op.results):
                self.fail(fn, f"'{op.prim}' results typed {_types(op.results)}, rule says {expected}")

    def check_constant(self, fn, op, scope):
        t = op.result.type
        value = op.attrs.get("value")
        if not isinstance(t, TensorType) or (op.attrs.get("shape"), op.attrs.get("dtype")) != (t.shape, t.dtype):
            self.fail(fn, f"constant attributes disagree with its type {t}")
        if isinstance(value, np.ndarray):
            if value.shape != t.shape or value.dtype != numpy_dtype(t.dtype):
                self.fail(fn, f"constant array {value.dtype}{list(value.shape)} does not match {t}")
        elif not isinstance(value, (bool, int, float)):
            self.fail(fn, f"constant value {value!r} is neither a scalar nor an array")

    def check_if(self, fn, op, scope):
        if len(op.operands) != 1 or op.operands[0].type != TensorType((), "bool"):
            self.fail(fn, "'if' needs one bool[] predicate")
        for region in op.regions:
            if region.params:
                self.fail(fn, "'if' regions take no parameters")
            term = self.region(fn, region, scope, "yield")
            if _types(term.operands) != _types(op.results):
                self.fail(fn, f"'if' branch yields {_types(term.operands)}, op results are {_types(op.results)}")

    def check_switch(self, fn, op, scope):
        if len(op.operands) != 1 or op.operands[0].type not in (TensorType((), "i32"), TensorType((), "i64")):
            self.fail(fn, "'switch' needs one integer index")
        if not op.regions:
            self.fail(fn, "'switch' needs at least one case")
        for region in op.regions:
            if region.params:
                self.fail(fn, "'switch' cases take no parameters")
            term = self.region(fn, region, scope, "yield")
            if _types(term.operands) != _types(op.results):
                self.fail(fn, f"'switch' case yields {_types(term.operands)}, op results are {_types(op.results)}")

    def check_while(self, fn, op, scope):
        carried = _types(op.operands)
        cond, body = op.regions
        for region, what in ((cond, "cond"), (body, "body")):
            if _types(region.params) != carried:
                self.fail(fn, f"'while' {what} parameters {_types(region.params)} differ from carried {carried}")
        term = self.region(fn, cond, scope, "yield")
        if _types(term.operands) != [TensorType((), "bool")]:
            self.fail(fn, "'while' cond must yield one bool[]")
        term = self.region(fn, body, scope, "yield")
        if _types(term.operands) != carried or _types(op.results) != carried:
            self.fail(fn, f"'while' body yields {_types(term.operands)}, carried values are {carried}")
        trip = op.attrs.get("trip_count")
        if trip is not None and (not isinstance(trip, int) or trip < 0):
            self.fail(fn, f"'while' trip_count must be a non-negative int, got {trip!r}")

    def check_call(self, fn, op, scope):
        callee = self.module.functions.get(op.attrs.get("callee"))
        if callee is None:
            self.fail(fn, f"call to unknown function @{op.attrs.get('callee')}")
        if _types(op.operands) != _types(callee.params) or _types(op.results) != callee.result_types:
            self.fail(fn, f"call @{callee.name} does not match its signature")

    def check_yield(self, fn, op, scope):
        pass  # checked by the enclosing op

    check_return = check_yield


def verify(module: Module) -> None:
    """Raise VerifyError describing the first broken invariant."""
    if not module.functions:
        raise VerifyError("module has no functions")
    v = _Verifier(module)
    for fn in module.functions.values():
        v.function(fn)
