"""The context object derivative rules receive: an insertion point plus arithmetic that
treats None as a symbolic zero (so rules never materialise zeros they do not need)."""
from __future__ import annotations

from ...ir import Builder, CompileError, MissingRule, Op, TensorType, TupleType, Value, lookup, rule


class Cx:
    def __init__(self, b: Builder):
        self.b = b

    def op(self, prim: str, operands, **attrs) -> Value:
        return self.b.op(prim, list(operands), **attrs)

    def full(self, value, type: TensorType) -> Value:
        return self.b.constant(value, type)

    def zeros(self, type) -> Value:
        if isinstance(type, TupleType):
            return self.op("make_tuple", [self.zeros(t) for t in type.elements])
        return self.full(0, type)

    def add(self, a, b):
        if a is None:
            return b
        if b is None:
            return a
        if isinstance(a.type, TupleType):  # cotangents of tuples add element by element
            return self.op("make_tuple", [self.add(self.op("tuple_get", [a], index=i), self.op("tuple_get", [b], index=i))
                                          for i in range(len(a.type.elements))])
        return self.op("add", [a, b])

    def sub(self, a, b):
        if b is None:
            return a
        if a is None:
            return self.neg(b)
        return self.op("sub", [a, b])

    def neg(self, a):
        return None if a is None else self.op("neg", [a])

    def mul(self, a, b):
        if a is None or b is None:
            return None
        return self.op("mul", [a, b])

    def div(self, a, b):
        return None if a is None else self.op("div", [a, b])


_DOING = {"jvp": "differentiate", "transpose": "transpose", "batch": "batch"}


def rule_for(op: Op, stage: str):
    """The registry's rule, or a CompileError at the op's source line naming primitive
    and stage (a program using a primitive without the rule cannot be transformed so)."""
    try:
        return rule(op.prim, stage)
    except MissingRule as e:
        if lookup(op.prim).internal:  # (compiled code calling a program-counter batch runs its machine)
            raise CompileError(f"cannot {_DOING[stage]} this program: it calls a program-counter batched function, "
                               f"whose machine has no {stage} rules ({e})", op.loc, _MACHINE_HINT[stage]) from None
        raise CompileError(f"cannot {_DOING[stage]} this program: {e}", op.loc) from None


_MACHINE_HINT = {
    "jvp": "differentiate the function before batching it: ppc.autobatch(ppc.grad(f))",
    "transpose": "differentiate the function before batching it: ppc.autobatch(ppc.grad(f))",
    "batch": "batch the whole computation once: ppc.autobatch of the unbatched function, which may call f",
}


def free_values(region) -> set[Value]:
    """Values a region reads but does not define (captured from enclosing scopes)."""
    defined, used = set(region.params), set()

    def visit(r):
        defined.update(r.params)
        for op in r.ops:
            used.update(op.operands)
            for inner in op.regions:
                visit(inner)
            defined.update(op.results)
    visit(region)
    return used - defined


def dependents(region, seeds: set, arity=None) -> set:
    """`seeds` plus every value in `region` computed from them (through nested regions;
    loop-carried values to a fixpoint). In a JVP program seeded with the tangent
    inputs these are the values linear in the tangents. `arity(callee)` gives, for the
    JVP of a recursive function, (primal parameters, primal results): the primal results
    of such a call depend on its primal operands only."""
    s = seeds
    for op in region.ops:
        if op.prim == "while":
            cond, body = op.regions
            flags = [v in s for v in op.operands]
            while True:
                for params in (cond.params, body.params):
                    s.update(p for p, f in zip(params, flags) if f)
                dependents(cond, s, arity)
                dependents(body, s, arity)
                grown = [f or y in s for f, y in zip(flags, body.ops[-1].operands)]
                if grown == flags:
                    break
                flags = grown
            s.update(r for r, f in zip(op.results, flags) if f)
        elif op.prim == "if":
            for r in op.regions:
                dependents(r, s, arity)
            s.update(res for i, res in enumerate(op.results)
                     if any(r.ops[-1].operands[i] in s for r in op.regions))
        elif op.prim == "call" and arity is not None and arity(op.attrs["callee"]) is not None:
            n_params, n_results = arity(op.attrs["callee"])
            if any(v in s for v in op.operands[:n_params]):
                s.update(op.results)
            elif any(v in s for v in op.operands):
                s.update(op.results[n_results:])
        elif any(v in s for v in op.operands):
            s.update(op.results)
    return s
