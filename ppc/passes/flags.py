"""Limit flags raised anywhere in a program, made results of its entry.

Two run-time limits can make a compiled result wrong, and each is a flag checked after
the call: a gradient that records a `while` loop is wrong where the loop ran past the
iterations recorded (`max_iterations`), and a program-counter batch is wrong where its
recursion ran past its stacks (`max_stack_depth`). Called from compiled code, such a
function's flag is raised (`limit_flag`, an op with no results, its `limit` naming which)
where the call is, which may be deep inside branches, loops and functions; so is the
flag of a `while` loop inside a recursive function's VJP (ad/recursion.py).
`thread_flags` makes each raise a value again, one per limit: a branch yields its flags
as more results, a loop carries them (or-ed over iterations, and stops once one is
raised: its results are wrong anyway, and a loop waiting on them might never end), a
function returns them,
and the entry returns the or of each limit's flags last, in the order of their names, for
the caller of the compiled program to check (api._check_flags).
"""
from __future__ import annotations

from ..ir import CompileError, Module, Op, Region, TensorType, Value, walk_ops
from .canonicalize import clone_module

FLAG = "limit_flag"
LOOP = "max_iterations"  # a gradient's recorded while loop ran past its slots
BOOL = TensorType((), "bool")


def stack_limit(depth: int) -> str:
    """The limit of a program-counter batch whose stacks hold `depth` frames."""
    return f"max_stack_depth={depth}"


def thread_flags(module: Module) -> tuple[Module, tuple[str, ...]]:
    """(module, limits): the entry returns one flag per limit last, when anything raises
    one (a changed copy; the module given is left as it is)."""
    raising = _raising(module)
    if not raising:
        return module, ()
    module = clone_module(module)
    for name, limits in raising.items():
        fn = module.functions[name]
        flags = _region(fn.body, raising)
        ret = fn.body.ops[-1]
        ret.operands.extend(flags.get(k) or _false(fn.body, len(fn.body.ops) - 1) for k in limits)
        fn.result_types = fn.result_types + [BOOL] * len(limits)
    return module, raising.get(module.entry.name, ())


def _raising(module: Module) -> dict[str, tuple[str, ...]]:
    """The limits each function raises, itself or in a function it calls (recursion
    included); functions that raise none are left out."""
    calls = {n: {op.attrs["callee"] for op in walk_ops(f.body) if op.prim == "call"}
             for n, f in module.functions.items()}
    limits = {n: {op.attrs["limit"] for op in walk_ops(f.body) if op.prim == FLAG} for n, f in module.functions.items()}
    grown = True
    while grown:
        grown = False
        for n, cs in calls.items():
            more = set().union(*(limits[c] for c in cs)) - limits[n]
            if more:
                limits[n] |= more
                grown = True
    return {n: tuple(sorted(ks)) for n, ks in limits.items() if ks}


def _region(region: Region, raising: dict[str, tuple[str, ...]]) -> dict[str, Value]:
    """Remove the raises of `region` (its nested regions threaded first); per limit, the
    or of its flags, defined before the region's terminator."""
    flags: dict[str, list[Value]] = {}
    ops = []
    for op in region.ops[:-1]:
        if op.prim == FLAG:
            flags.setdefault(op.attrs["limit"], []).append(op.operands[0])
            continue
        if op.prim == "call" and op.attrs["callee"] in raising:
            for k in raising[op.attrs["callee"]]:
                op.results.append(Value(BOOL, "overflow"))
                flags.setdefault(k, []).append(op.results[-1])
        elif op.prim == "if":
            inner = [_region(r, raising) for r in op.regions]
            for k in sorted(set().union(*inner)):
                for r, f in zip(op.regions, inner):
                    r.ops[-1].operands.append(f.get(k) or _false(r, len(r.ops) - 1))
                op.results.append(Value(BOOL, "overflow"))
                flags.setdefault(k, []).append(op.results[-1])
        elif op.prim == "while":
            cond, body = op.regions
            if _region(cond, raising):
                raise CompileError("a loop condition calls a function with a run-time limit (a gradient that records "
                                   "a while loop, or a program-counter batch), whose check has nowhere to go", op.loc,
                                   "compute it in the loop body, before the test")
            inner = _region(body, raising)
            raised = []
            for k in sorted(inner):
                acc = Value(BOOL, "overflow")
                body.params.append(acc)
                cond.params.append(Value(BOOL, "overflow"))
                raised.append(cond.params[-1])
                body.ops.insert(len(body.ops) - 1, Op("or", [acc, inner[k]], {}, [Value(BOOL, "overflow")], [], op.loc))
                body.ops[-1].operands.append(body.ops[-2].results[0])
                ops.append(_false_op())
                op.operands.append(ops[-1].results[0])
                op.results.append(Value(BOOL, "overflow"))
                flags.setdefault(k, []).append(op.results[-1])
            if raised and op.attrs.get("trip_count") is None:
                _stop_when_raised(cond, raised, op.loc)
        ops.append(op)
    out = {k: _any(vs, ops.append) for k, vs in flags.items()}
    region.ops = ops + region.ops[-1:]
    return out


def _any(flags: list[Value], emit, loc=None) -> Value:
    """The or of `flags`, its ops handed to `emit` in order."""
    flag = flags[0]
    for f in flags[1:]:
        op = Op("or", [flag, f], {}, [Value(BOOL, "overflow")], [], loc)
        emit(op)
        flag = op.results[0]
    return flag


def _stop_when_raised(cond: Region, raised: list[Value], loc):
    """A loop whose body raised a flag stops: its results are wrong, so none is returned,
    and a loop waiting on them (`while True` until a batch's result is large enough) might
    never end. (A loop with a static trip count ends anyway.)"""
    yield_ = cond.ops[-1]

    def emit(op):
        cond.ops.insert(len(cond.ops) - 1, op)
    calm = Value(BOOL)
    emit(Op("not", [_any(raised, emit, loc)], {}, [calm], [], loc))
    going = Value(BOOL, "going")
    emit(Op("and", [yield_.operands[0], calm], {}, [going], [], loc))
    yield_.operands[0] = going


def _false_op() -> Op:
    return Op("constant", [], {"value": False, "shape": (), "dtype": "bool"}, [Value(BOOL)])


def _false(region: Region, at: int) -> Value:
    region.ops.insert(at, _false_op())
    return region.ops[at].results[0]
