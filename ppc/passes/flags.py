"""Loop-limit flags raised anywhere in a program, made one result of its entry.

A gradient that records a `while` loop has a flag result: true where the loop ran past
the iterations recorded, so that its derivative is wrong. Called from compiled code, the
flag is raised (`loop_limit`, an op with no results) where the call is, which may be deep
inside branches, loops and functions; so is the flag of a `while` loop inside a recursive
function's VJP (ad/recursion.py). `thread_flags` makes each raise a value again: a
branch yields its flag as one more result, a loop carries it (or-ed over iterations), a
function returns it, and the entry returns the or of them all last, for the caller of
the compiled program to check, as it checks a gradient's own flag.
"""
from __future__ import annotations

from ..ir import CompileError, Module, Op, Region, TensorType, Value, walk_ops
from .canonicalize import clone_module

FLAG = "loop_limit"
BOOL = TensorType((), "bool")


def thread_flags(module: Module) -> tuple[Module, bool]:
    """(module, flagged): the entry returns the flag last when anything raises one (a
    changed copy; the module given is left as it is)."""
    raising = _raising(module)
    if not raising:
        return module, False
    module = clone_module(module)
    for name in raising:
        fn = module.functions[name]
        flag = _region(fn.body, raising) or _false(fn.body, len(fn.body.ops) - 1)
        fn.body.ops[-1].operands.append(flag)
        fn.result_types = fn.result_types + [BOOL]
    return module, module.entry.name in raising


def _raising(module: Module) -> set[str]:
    """The functions that raise a flag or call one that does (recursion included)."""
    calls = {n: {op.attrs["callee"] for op in walk_ops(f.body) if op.prim == "call"}
             for n, f in module.functions.items()}
    raising = {n for n, f in module.functions.items() if any(op.prim == FLAG for op in walk_ops(f.body))}
    grown = True
    while grown:
        more = {n for n, cs in calls.items() if cs & raising} - raising
        raising |= more
        grown = bool(more)
    return raising


def _region(region: Region, raising: set[str]) -> Value | None:
    """Remove the raises of `region` (its nested regions threaded first); the or of its
    flags, defined before its terminator, or None."""
    flags, ops = [], []
    for op in region.ops[:-1]:
        if op.prim == FLAG:
            flags.append(op.operands[0])
            continue
        if op.prim == "call" and op.attrs["callee"] in raising:
            op.results.append(Value(BOOL, "overflow"))
            flags.append(op.results[-1])
        elif op.prim == "if":
            inner = [_region(r, raising) for r in op.regions]
            if any(f is not None for f in inner):
                for r, f in zip(op.regions, inner):
                    r.ops[-1].operands.append(f or _false(r, len(r.ops) - 1))
                op.results.append(Value(BOOL, "overflow"))
                flags.append(op.results[-1])
        elif op.prim == "while":
            cond, body = op.regions
            if _region(cond, raising) is not None:
                raise CompileError("a loop condition calls a gradient that records a while loop, whose loop-limit "
                                   "check has nowhere to go", op.loc, "compute it in the loop body, before the test")
            inner = _region(body, raising)
            if inner is not None:
                acc = Value(BOOL, "overflow")
                body.params.append(acc)
                cond.params.append(Value(BOOL, "overflow"))
                body.ops.insert(len(body.ops) - 1, Op("or", [acc, inner], {}, [Value(BOOL, "overflow")], [], op.loc))
                body.ops[-1].operands.append(body.ops[-2].results[0])
                init = Value(BOOL)
                ops.append(Op("constant", [], {"value": False, "shape": (), "dtype": "bool"}, [init]))
                op.operands.append(init)
                op.results.append(Value(BOOL, "overflow"))
                flags.append(op.results[-1])
        ops.append(op)
    if not flags:
        region.ops = ops + region.ops[-1:]
        return None
    flag = flags[0]
    for f in flags[1:]:
        out = Value(BOOL, "overflow")
        ops.append(Op("or", [flag, f], {}, [out]))
        flag = out
    region.ops = ops + region.ops[-1:]
    return flag


def _false(region: Region, at: int) -> Value:
    v = Value(BOOL)
    region.ops.insert(at, Op("constant", [], {"value": False, "shape": (), "dtype": "bool"}, [v]))
    return v
