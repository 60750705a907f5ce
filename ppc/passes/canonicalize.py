"""canonicalize: inline non-recursive calls, fold constants, eliminate common
subexpressions, drop dead code and unused branch results, and write sums of products
as contractions.

Everything the frontend emits is pure, so an op whose results nobody reads can go, and
two ops with the same primitive, operands and attributes compute the same thing
(random ops too, since keys are explicit).
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from ..ir import Builder, Module, Op, Region, Value, clone_region, lookup, walk_ops
from ..ir.callgraph import call_graph, recursive_functions
from ..ir.types import numpy_dtype
from .manager import register_pass

FOLD_LIMIT = 1024  # largest non-uniform result that folding writes out as a literal
COMMUTATIVE = {"add", "mul", "max", "min", "and", "or", "xor", "eq", "ne", "logaddexp"}


def clone_module(module: Module) -> Module:
    from ..ir import Function
    return Module([Function(f.name, clone_region(f.body, {}), f.result_types)
                   for f in module.functions.values()])


def _attr_key(v):
    if isinstance(v, np.ndarray):
        return ("nd", v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, (tuple, list)):
        return tuple(_attr_key(x) for x in v)
    if isinstance(v, float) and v != v:
        return ("nan",)
    return (type(v).__name__, v)


class _Simplifier:
    def __init__(self, module: Module, inline: set[str]):
        self.module, self.inline = module, inline
        self.subst: dict[Value, Value] = {}
        self.consts: dict[Value, object] = {}
        self.defs: dict[Value, Op] = {}  # the op (kept) defining each value seen so far
        self.changed = False

    def resolve(self, v: Value) -> Value:
        while v in self.subst:
            v = self.subst[v]
        return v

    def region(self, region: Region, scope: dict):
        scope = dict(scope)
        out: list[Op] = []
        for op in region.ops:
            self.op(op, scope, out)
        region.ops = out

    def splice(self, body: Region, results: list[Value], scope, out):
        """Move `body`'s ops (already simplified) into `out`; its terminator's operands
        replace `results`."""
        term = body.ops[-1]
        for op in body.ops[:-1]:
            self.op(op, scope, out)
        for r, v in zip(results, term.operands):
            self.subst[r] = self.resolve(v)
        self.changed = True

    def op(self, op: Op, scope: dict, out: list[Op]):
        op.operands = [self.resolve(v) for v in op.operands]
        if op.prim == "call" and op.attrs["callee"] in self.inline:
            callee = self.module.functions[op.attrs["callee"]]
            mapping = dict(zip(callee.params, op.operands))
            body = clone_region(Region([], callee.body.ops), mapping)
            for op2 in walk_ops(body):  # the call's location is more useful than none
                op2.loc = op2.loc or op.loc
            self.splice(Region([], body.ops), op.results, scope, out)
            return
        if op.prim == "if" and self.const_value(op.operands[0]) is not None:
            taken = op.regions[0] if self.const_value(op.operands[0]) else op.regions[1]
            self.splice(taken, op.results, scope, out)
            return
        for r in op.regions:
            self.region(r, scope)
        if op.prim == "if" and self.forward_if_results(op):
            if not op.results:
                return
        if op.prim == "constant":
            self.consts[op.result] = op
        elif self.fold(op, out) or self.identity(op):
            return
        if op.prim == "reduce_sum" and self.contract(op, scope, out):
            return
        self.strength_reduce(op)
        if not op.regions and not lookup(op.prim).terminator and not lookup(op.prim).effect and op.prim != "call":
            ids = tuple(id(v) for v in op.operands)
            key = (op.prim, tuple(sorted(ids)) if op.prim in COMMUTATIVE else ids,
                   tuple(sorted((k, _attr_key(v)) for k, v in op.attrs.items())),
                   tuple(r.type for r in op.results))
            if key in scope:
                for r, prev in zip(op.results, scope[key].results):
                    self.subst[r] = prev
                self.changed = True
                return
            scope[key] = op
        out.append(op)
        for r in op.results:
            self.defs[r] = op

    def identity(self, op: Op) -> bool:
        """x * 1, 1 * x, x + 0, 0 + x, x - 0, x / 1 are x; tuple_get of make_tuple is the element;
        reshapes, broadcasts, conversions and reductions that change nothing are their operand."""
        if op.prim == "tuple_get":
            src = self.defs.get(op.operands[0])
            if src is None or src.prim != "make_tuple":
                return False
            self.subst[op.result] = src.operands[op.attrs["index"]]
            self.changed = True
            return True
        if op.prim == "dynamic_slice" and op.result.type == op.operands[0].type:
            self.subst[op.result] = op.operands[0]  # the whole array (starts clamp to zero)
            self.changed = True
            return True
        if len(op.operands) == 1 and len(op.results) == 1 and op.result.type == op.operands[0].type and (
                op.prim in ("reshape", "broadcast_in_dim", "convert")
                or (op.prim.startswith("reduce_") and not op.attrs["axes"])
                or (op.prim == "transpose" and tuple(op.attrs["perm"]) == tuple(range(len(op.attrs["perm"]))))):
            self.subst[op.result] = op.operands[0]  # a no-op: same type out as in
            self.changed = True
            return True
        if len(op.operands) != 2 or op.prim not in ("mul", "add", "sub", "div"):
            return False
        a, b = op.operands
        unit = 1 if op.prim in ("mul", "div") else 0
        if self.splat_value(b) == unit:
            keep = a
        elif op.prim in ("mul", "add") and self.splat_value(a) == unit:
            keep = b
        else:
            return False
        self.subst[op.result] = keep
        self.changed = True
        return True

    def strength_reduce(self, op: Op):
        """logaddexp(0, x) is softplus(x), which has a cheaper exact form."""
        if op.prim == "logaddexp":
            zero = [i for i, v in enumerate(op.operands) if self.splat_value(v) == 0]
            if zero:
                op.prim, op.operands = "softplus", [op.operands[1 - zero[0]]]
                self.changed = True

    def product(self, v: Value) -> Op | None:
        """The `mul` of two same-typed floating arrays, neither a constant, defining `v`."""
        op = self.defs.get(v)
        if op is None or op.prim != "mul" or not v.type.dtype.startswith(("f", "bf")):
            return None
        a, b = op.operands
        return op if a.type == b.type == v.type and a not in self.consts and b not in self.consts else None

    def holds_product(self, v: Value) -> bool:
        """Whether v is a product or a sum or difference with one among its terms (so a
        likelihood plus its support's penalty still splits down to the product)."""
        if self.product(v) is not None:
            return True
        src = self.defs.get(v)
        return src is not None and src.prim in ("add", "sub") and src.operands[0].type == src.operands[1].type \
            and any(self.holds_product(u) for u in src.operands)

    def contract(self, op: Op, scope: dict, out: list[Op]) -> bool:
        """sum(a * b) over some axes is a dot_general contracting them (the other axes
        batch it), and the sum of a sum or difference with such a product is split so that
        the product's sum is one. Why: batched, a likelihood's y * logits multiplies the
        per-chain logits by data the chains share; as a product inside a sum, XLA's CPU
        reduction fusion took the data broadcast along the chains as an operand, written out
        whole at every step, while a dot_general reads the data as it is. Measured on NUTS's
        logistic regression, 128 chains: the sampling chunk 1,079 -> 920 ms (N=10,000)."""
        axes = tuple(op.attrs["axes"])
        x = op.operands[0]
        if not axes:
            return False
        prod = self.product(x)
        if prod is not None:
            keep = tuple(i for i in range(x.type.rank) if i not in axes)
            self.replace(op, Op("dot_general", prod.operands, {"contract": (axes, axes), "batch": (keep, keep)},
                                [Value(op.result.type, op.result.hint)], loc=op.loc), scope, out)
            return True
        src = self.defs.get(x)
        if src is None or src.prim not in ("add", "sub") or not self.holds_product(x):
            return False
        sums = [self.emit(Op("reduce_sum", [v], {"axes": axes}, [Value(op.result.type)], loc=op.loc), scope, out)
                for v in src.operands]
        self.replace(op, Op(src.prim, sums, {}, [Value(op.result.type, op.result.hint)], loc=op.loc), scope, out)
        return True

    def emit(self, op: Op, scope: dict, out: list[Op]) -> Value:
        """A new op, simplified like any other; its (maybe substituted) result."""
        self.op(op, scope, out)
        return self.resolve(op.results[0])

    def replace(self, old: Op, new: Op, scope: dict, out: list[Op]):
        self.subst[old.results[0]] = self.emit(new, scope, out)
        self.changed = True

    def splat_value(self, v: Value):
        op = self.consts.get(v)
        if op is None or isinstance(op.attrs["value"], np.ndarray) or isinstance(op.attrs["value"], bool):
            return None
        return op.attrs["value"]

    def forward_if_results(self, op: Op) -> bool:
        """Results an `if` computes trivially: the same value from both branches, or
        true/false (the predicate itself)."""
        (then_y, else_y), pred = (r.ops[-1].operands for r in op.regions), op.operands[0]
        keep, changed = [], False
        for i, r in enumerate(op.results):
            a, b = then_y[i], else_y[i]
            if a is b:
                self.subst[r] = a
            elif self.const_value(a) is True and self.const_value(b) is False:
                self.subst[r] = pred
            else:
                keep.append(i)
                continue
            changed = True
        if changed:
            op.results = [op.results[i] for i in keep]
            for region in op.regions:
                region.ops[-1].operands = [region.ops[-1].operands[i] for i in keep]
            self.changed = True
        return changed

    def const_value(self, v: Value):
        op = self.consts.get(v)
        if op is None or op.attrs["shape"] != ():
            return None
        return op.attrs["value"]

    def fold(self, op: Op, out: list[Op]) -> bool:
        prim = lookup(op.prim)
        if prim.fold is None or len(op.results) != 1 or not all(v in self.consts for v in op.operands):
            return False
        args = [_const_array(self.consts[v]) for v in op.operands]
        try:
            with np.errstate(all="ignore"):
                value = np.asarray(prim.fold(*args, **op.attrs))
        except Exception:
            return False
        t = op.result.type
        value = value.astype(numpy_dtype(t.dtype))
        if value.shape != t.shape:
            return False
        uniform = value.size > 0 and (value == value.flat[0]).all()
        if not uniform and value.size > FOLD_LIMIT:
            return False
        b = Builder(Region(), op.loc)
        new = b.constant(value, t, op.result.hint)
        const_op = b.region.ops[0]
        self.subst[op.result] = new
        self.consts[new] = const_op
        out.append(const_op)
        self.changed = True
        return True


def _const_array(op: Op) -> np.ndarray:
    v = op.attrs["value"]
    if isinstance(v, np.ndarray):
        return v
    return np.full(op.attrs["shape"], v, dtype=numpy_dtype(op.attrs["dtype"]))


def _dce(region: Region, live: set[Value]) -> bool:
    """Drop ops whose results are unused (and unused `if` results); returns whether
    anything changed. `live` collects the values this region reads."""
    changed = False
    kept = []
    for op in reversed(region.ops):
        prim = lookup(op.prim)
        if not prim.terminator and not prim.effect and not any(r in live for r in op.results):
            changed = True
            continue
        if op.prim == "if":
            used = [i for i, r in enumerate(op.results) if r in live]
            if len(used) < len(op.results):
                op.results = [op.results[i] for i in used]
                for r in op.regions:
                    r.ops[-1].operands = [r.ops[-1].operands[i] for i in used]
                changed = True
        if op.prim == "while":
            changed |= _drop_dead_carried(op, live)
        for r in op.regions:
            changed |= _dce(r, live)
        live.update(op.operands)
        kept.append(op)
    region.ops = kept[::-1]
    return changed


def _region_uses(op: Op) -> set[Value]:
    return {v for r in op.regions for inner in walk_ops(r) for v in inner.operands}


def _slice_uses(region: Region, needed: set[Value]) -> set[Value]:
    """Values the computation of `needed` (within `region`) reads."""
    needed = set(needed)
    for op in reversed(region.ops[:-1]):
        if any(r in needed for r in op.results):
            needed.update(op.operands)
            needed |= _region_uses(op)
    return needed


def _drop_dead_carried(op: Op, live: set[Value]) -> bool:
    """Loop-carried values needed neither after the loop, nor by its condition, nor to
    compute a needed carried value are dead, however they feed themselves."""
    cond, body = op.regions
    body_yield = body.ops[-1]
    cond_uses = {v for inner in walk_ops(cond) for v in inner.operands}
    keep = {k for k, r in enumerate(op.results) if r in live or cond.params[k] in cond_uses}
    if op.attrs.get("trip_count") is not None:
        keep.add(0)  # the counter of a counted loop
    while True:
        uses = _slice_uses(body, {body_yield.operands[k] for k in keep})
        more = {k for k, p in enumerate(body.params) if p in uses} - keep
        if not more:
            break
        keep |= more
    if len(keep) == len(op.results):
        return False
    keep = sorted(keep)
    op.operands = [op.operands[k] for k in keep]
    op.results = [op.results[k] for k in keep]
    cond.params = [cond.params[k] for k in keep]
    body.params = [body.params[k] for k in keep]
    body_yield.operands = [body_yield.operands[k] for k in keep]
    return True


def prune_functions(module: Module) -> Module:
    g = call_graph(module)
    keep = nx.descendants(g, module.entry.name) | {module.entry.name}
    return Module([f for n, f in module.functions.items() if n in keep])


@register_pass("canonicalize")
def canonicalize(module: Module) -> Module:
    m = clone_module(module)
    recursive = recursive_functions(m)
    # callees first, so each inlined body is already simplified
    cond = nx.condensation(call_graph(m))
    names_in_order = [n for c in reversed(list(nx.topological_sort(cond))) for n in cond.nodes[c]["members"]]
    inline = set(m.functions) - recursive - {m.entry.name}
    for name in names_in_order:
        fn = m.functions[name]
        for _ in range(8):
            s = _Simplifier(m, inline)
            s.region(fn.body, {})
            changed = _dce(fn.body, set()) or s.changed
            if not changed:
                break
    return prune_functions(m)
