"""Lowering a Python function body (gast) to SSA IR, specialized on its argument types.

The lowering is an abstract interpreter: values known at compile time stay Python
objects and are computed as Python would; arrays become IR values. Control flow whose
condition is static runs as Python runs it; control flow on traced values becomes a
structured `if` or `while`, whose results are the variables the branches or the loop
body assign (found by merging environments, so SSA comes straight from the AST).

`break`, `continue` and `return` set flag variables (`<brk>`, `<cont>`, `<ret>`) in the
environment; statements after a possibly-taken exit are lowered under an `if` on those
flags, and loop conditions test them. Flags that are static cost nothing.
"""
from __future__ import annotations

import builtins
import functools
import inspect
import operator
import sys
from contextlib import contextmanager
from dataclasses import dataclass

import gast
import numpy as np

from ..ir import (Builder, CompileError, Function, InternalError, Module, Op, Region, ShapeError,
                  TensorType, TupleType, Value, clone_region, dtype_of_numpy, walk_ops)
from ..passes.flags import FLAG, thread_flags
from .arrays import DEFAULT, ArrayOps, describe, promote_pair, scalar_aval
from .iteration import indexed, items_at_compile_time, static_items, unrolled_items
from .source import SourceInfo, function_source
from .values import (BOTTOM, AtIndexer, BoundMethod, Closure, Dyn, DynRange, Selection, Undefined,
                     contains_bottom, is_static_scalar, leaves)

RET, RETVAL, BRK, CONT = "<ret>", "<retval>", "<brk>", "<cont>"
DEFAULT_FLOAT = DEFAULT["float"]
FLAGS = (RET, BRK, CONT)
MAX_LOOP_PASSES = 8
MAX_STATIC_RECURSION = 200


@dataclass(frozen=True)
class Slot:
    """A traced leaf of a template: the type a loop-carried value, branch result or
    function result will have."""

    type: TensorType
    weak: bool


class NeedTemplate(Exception):
    """A recursive call reached a function whose result type is still unknown."""

    def __init__(self, key):
        self.key = key


# A specialization's result template while it is still being inferred (a recursive call
# reached it); distinct from None, the template of a function that returns None.
PENDING = object()


@dataclass(eq=False)
class Spec:
    key: tuple
    name: str
    template: object = PENDING  # result tree: Slot leaves for traced results
    function: Function | None = None


@dataclass(frozen=True)
class Frame:
    """A specialization being lowered, and whether the call that started it stands under
    control flow on traced values (so that the chain of calls need not end at compile time)."""

    fn: object
    bound: dict
    traced: bool


class Context:
    """Module-wide state: one IR function per (Python function, argument signature)."""

    def __init__(self):
        self.functions: dict[str, Function] = {}
        self.specs: dict[tuple, Spec] = {}
        self.probing: set[tuple] = set()
        self.active: list[Frame] = []  # specializations in progress, outermost first
        self.top_regions: set = set()  # function bodies: where random variables may stand
        self.unnamed: dict = {}  # sample results awaiting the name they are assigned to
        self.model = False  # whether a random variable or factor was reached: a model
        self.defining: dict = {}  # result -> its op, to fold boolean masks known at compile time (masks.py)

    def fresh_name(self, base: str) -> str:
        taken = set(self.functions) | {s.name for s in self.specs.values()}
        name, k = base, 0
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        return name

    def snapshot(self):
        return dict(self.functions), dict(self.specs)

    def restore(self, snap):
        self.functions, self.specs = dict(snap[0]), dict(snap[1])


def assigned_names(stmts) -> set[str]:
    """Names a statement list may bind (not looking into nested function bodies)."""
    out = set()

    def visit(node):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            out.add(node.id)
        if isinstance(node, (gast.FunctionDef, gast.Lambda)):
            if isinstance(node, gast.FunctionDef):
                out.add(node.name)
            return
        for child in gast.iter_child_nodes(node):
            visit(child)

    for s in stmts:
        visit(s)
    return out


def has_exit(stmts, kinds) -> bool:
    """Whether a Break/Continue/Return of `kinds` can leave these statements (breaks
    and continues inside nested loops belong to those loops)."""
    def visit(node, in_loop):
        if isinstance(node, kinds) and not (in_loop and isinstance(node, (gast.Break, gast.Continue))):
            return True
        if isinstance(node, (gast.FunctionDef, gast.Lambda)):
            return False
        nested = in_loop or isinstance(node, (gast.For, gast.While))
        return any(visit(c, nested) for c in gast.iter_child_nodes(node))
    return any(visit(s, False) for s in stmts)


def _same_static(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, Dyn) or isinstance(b, Dyn) or type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same_static(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return False


def _hint(name: str) -> str:
    return name.strip("<>").split("#")[0]


class Lowerer(ArrayOps):
    def __init__(self, ctx: Context, src: SourceInfo, pyfn, builder: Builder, env: dict,
                 parent: "Lowerer | None" = None, inline_depth: int = 0):
        self.ctx, self.src, self.pyfn, self.builder = ctx, src, pyfn, builder
        self.env = env
        self.parent = parent  # lexically enclosing lowering (for closures)
        self.inline_depth = inline_depth
        self.loops = 0  # numbers hidden names (loop counters, conditional-expression results)
        self.assigned_at: dict = {}  # name -> where it was last assigned (for loop errors)
        self.loc = src.loc(src.node)
        self.fresh: set[Value] = set()

    # ---------------------------------------------------------------- basics
    def error(self, message: str, hint: str | None = None, node=None):
        raise CompileError(message, self.src.loc(node) if node is not None else self.loc, hint)

    def at(self, node):
        if hasattr(node, "lineno"):
            self.loc = self.src.loc(node)
            self.builder.loc = self.loc

    def emit(self, prim: str, operands, hint=None, **attrs) -> Value:
        try:
            v = self.builder.op(prim, operands, hint, **attrs)
        except ShapeError as e:
            self.error(str(e))
        self.ctx.defining[v] = self.builder.region.ops[-1]
        self.fresh.add(v)
        return v

    @contextmanager
    def in_region(self, region: Region):
        saved = self.builder
        self.builder = Builder(region, self.loc)
        try:
            yield
        finally:
            self.builder = saved

    # ---------------------------------------------------------------- names
    def lookup(self, name: str, node=None):
        scope = self
        while scope is not None:
            if name in scope.env:
                v = scope.env[name]
                if isinstance(v, Undefined):
                    self.error(f"'{name}' may be undefined here: {v.why}", node=node)
                return v
            scope = scope.parent
        fn = self.pyfn
        if fn is not None and name in fn.__code__.co_freevars and fn.__closure__:
            cell = fn.__closure__[fn.__code__.co_freevars.index(name)]
            try:
                return self.import_value(cell.cell_contents)
            except ValueError:
                pass
        if fn is not None and name in fn.__globals__:
            return self.import_value(fn.__globals__[name])
        if hasattr(builtins, name):
            return getattr(builtins, name)
        self.error(f"name '{name}' is not defined", node=node)

    def import_tree(self, v):
        """A Python object a functools.partial binds: as one captured from a closure, each
        array in (nested) tuples and lists too."""
        if isinstance(v, (tuple, list)):
            return type(v)(self.import_tree(x) for x in v)
        return self.import_value(v)

    def import_value(self, v):
        """A Python object captured from globals or a closure."""
        if isinstance(v, np.ndarray) or (hasattr(v, "__jax_array__") or type(v).__module__.startswith("jax")
                                         and hasattr(v, "shape") and hasattr(v, "dtype")):
            if isinstance(v, np.ndarray) and v.dtype == object:
                self.error("object arrays cannot be used in compiled code")
            return self.to_dyn(np.asarray(v))
        if isinstance(v, np.generic):
            return self.to_dyn(v)
        return v

    # ---------------------------------------------------------------- statements
    def block(self, stmts):
        for i, s in enumerate(stmts):
            self.fresh = set()
            self.stmt(s)
            state = self.exit_state()
            if state is None:
                continue
            rest = stmts[i + 1:]
            if state is True or not rest:
                return
            self.guarded(state, lambda: self.block(rest))
            return

    def exit_state(self):
        """None: no exit taken; True: an exit surely taken; Dyn: taken when true."""
        dyn = []
        for f in FLAGS:
            v = self.env.get(f, False)
            if v is True:
                return True
            if isinstance(v, Dyn):
                dyn.append(v)
        if not dyn:
            return None
        out = dyn[0]
        for d in dyn[1:]:
            out = self.elementwise("or", out, d)
        return out

    def guarded(self, taken: Dyn, rest):
        """Lower `rest` only where no exit flag is set. There no return has happened, so the
        return value so far is dead: it is not carried through `rest` (through its calls)."""
        dyn_flags = [f for f in FLAGS if isinstance(self.env.get(f), Dyn)]
        then_refine = {dyn_flags[0]: True} if len(dyn_flags) == 1 else {}
        else_refine = {f: False for f in dyn_flags}
        if RETVAL in self.env:
            else_refine[RETVAL] = _MISSING
        self.structured_if(taken, lambda: None, rest, then_refine, else_refine)

    def stmt(self, node):
        self.at(node)
        method = getattr(self, "s_" + type(node).__name__, None)
        if method is None:
            self.refuse(node)
        method(node)

    REFUSALS = {
        "Try": ("'try' statements are not supported in compiled code",
                "check conditions with if/else and return a value; errors cannot be caught in compiled code"),
        "With": ("'with' statements are not supported in compiled code", "move the 'with' outside the compiled function"),
        "ClassDef": ("class definitions are not supported in compiled code", "define classes outside the compiled function"),
        "Global": ("'global' is not supported in compiled code", "pass the value as an argument and return the new value"),
        "Nonlocal": ("'nonlocal' is not supported in compiled code", "return the new value instead of assigning an outer variable"),
        "Raise": ("'raise' is not supported in compiled code", "use assert on values known at compile time, or return a flag"),
        "Delete": ("'del' is not supported in compiled code", "simply stop using the name"),
        "Import": ("'import' inside compiled code is not supported", "import at module level"),
        "ImportFrom": ("'import' inside compiled code is not supported", "import at module level"),
        "AsyncFunctionDef": ("async functions are not supported", "use a plain 'def'"),
        "AsyncFor": ("'async for' is not supported", "use a plain 'for'"),
        "AsyncWith": ("'async with' is not supported", "move it outside the compiled function"),
        "Yield": ("generators ('yield') are not supported in compiled code", "return a tuple or an array instead"),
        "YieldFrom": ("generators ('yield from') are not supported in compiled code", "return a tuple or an array instead"),
        "Await": ("'await' is not supported in compiled code", "call compiled code from async code instead"),
        "Dict": ("dicts are not supported in compiled code", "use a tuple"),
        "DictComp": ("dict comprehensions are not supported in compiled code", "use a tuple"),
        "Set": ("sets are not supported in compiled code", "use a tuple"),
        "SetComp": ("set comprehensions are not supported in compiled code", "use a tuple"),
        "Starred": ("starred expressions are only supported as call arguments of static tuples", "unpack explicitly"),
        "JoinedStr": ("f-strings are not supported in compiled code", "strings have no run-time value in compiled code"),
        "NamedExpr": ("the walrus operator ':=' is not supported", "assign in a separate statement"),
        "Match": ("'match' statements are not supported", "use if/elif/else"),
    }

    def refuse(self, node):
        name = type(node).__name__
        msg, hint = self.REFUSALS.get(name, (f"{name} is not supported in compiled code", None))
        self.error(msg, hint, node)

    def s_Pass(self, node):
        pass

    def s_Expr(self, node):
        if isinstance(node.value, gast.Constant) and isinstance(node.value.value, str):
            return  # docstring
        self.expr(node.value)

    def s_Assign(self, node):
        value = self.expr(node.value)
        for target in node.targets:
            self.assign(target, value)

    def s_AnnAssign(self, node):
        if node.value is not None:
            self.assign(node.target, self.expr(node.value))

    def s_AugAssign(self, node):
        if not isinstance(node.target, gast.Name):
            self.refuse_store(node.target)
        current = self.lookup(node.target.id, node.target)
        self.assign(node.target, self.binop(node.op, current, self.expr(node.value)))

    def refuse_store(self, target):
        if isinstance(target, gast.Subscript):
            self.error("arrays are immutable in compiled code: item assignment is not supported",
                       "write x = x.at[i].set(v) (or .add, .mul, .min, .max)", target)
        if isinstance(target, gast.Attribute):
            self.error("attribute assignment is not supported in compiled code",
                       "keep the value in a local variable", target)
        if isinstance(target, gast.Starred):
            self.error("starred assignment is not supported", "unpack a fixed number of values", target)
        self.error(f"cannot assign to {type(target).__name__}", node=target)

    def assign(self, target, value):
        if isinstance(target, gast.Name):
            self.assigned_at[target.id] = self.src.loc(target)
            if isinstance(value, Dyn) and value.value in self.ctx.unnamed:
                self.ctx.unnamed.pop(value.value).attrs["name"] = target.id
            if isinstance(value, Dyn) and value.value in self.fresh and not target.id.startswith("_"):
                value.value.hint = target.id
            self.env[target.id] = value
        elif isinstance(target, (gast.Tuple, gast.List)):
            for t in target.elts:
                if isinstance(t, gast.Starred):
                    self.refuse_store(t)
            items = self.unpack(value, len(target.elts), target)
            for t, v in zip(target.elts, items):
                self.assign(t, v)
        else:
            self.refuse_store(target)

    def unpack(self, value, n, node):
        if value is BOTTOM:
            return [BOTTOM] * n
        if isinstance(value, (tuple, list)):
            if len(value) != n:
                self.error(f"cannot unpack {len(value)} values into {n} names", node=node)
            return list(value)
        if isinstance(value, Dyn):
            if not value.shape or value.shape[0] != n:
                self.error(f"cannot unpack an array of shape {value.shape} into {n} names", node=node)
            return [self.index(value, i) for i in range(n)]
        self.error(f"cannot unpack {describe(value)}", node=node)

    def s_Return(self, node):
        self.env[RETVAL] = None if node.value is None else self.expr(node.value)
        self.env[RET] = True

    def s_Break(self, node):
        self.env[BRK] = True

    def s_Continue(self, node):
        self.env[CONT] = True

    def s_Assert(self, node):
        test = self.expr(node.test)
        if isinstance(test, Dyn) or test is BOTTOM:
            self.error("assert on a value computed at run time is not supported",
                       "assert only on shapes and other values known at compile time")
        if not test:
            msg = self.expr(node.msg) if node.msg is not None else "assertion failed"
            self.error(f"assertion failed at compile time: {msg}")

    def s_FunctionDef(self, node):
        if node.decorator_list:
            self.error("decorators on nested functions are not supported", node=node)
        self.env[node.name] = self.closure(node)

    def s_If(self, node):
        test = self.truth(self.expr(node.test), node.test)
        if test is BOTTOM:
            test = None
        if isinstance(test, bool):
            self.block(node.body if test else node.orelse)
            return
        self.structured_if(test, lambda: self.block(node.body), lambda: self.block(node.orelse))

    # ---------------------------------------------------------------- if
    def truth(self, v, node=None):
        """A static bool, a traced bool[] or BOTTOM."""
        if v is BOTTOM:
            return BOTTOM
        if isinstance(v, Dyn):
            if v.shape != ():
                self.error(f"the truth value of an array of shape {v.shape} is ambiguous",
                           "use .any() or .all(), or jnp.where for elementwise choices", node)
            if v.dtype == "bool":
                return v
            return self.elementwise("ne", v, 0, result_kind="bool")
        if isinstance(v, Undefined):
            self.error(f"'{v.name}' may be undefined here: {v.why}", node=node)
        try:
            return bool(v)
        except Exception:
            self.error(f"cannot use {describe(v)} as a condition", node=node)

    def structured_if(self, pred, then_fn, else_fn, then_refine=None, else_refine=None):
        """Lower both branches into regions and merge the environments they leave.
        pred None means unknown (while inferring a recursive function's result)."""
        before, loc = self.env, self.loc
        branches = []
        for fn, refine in ((then_fn, then_refine), (else_fn, else_refine)):
            region = Region()
            self.env = dict(before)
            self.env.update(refine or {})
            with self.in_region(region):
                fn()
            branches.append((region, self.env))
        self.loc = self.builder.loc = loc
        (r1, e1), (r2, e2) = branches
        merged = dict(before)
        names = []
        for n in dict.fromkeys(list(e1) + list(e2)):
            a, b = e1.get(n, _MISSING), e2.get(n, _MISSING)
            if a is b:
                merged[n] = a
            else:
                names.append(n)
        # A branch that has surely returned leaves the function: after the join only its
        # flags and return value are read, its variables are dead (they take the other
        # branch's values, and the returned branch yields placeholders for them).
        dead = None
        if (e1.get(RET) is True) != (e2.get(RET) is True):
            dead = e1 if e1.get(RET) is True else e2
        plans = {n: self.join(n, e1.get(n, _MISSING), e2.get(n, _MISSING)) if dead is None or _live_after_return(n)
                 else self.live_plan(n, (e2 if dead is e1 else e1).get(n, _MISSING)) for n in names}
        dyn_names = [n for n in names if _has_slot(plans[n])]
        for n in names:
            if not _has_slot(plans[n]):
                merged[n] = plans[n]
        if dyn_names:
            yields = []
            for region, env in ((r1, e1), (r2, e2)):
                with self.in_region(region):
                    vals = []
                    for n in dyn_names:
                        v = _MISSING if env is dead and not _live_after_return(n) else env.get(n, _MISSING)
                        vals += self.materialize(plans[n], v)
                    region.ops.append(Op("yield", vals, {}, [], loc=self.loc))
                yields.append(vals)
            if pred is None:  # only inferring types: any stand-in predicate will do
                pred = self.const(True, "bool")
            results = [Value(v.type, v.hint) for v in yields[0]]
            self.builder.append(Op("if", [pred.value], {}, results, [r1, r2]))
            it = iter(results)
            for n in dyn_names:
                merged[n] = self.rebuild(plans[n], it, n)
        self.env = merged

    def live_plan(self, name, v):
        """The merge of a value with a dead one (the other path has returned): the value."""
        if v is _MISSING:
            return Undefined(_hint(name), f"it is assigned only on a path that returns, in the branch at line {self.loc.line}")
        return self.template(v)

    def join(self, name, a, b):
        """The merge of two values a name holds on two paths: a static value when both
        agree, else a template of Slots (to become op results), or Undefined."""
        if name in FLAGS:  # an exit flag not yet set on a path is false there
            a = False if a is _MISSING else a
            b = False if b is _MISSING else b
        if a is BOTTOM:
            return b if b is not _MISSING else BOTTOM
        if b is BOTTOM:
            return a if a is not _MISSING else BOTTOM
        if isinstance(a, Slot) or isinstance(b, Slot):
            a = a if isinstance(a, Slot) else self.template_leaf(a)
            b = b if isinstance(b, Slot) else self.template_leaf(b)
            if isinstance(a, Slot) and isinstance(b, Slot):
                if a.type.shape != b.type.shape:
                    return Undefined(name, f"it has shape {a.type.shape} on one path and {b.type.shape} on another")
                dt, weak = promote_pair((a.type.dtype, a.weak), (b.type.dtype, b.weak))
                return Slot(a.type.with_dtype(dt), weak)
            return a if isinstance(a, Slot) else b
        if a is _MISSING or b is _MISSING or isinstance(a, Undefined) or isinstance(b, Undefined):
            other = b if (a is _MISSING or isinstance(a, Undefined)) else a
            if name.startswith("<") and other is not _MISSING and not isinstance(other, Undefined):
                return self.template(other)  # internal names: the other path never reads it
            why = a.why if isinstance(a, Undefined) else b.why if isinstance(b, Undefined) else \
                f"it is assigned on only one path through the branch at line {self.loc.line}"
            return Undefined(name.strip("<>"), why)
        if _same_static(a, b):
            return a
        if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
            if type(a) is not type(b) or len(a) != len(b):
                return Undefined(name, "it holds sequences of different lengths on different paths")
            parts = [self.join(name, x, y) for x, y in zip(a, b)]
            for p in parts:
                if isinstance(p, Undefined):
                    return Undefined(name, p.why)
            return type(a)(parts)
        if self.is_arraylike(a) and self.is_arraylike(b):
            return self.join(name, self.template_leaf(a), self.template_leaf(b))
        if isinstance(a, Selection) or isinstance(b, Selection):
            return Undefined(name.strip("<>"), "it holds a boolean-mask selection x[mask] made in a branch, whose "
                                               "shape depends on the data; reduce it inside the branch")
        return Undefined(name.strip("<>"), "it holds different Python objects on different paths")

    def is_arraylike(self, v):
        return isinstance(v, (Dyn, Slot)) or is_static_scalar(v)

    def template_leaf(self, v):
        if isinstance(v, Slot):
            return v
        shape, dt, weak = self.aval(v)
        return Slot(TensorType(shape, dt), weak)

    def template(self, v):
        """The shape of a value as a template: arrays become Slots, numbers stay static."""
        if isinstance(v, (tuple, list)):
            return type(v)(self.template(x) for x in v)
        if isinstance(v, Dyn):
            return self.template_leaf(v)
        return v

    def materialize(self, plan, v) -> list[Value]:
        """The IR values for value `v` laid out as `plan` (in the current region)."""
        if isinstance(plan, Slot):
            if v is _MISSING or isinstance(v, Undefined) or v is BOTTOM:  # a placeholder nobody reads
                if plan.type.dtype == "key":  # keys have no zero: a fixed seed stands in
                    return [self.emit("random_seed", [self.const(0, "i64", plan.type.shape).value])]
                return [self.const(0, plan.type.dtype, plan.type.shape).value]
            d = self.to_dyn(v, plan.type.dtype)
            if d.shape != plan.type.shape:
                d = self.broadcast_to(d, plan.type.shape)
            return [d.value]
        if isinstance(plan, (tuple, list)):
            items = v if isinstance(v, (tuple, list)) else [_MISSING] * len(plan)
            return [x for p, item in zip(plan, items) for x in self.materialize(p, item)]
        return []

    def rebuild(self, plan, results, name):
        if isinstance(plan, Slot):
            v = next(results)
            if v.hint is None:
                v.hint = _hint(name)
            return Dyn(v, plan.weak)
        if isinstance(plan, (tuple, list)):
            return type(plan)(self.rebuild(p, results, name) for p in plan)
        return plan

    # ---------------------------------------------------------------- loops
    def s_While(self, node):
        if node.orelse:
            self.error("'while ... else' is not supported", "use a flag variable", node)
        cands = assigned_names(node.body)
        self.loop(cands, node.body, lambda: self.expr(node.test), lambda: self.block(node.body),
                  forever=_is_true_constant(node.test))

    def loop(self, candidates, body_stmts, cond_fn, body_fn, trip_count=None, forever=False):
        """Lower a loop to `while`. The carried values are the names the body assigns
        that exist before it (plus exit flags); their types are found by lowering the body
        until they stop changing (a weak int that meets a float becomes a float)."""
        candidates = set(candidates)
        may_break = has_exit(body_stmts, gast.Break)
        may_return = has_exit(body_stmts, gast.Return)
        if may_break:
            candidates.add(BRK)
        if may_return:
            candidates |= {RET, RETVAL}
        if may_break or may_return:
            trip_count = None
        before, loc = self.env, self.loc
        init = dict(before)
        if may_break:
            init[BRK] = False
        if may_return:
            init.setdefault(RET, False)
        plan = {}
        rebound = {}  # names the body rebinds to another shape -> where
        for n in sorted(candidates):
            v = init.get(n, _MISSING)
            if v is _MISSING or isinstance(v, Undefined):
                continue
            if isinstance(v, Selection):  # (not carried: the body's would be lost)
                from .masks import HINT
                raise CompileError(f"loop variable '{_hint(n)}' holds a boolean-mask selection x[mask]: boolean-"
                                   "mask indexing is not supported here, as its shape depends on the data, so it "
                                   "cannot be carried through a loop; only reductions of it are supported",
                                   self.assigned_at.get(n, self.loc), HINT)
            t = self.loop_template(n, v)
            if t is not None:
                plan[n] = t
        for _ in range(MAX_LOOP_PASSES):
            names = list(plan)
            cond_region, cond_env = self.loop_region(before, plan)
            body_region, body_env = self.loop_region(before, plan)
            with self.in_region(cond_region):
                self.env = cond_env
                self.loc = self.builder.loc = loc
                c = self.truth(cond_fn())
                for f in (BRK, RET):
                    if f in plan:
                        c = self.logical_and(c, self.logical_not(self.env[f]))
                if c is BOTTOM:
                    c = True
                cv = self.to_dyn(c).value if not isinstance(c, Dyn) else c.value
                cond_region.ops.append(Op("yield", [cv], {}, []))
            with self.in_region(body_region):
                self.env = body_env
                self.env[CONT] = False
                if BRK in plan:
                    self.env[BRK] = False
                if RET in plan:
                    self.env[RET] = False
                try:
                    body_fn()
                except CompileError:
                    if rebound:  # the body does read the old value: a real change of shape
                        self.raise_rebound(rebound, next(iter(rebound)))
                    raise
                out = self.env
                self.env.pop(CONT, None)
                # a body that surely returns leaves the loop and the function: the values
                # it carries are dead (placeholders), except the flags and return value
                returned = out.get(RET) is True
                new_plan = dict(plan)
                for n in sorted(candidates):
                    v = out.get(n, _MISSING)
                    if v is _MISSING or isinstance(v, Undefined) or v is BOTTOM:
                        continue
                    if returned and n in plan and not _live_after_return(n):
                        continue
                    if n in plan and n not in rebound and self.shape_changes(plan[n], v):
                        # the body rebinds n to another shape: Python allows that if the
                        # old value is never read (checked below), so n starts afresh
                        rebound[n] = (self.assigned_at.get(n, self.loc),
                                      f"loop variable '{_hint(n)}' changes shape from "
                                      f"{_shapes(plan[n])} to {_shapes(self.loop_template(n, v))} in the loop body")
                        joined = self.loop_template(n, v)
                    elif n in rebound and self.shape_changes(plan[n], v):
                        self.raise_rebound(rebound, n)
                    elif n in plan:
                        joined = self.loop_join(n, plan[n], v)
                    else:
                        joined = self.loop_template(n, v)
                        if joined is None:
                            continue
                    new_plan[n] = joined
                if new_plan != plan:
                    plan = new_plan
                    continue
                vals = [x for n in names for x in self.materialize(
                    plan[n], _MISSING if returned and not _live_after_return(n) else out.get(n))]
                body_region.ops.append(Op("yield", vals, {}, []))
            self.check_rebound(rebound, plan, names, body_region, cond_region)
            self.env, self.loc = before, loc
            self.builder.loc = loc
            inits = [x for n in names for x in self.materialize(
                plan[n], _MISSING if n in rebound else init.get(n, _MISSING))]
            results = [Value(v.type, _hint(n)) for n in names for v in _slots(plan[n])]
            attrs = {"trip_count": trip_count} if trip_count is not None else {}
            self.builder.append(Op("while", inits, attrs, results, [cond_region, body_region]))
            merged = dict(before)
            it = iter(results)
            for n in names:
                merged[n] = self.rebuild(plan[n], it, n)
                if n in rebound and not trip_count:
                    merged[n] = Undefined(_hint(n), "a loop that may run no iterations rebinds it to another shape")
            if BRK in merged:
                merged[BRK] = False
            if forever and not may_break and may_return:
                merged[RET] = True  # `while True` is left only by returning
            self.env = merged
            return
        self.error("the types of the loop's variables do not settle",
                   "give loop variables their final dtype before the loop")

    def shape_changes(self, plan, v) -> bool:
        if isinstance(plan, Slot) and self.is_arraylike(v):
            return self.template_leaf(v).type.shape != plan.type.shape
        if isinstance(plan, (tuple, list)) and isinstance(v, (tuple, list)):
            return len(plan) != len(v) or any(self.shape_changes(p, x) for p, x in zip(plan, v))
        return False

    def check_rebound(self, rebound, plan, names, body, cond):
        """A rebound name's value from the previous iteration must be unread."""
        if not rebound:
            return
        offsets, k = {}, 0
        for n in names:
            offsets[n] = k
            k += len(_slots(plan[n]))
        yield_op = body.ops[-1]
        for n in rebound:
            for j in range(offsets[n], offsets[n] + len(_slots(plan[n]))):
                p, cp = body.params[j], cond.params[j]
                read = any(p in op.operands and not (op is yield_op and op.operands.index(p) == j)
                           for op in walk_ops(body)) or any(cp in op.operands for op in walk_ops(cond))
                if read:
                    self.raise_rebound(rebound, n)

    @staticmethod
    def raise_rebound(rebound, n):
        where, message = rebound[n]
        raise CompileError(message, where, "arrays carried through a loop must keep their shape")

    def loop_template(self, name, v):
        """Loop-carried layout of a value: arrays and numbers are carried; other Python
        objects must not change in the body (they are then not carried)."""
        if isinstance(v, (tuple, list)):
            parts = [self.loop_template(name, x) for x in v]
            return type(v)(parts) if all(p is not None for p in parts) else None
        if isinstance(v, (Dyn, Slot)) or is_static_scalar(v):
            return self.template_leaf(v)
        return None

    def loop_join(self, name, plan, v):
        if isinstance(plan, Slot):
            if not self.is_arraylike(v):
                self.error(f"loop variable '{_hint(name)}' changes from an array to {describe(v)}")
            leaf = self.template_leaf(v)
            if leaf.type.shape != plan.type.shape:
                raise CompileError(f"loop variable '{_hint(name)}' changes shape from {plan.type.shape} "
                                   f"to {leaf.type.shape} in the loop body",
                                   self.assigned_at.get(name, self.loc),
                                   "arrays carried through a loop must keep their shape")
            dt, weak = promote_pair((plan.type.dtype, plan.weak), (leaf.type.dtype, leaf.weak))
            return Slot(plan.type.with_dtype(dt), weak)
        if isinstance(plan, (tuple, list)):
            if not isinstance(v, (tuple, list)) or len(v) != len(plan):
                self.error(f"loop variable '{_hint(name)}' changes structure in the loop body")
            return type(plan)(self.loop_join(name, p, x) for p, x in zip(plan, v))
        return plan

    def loop_region(self, before, plan):
        region = Region()
        env = dict(before)
        for n, p in plan.items():
            params = [Value(s.type, _hint(n)) for s in _slots(p)]
            region.params += params
            env[n] = self.rebuild(p, iter(params), n)
        return region, env

    def logical_not(self, v):
        v = self.truth(v)
        if isinstance(v, bool):
            return not v
        if v is BOTTOM:
            return BOTTOM
        return Dyn(self.emit("not", [v.value]))

    def logical(self, prim: str, a, b):
        """`and`/`or` of static bools and traced bool[]s, simplifying the static cases."""
        absorbing = prim == "or"  # True absorbs `or`, False absorbs `and`
        if a is absorbing or b is absorbing:
            return absorbing
        if a is (not absorbing):
            return b
        if b is (not absorbing):
            return a
        if a is BOTTOM or b is BOTTOM:
            return BOTTOM
        return Dyn(self.emit(prim, [a.value, b.value]))

    def logical_and(self, a, b):
        return self.logical("and", a, b)

    def logical_or(self, a, b):
        return self.logical("or", a, b)

    def s_For(self, node):
        if node.orelse:
            self.error("'for ... else' is not supported", "use a flag variable", node)
        it = self.expr(node.iter)
        if isinstance(it, (range, DynRange)):
            return self.range_loop(node, it.start, it.stop, it.step)
        items = static_items(it)
        if items is not None:
            return self.unrolled(node, items)
        walk = indexed(self, it, node.iter)
        if walk.unroll:
            return self.unrolled(node, unrolled_items(self, walk, it, node.iter, "a loop over a tuple or list"))
        return self.range_loop(node, 0, walk.length, 1, walk.item)

    def range_loop(self, node, start, stop, step, item=None):
        if isinstance(step, int) and step == 0:
            self.error("range() step must not be zero", node=node.iter)
        static = all(isinstance(v, int) for v in (start, stop, step))
        if static and len(range(start, stop, step)) == 0:
            return
        trip = len(range(start, stop, step)) if static else None
        # the hidden counter is named after the loop variable, unique per loop
        self.loops += 1
        counter = f"<{node.target.id if isinstance(node.target, gast.Name) else 'iter'}#{self.loops}>"
        cands = assigned_names(node.body) | assigned_names([node.target]) | {counter}
        self.env[counter] = start

        def cond():
            cur = self.env[counter]
            if isinstance(step, int):
                return self.compare(gast.Lt() if step > 0 else gast.Gt(), cur, stop)
            up = self.compare(gast.Gt(), step, 0)
            return self.select(up, self.compare(gast.Lt(), cur, stop), self.compare(gast.Gt(), cur, stop))

        ascending = isinstance(start, int) and start >= 0 and isinstance(step, int) and step > 0

        def body():
            cur = self.env[counter]
            if ascending:
                cur = Dyn(cur.value, cur.weak, nonneg=True)
            self.env[counter] = self.binop(gast.Add(), cur, step)
            self.assign(node.target, cur if item is None else item(cur))
            self.block(node.body)

        self.loop(cands, node.body, cond, body, trip_count=trip)
        self.env.pop(counter, None)

    def unrolled(self, node, items):
        """A loop over a static sequence runs once per item at compile time."""
        for i, x in enumerate(items):
            self.assign(node.target, x)
            self.env[CONT] = False
            self.block(node.body)
            self.env.pop(CONT, None)
            brk = self.env.pop(BRK, False)
            if brk is True:
                return
            state = self.exit_state()
            if isinstance(brk, Dyn):
                state = brk if state is None else self.elementwise("or", state, brk)
            if state is True:
                return
            if state is not None and i + 1 < len(items):
                rest = items[i + 1:]
                ret_only = isinstance(self.env.get(RET), Dyn) and not isinstance(brk, Dyn)  # state is the return flag
                self.structured_if(state, lambda: None, lambda: self.unrolled(node, rest),
                                   {RET: True} if ret_only else {},
                                   {RET: False} if isinstance(self.env.get(RET), Dyn) else {})
                return

    # ---------------------------------------------------------------- expressions
    def expr(self, node):
        self.at(node)
        method = getattr(self, "e_" + type(node).__name__, None)
        if method is None:
            self.refuse(node)
        return method(node)

    def e_Constant(self, node):
        return node.value

    def e_Name(self, node):
        return self.lookup(node.id, node)

    def e_Tuple(self, node):
        return tuple(self.starred_items(node.elts))

    def e_List(self, node):
        return list(self.starred_items(node.elts))

    def starred_items(self, elts):
        out = []
        for e in elts:
            if isinstance(e, gast.Starred):
                v = self.expr(e.value)
                if not isinstance(v, (tuple, list, range)):
                    self.error(f"cannot unpack {describe(v)} with *", node=e)
                out.extend(v)
            else:
                out.append(self.expr(e))
        return out

    def e_BinOp(self, node):
        return self.binop(node.op, self.expr(node.left), self.expr(node.right))

    def e_UnaryOp(self, node):
        v = self.expr(node.operand)
        if v is BOTTOM:
            return BOTTOM
        if isinstance(node.op, gast.Not):
            return self.logical_not(v)
        if isinstance(v, Selection):
            from .masks import unary
            return unary(self, node.op, v)
        if isinstance(v, Dyn):
            if isinstance(node.op, gast.UAdd):
                return v
            if isinstance(node.op, gast.USub):
                if v.dtype == "bool":
                    self.error("cannot negate a bool array", "use ~x or jnp.logical_not(x)")
                return Dyn(self.emit("neg", [v.value]), v.weak)
            if v.dtype not in ("bool",) and not v.dtype[0] in "iu":
                self.error(f"~ needs an integer or bool array, got {v.type}")
            return Dyn(self.emit("not", [v.value]), v.weak)
        ops = {gast.UAdd: operator.pos, gast.USub: operator.neg, gast.Invert: operator.invert}
        try:
            return ops[type(node.op)](v)
        except TypeError as e:
            self.error(str(e))

    def e_BoolOp(self, node):
        return self.boolop(isinstance(node.op, gast.And), node.values)

    def boolop(self, is_and: bool, operands):
        """`and`/`or` as Python evaluates them: the first operand that decides the outcome,
        else the last, with the later operands evaluated only where they are reached. On a
        traced operand, two bools combine with one op; other operands, or later ones that
        call functions (which may recurse), are chosen by a conditional, as `b if a else a`
        (`and`) or `a if a else b` (`or`)."""
        first, rest = operands[0], operands[1:]
        v = self.expr(first)
        if not rest:
            return v
        t = self.truth(v, first)
        if isinstance(t, bool):
            return self.boolop(is_and, rest) if t == is_and else v
        return self.short_circuit(is_and, v, t, rest, lambda: self.boolop(is_and, rest))

    def short_circuit(self, is_and: bool, v, t, later_nodes, later):
        """`v and later()` (or `v or later()`) where v's truth t is traced: two bools combine
        with one op; otherwise, or when the later operands call functions (which may
        recurse), a conditional evaluates them only where they are reached."""
        if not any(isinstance(n, gast.Call) for r in later_nodes for n in gast.walk(r)):
            w = later()
            if self.is_bool(v) and self.is_bool(w):
                return self.logical("and" if is_and else "or", t, w)
            later = lambda: w  # noqa: E731  (evaluated once, above)
        return self.conditional(t, later, lambda: v) if is_and else self.conditional(t, lambda: v, later)

    @staticmethod
    def is_bool(v) -> bool:
        return isinstance(v, bool) or (isinstance(v, Dyn) and v.dtype == "bool")

    def e_Compare(self, node):
        return self.chain(self.expr(node.left), list(zip(node.ops, node.comparators)))

    def chain(self, left, links):
        """Python's `a < b < c`: `a < b and b < c` with `b` evaluated once. So each link but
        the last needs a truth value (an error for non-scalar arrays, as in NumPy), and
        later links are evaluated only where they are reached, as `boolop` does."""
        (op, right_node), rest = links[0], links[1:]
        right = self.expr(right_node)
        result = self.compare(op, left, right)
        if not rest:
            return result
        t = self.truth(result, right_node)
        if isinstance(t, bool):
            return self.chain(right, rest) if t else t
        return self.short_circuit(True, result, t, [r for _, r in rest], lambda: self.chain(right, rest))

    def e_IfExp(self, node):
        test = self.truth(self.expr(node.test), node.test)
        if isinstance(test, bool):
            return self.expr(node.body if test else node.orelse)
        return self.conditional(test, lambda: self.expr(node.body), lambda: self.expr(node.orelse))

    def conditional(self, test, then_fn, else_fn):
        """The value of `then_fn()` where traced bool `test` holds, else of `else_fn()`, each
        lowered in its own branch of an `if` (BOTTOM as `test`: unknown, while inferring a
        recursive function's result)."""
        self.loops += 1
        slot = f"<ifexp#{self.loops}>"  # unique: conditional expressions nest

        def arm(value_fn):
            def run():
                value = value_fn()  # first: a nested `if` replaces self.env
                self.env[slot] = value
            return run
        self.structured_if(None if test is BOTTOM else test, arm(then_fn), arm(else_fn))
        v = self.env.pop(slot)
        if isinstance(v, Undefined):
            self.error(f"the two arms of this conditional expression differ: {v.why}")
        return v

    def e_Attribute(self, node):
        base = self.expr(node.value)
        return self.attribute(base, node.attr, node)

    def e_Subscript(self, node):
        base = self.expr(node.value)
        idx = self.expr(node.slice)
        return self.subscript(base, idx, node)

    def e_Slice(self, node):
        def part(n):
            return None if n is None else self.expr(n)
        return slice(part(node.lower), part(node.upper), part(node.step))

    def e_Lambda(self, node):
        return self.closure(node)

    def closure(self, node) -> Closure:
        """A nested `def` or `lambda`: its defaults are evaluated here, once, as Python does."""
        defaults = [self.expr(d) for d in node.args.defaults]
        kwdefaults = {p.id: self.expr(d) for p, d in zip(node.args.kwonlyargs, node.args.kw_defaults)
                      if d is not None}
        return Closure(node, self, defaults, kwdefaults)

    def e_ListComp(self, node):
        return list(self.comprehension(node))

    def e_GeneratorExp(self, node):
        return tuple(self.comprehension(node))

    def comprehension(self, node):
        saved = dict(self.env)
        out = []

        def go(gens):
            if not gens:
                out.append(self.expr(node.elt))
                return
            g = gens[0]
            if g.is_async:
                self.refuse(g)
            for x in items_at_compile_time(self, self.expr(g.iter), g.iter, "a comprehension"):
                self.assign(g.target, x)
                if all(self.static_condition(self.expr(c), c) for c in g.ifs):
                    go(gens[1:])

        go(node.generators)
        self.env = saved
        return out

    def static_condition(self, v, node):
        t = self.truth(v, node)
        if not isinstance(t, bool):
            self.error("a comprehension's 'if' must be known at compile time", node=node)
        return t

    def e_Call(self, node):
        func = self.expr(node.func)
        args = self.starred_items(node.args)
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                self.error("'**' arguments are not supported", "pass keyword arguments explicitly", kw.value)
            kwargs[kw.arg] = self.expr(kw.value)
        self.at(node)
        return self.call(func, args, kwargs, node)

    # ---------------------------------------------------------------- operators
    def binop(self, op, a, b):
        if contains_bottom(a, b):
            return BOTTOM
        for v in (a, b):
            if isinstance(v, Undefined):
                self.error(f"'{v.name}' may be undefined here: {v.why}")
        if not isinstance(a, (Dyn, Selection)) and not isinstance(b, (Dyn, Selection)):
            if isinstance(op, gast.MatMult) or isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                pass
            else:
                try:
                    return PY_BINOPS[type(op)](a, b)
                except Exception as e:  # the Python error, at the source line
                    self.error(f"{type(e).__name__}: {e}")
        if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
            self.error(f"unsupported operand types for {_OP_SYMBOL.get(type(op), '?')}: "
                       f"{describe(a)} and {describe(b)}", "convert sequences with jnp.array(...) first")
        if isinstance(op, gast.MatMult):
            from .numpy_api import matmul
            return matmul(self, a, b)
        if isinstance(op, gast.Pow):
            return self.power(a, b)
        prim = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div",
                gast.FloorDiv: "floordiv", gast.Mod: "mod", gast.BitAnd: "and", gast.BitOr: "or",
                gast.BitXor: "xor", gast.LShift: "shift_left", gast.RShift: "shift_right"}[type(op)]
        if prim in ("add", "sub", "mul") and self.promote(a, b)[0] == "bool":
            self.error(f"arithmetic '{_OP_SYMBOL[type(op)]}' on bool arrays is not supported",
                       "use |, & or ^ for logic, or convert with .astype(int)")
        return self.elementwise(prim, a, b, result_kind="float" if prim == "div" else None)

    def power(self, a, b):
        """NumPy's `**`, whose result type is that of both operands (`int_array ** 2.0` is
        float), squares and square roots included."""
        if isinstance(a, Selection) or isinstance(b, Selection):
            from .masks import lift
            return lift(self, self.power, [a, b], "**")
        dt, weak = self.promote(a, b)
        if is_static_scalar(b) and not isinstance(b, bool) and b in (2, 0.5):
            x = self.convert(a, dt, weak)
            return self.elementwise("mul", x, x) if b == 2 else self.elementwise("sqrt", x, result_kind="float")
        if dt[0] in "iu" and is_static_scalar(b) and b < 0:
            self.error("integers to negative integer powers are not allowed")
        return self.elementwise("pow", a, b)

    def compare(self, op, a, b):
        if contains_bottom(a, b):
            return BOTTOM
        if isinstance(op, (gast.Is, gast.IsNot)):
            return PY_COMPARE[type(op)](a, b)
        if isinstance(op, (gast.In, gast.NotIn)):
            found = self.contains(b, a)
            return self.logical_not(found) if isinstance(op, gast.NotIn) else found
        if not isinstance(a, (Dyn, Selection)) and not isinstance(b, (Dyn, Selection)):
            try:
                return PY_COMPARE[type(op)](a, b)
            except Exception as e:
                self.error(f"{type(e).__name__}: {e}")
        prim = {gast.Eq: "eq", gast.NotEq: "ne", gast.Lt: "lt", gast.LtE: "le", gast.Gt: "gt",
                gast.GtE: "ge"}[type(op)]
        return self.elementwise(prim, a, b, result_kind="bool")

    def contains(self, seq, item):
        """Python's `item in seq`. A tuple or list holds `item` when one of its elements is
        `item` or equals it, which for traced values is a run-time test (Python's own `in`
        would compare IR values by identity); an array holds it as in NumPy, `(seq == item).any()`."""
        if isinstance(seq, Dyn):
            return self.reduce("reduce_or", self.compare(gast.Eq(), seq, item))
        if isinstance(seq, (tuple, list)) and any(isinstance(x, Dyn) for x in leaves((item, seq))):
            found = False
            for x in seq:
                found = self.logical_or(found, x is item or self.truth(self.compare(gast.Eq(), x, item)))
            return found
        if isinstance(item, Dyn):
            self.error(f"'in' needs a tuple, list or array to look in, got {describe(seq)}")
        try:
            return item in seq
        except Exception as e:
            self.error(f"{type(e).__name__}: {e}")

    # ---------------------------------------------------------------- attributes, subscripts
    def attribute(self, base, attr, node):
        if base is BOTTOM:
            return BOTTOM
        if isinstance(base, Selection):
            from .masks import attribute
            return attribute(self, base, attr, node)
        if isinstance(base, Dyn):
            if attr == "shape":
                return base.shape
            if attr == "ndim":
                return len(base.shape)
            if attr == "size":
                return int(np.prod(base.shape))
            if attr == "dtype":
                return _np_dtype(base.dtype)
            if attr == "T":
                return self.transpose(base)
            if attr == "at":
                return AtIndexer(base)
            from .numpy_api import METHODS
            if attr in METHODS:
                return BoundMethod(base, attr)
            self.error(f"arrays have no supported attribute '{attr}'",
                       f"supported: shape, ndim, size, dtype, T, at, {', '.join(sorted(METHODS))}", node)
        if isinstance(base, AtIndexer):
            if attr not in AT_METHODS:
                self.error(f"x.at[...] has no update '.{attr}'", f"supported: {', '.join(AT_METHODS)}", node)
            if base.index is None:
                self.error("write x.at[index].set(value)", node=node)
            return BoundMethod(base, attr)
        if isinstance(base, (list, tuple)) and attr in ("append", "extend", "insert", "pop", "remove",
                                                        "sort", "reverse", "clear"):
            self.error(f"lists cannot be mutated in compiled code ('.{attr}')",
                       "build a new tuple, e.g. xs = xs + (v,), or preallocate an array and use x.at[i].set(v)",
                       node)
        try:
            return self.import_value(getattr(base, attr))
        except AttributeError:
            self.error(f"{describe(base)} has no attribute '{attr}'", node=node)

    def subscript(self, base, idx, node):
        if contains_bottom(base) or contains_bottom(idx if isinstance(idx, tuple) else (idx,)):
            return BOTTOM
        if isinstance(base, Dyn):
            return self.index(base, idx)
        if isinstance(base, Selection):
            from .masks import refuse
            refuse(self, "indexing it")
        if isinstance(base, AtIndexer):
            return AtIndexer(base.obj, idx)
        if isinstance(idx, Dyn):
            if isinstance(base, (tuple, list)) and base and all(self.is_arraylike(x) for x in base):
                return self.index(self.stack(list(base)), idx)
            self.error(f"cannot index {describe(base)} with a traced value", node=node)
        try:
            return base[idx]
        except Exception as e:
            self.error(f"{type(e).__name__}: {e}", node=node)

    # ---------------------------------------------------------------- calls
    def call(self, func, args, kwargs, node):
        from .numpy_api import call_builtin_or_numpy
        if func is BOTTOM:
            return BOTTOM
        if isinstance(func, BoundMethod):
            from .numpy_api import call_method
            return call_method(self, func, args, kwargs)
        if isinstance(func, Closure):
            return self.call_closure(func, args, kwargs, node)
        if hasattr(func, "__ppc_call_ir__"):
            return self.call_derived(func, args, kwargs, node)
        if _host_transform(func) is not None:
            return self.call_host_transform(func, args, kwargs, node)
        inner = getattr(func, "__ppc_function__", None)
        if inner is not None:
            func = inner
        if isinstance(func, functools.partial):  # (its bound arguments are constants, as a closure's values)
            return self.call(func.func, [self.import_tree(a) for a in func.args] + list(args),
                             {**{k: self.import_tree(v) for k, v in func.keywords.items()}, **kwargs}, node)
        handled, out = call_builtin_or_numpy(self, func, args, kwargs)
        if handled:
            return out
        mod = getattr(func, "__module__", None) or ""
        # (a library's Python function, jax.random.bernoulli or jnp.interp, is no user code:
        # compiling its source would fail inside the library, far from the user's line)
        if inspect.isfunction(func) and mod.partition(".")[0] not in _LIBRARIES:
            return self.call_user(func, args, kwargs, node)
        name = getattr(func, "__qualname__", None) or describe(func)
        mod = _public_module(func, mod, name)
        from .numpy_api import registered
        hint = ("supported from jax.random: " + ", ".join(registered("jax.random")) if mod.startswith("jax.random")
                else "see the README for the supported NumPy/jax.numpy/math functions")
        self.error(f"calling {mod + '.' if mod else ''}{name} is not supported in compiled code", hint, node)

    def call_host_transform(self, func, args, kwargs, node):
        """`ppc.grad(loss)` (see `_host_transform`) with arguments known at compile time:
        run on the host now, giving the transformed function, which a call lowers like
        one made at module level (`_g = ppc.grad(loss)`)."""
        name = f"ppc.{func.__name__}"
        if not _host_transform(func):
            self.error(f"{name} is not supported inside compiled code (it runs from Python)",
                       "inside compiled code, take derivatives with ppc.grad(f)(x) or ppc.value_and_grad(f)(x)",
                       node)
        if contains_bottom(tuple(args), tuple(kwargs.values())):
            return BOTTOM
        if args and isinstance(args[0], Closure):
            if name == "ppc.compile":  # (compiled code inlines a nested function as it is)
                return args[0]
            from ..api import Lifted
            args = (Lifted(args[0]),) + tuple(args[1:])
        for a in list(args) + list(kwargs.values()):
            if not _host_static(a):
                what = ("a function defined inside compiled code" if isinstance(a, Closure)
                        else describe(a) if not isinstance(a, (tuple, list)) else "a sequence holding traced values")
                self.error(f"{name} inside compiled code needs arguments known at compile time; it got {what}",
                           "pass a function defined outside compiled code (at module level) and give it the "
                           "traced values as arguments: ppc.grad(loss)(w, x)", node)
        try:
            return func(*args, **kwargs)
        except (TypeError, ValueError) as e:
            self.error(f"{name}: {e}", node=node)

    def model_site(self, operands, name, nested: str, hint: str) -> bool:
        """Whether a random variable or factor is reached (not under a bottom value); a
        model's sites take string names and stand at a function's top level, where the
        model transformations find them."""
        if contains_bottom(operands):
            return False
        if name is not None and not isinstance(name, str):
            self.error("name= must be a string")
        if self.builder.region not in self.ctx.top_regions:
            self.error(nested, hint)
        self.ctx.model = True
        return True

    def random_variable(self, dist, params, name):
        """A `sample` op for a distribution constructor call (see ppc/distributions.py)."""
        if any(p is None for p in params):
            self.error(f"{dist.name} needs values for {', '.join(dist.params)}")
        if not self.model_site(tuple(params), name, "random variables inside an `if` or loop on traced values are not "
                               "supported",
                               "write the model with vectorized random variables at the top level of a function"):
            return BOTTOM
        # the float parameters set the dtype: an integer one (a Binomial's total_count) does
        # not widen float32 probabilities to float64, as in JAX and NumPyro
        floats = [p for p in params if self.aval(p)[1].startswith("f")]
        dt = self.promote(*floats)[0] if floats else DEFAULT_FLOAT
        ds = [self.to_dyn(p, dt) for p in params]
        ranks = dist.param_event_rank
        for d, r, pname in zip(ds, ranks, dist.params):
            if len(d.shape) < r:
                self.error(f"{dist.name} parameter '{pname}' needs at least {r} dimensions, got shape {d.shape}")
        # parameters broadcast to one batch shape, except that one matrix (scale_tril) is
        # kept whole and shared by the whole batch: the density solves all of it at once
        batch = self.broadcast_shapes(*[d.shape[:len(d.shape) - r] for d, r in zip(ds, ranks)])
        ds = [d if r == 2 and len(d.shape) == 2 else self.broadcast_to(d, batch + d.shape[len(d.shape) - r:])
              for d, r in zip(ds, ranks)]
        shape = batch + (ds[0].shape[-1:] if dist.event_rank == 1 else ())
        dtype = "i64" if dist.discrete else dt
        result = Value(TensorType(shape, dtype), name)
        op = Op("sample", [d.value for d in ds], {"dist": dist.name, "name": name, "shape": shape, "dtype": dtype},
                [result], loc=self.loc)
        self.builder.append(op)
        self.fresh.add(result)
        if name is None:
            self.ctx.unnamed[result] = op
        return Dyn(result)

    def factor(self, log_prob, name):
        """A `factor` op: a term added to the model's log density (a likelihood written by
        hand, a marginalized mixture, a penalty), summed over its elements."""
        if not self.model_site((log_prob,), name, "ppc.factor inside an `if` or loop on traced values is not supported",
                               "compute the term with np.where and add it at the top level of a function"):
            return BOTTOM
        shape, dtype, _ = self.aval(log_prob)
        if not dtype.startswith("f"):
            self.error(f"ppc.factor needs a floating-point log density, got {dtype}",
                       "convert it, e.g. with 1.0 * x")
        value = self.to_dyn(log_prob, dtype)
        self.builder.append(Op("factor", [value.value], {"name": name}, [], loc=self.loc))
        return None

    def call_derived(self, func, args, kwargs, node):
        """A function whose IR another transformation builds (ppc.grad(g), ...): build it for
        these argument types, add its functions to the module, and call its entry."""
        if contains_bottom(tuple(args), tuple(kwargs.values())):
            return BOTTOM
        if _reads_enclosing(func):
            if kwargs:
                args, kwargs = self.positional(func, args, kwargs, node), {}
            _forget(func)  # (built afresh at each call: it reads the enclosing program's values now, as Python does)
        try:
            module, template, flagged = func.__ppc_call_ir__(
                [_example(a) for a in args], {k: _example(v) for k, v in kwargs.items()})
        except _UnknownResult:
            return BOTTOM
        except CompileError as e:
            failure = e  # (reported below, outside this handler: one traceback, not two chained)
        else:
            failure = None
        if failure is not None:
            self.error(f"cannot build {getattr(func, '__name__', 'this function')} here: {failure.message}",
                       failure.hint, node=node)
        renames = {name: self.ctx.fresh_name(name) for name in module.functions}
        for fn in module.functions.values():
            copy = Function(renames[fn.name], clone_region(fn.body, {}), fn.result_types)
            for op in walk_ops(copy.body):
                if op.prim == "call":
                    op.attrs = dict(op.attrs, callee=renames[op.attrs["callee"]])
            self.ctx.functions[copy.name] = copy
        operands = []
        static = getattr(func, "static_argnums", frozenset())  # (baked into the built program: no operand)
        dynamic = [a for i, a in enumerate(args) if i not in static] + list(kwargs.values())
        for a in dynamic:  # (Python numbers arrive as traced scalars, as in lower_entry)
            if isinstance(a, (tuple, list)):
                operands.append(self.make_tuple(a))
            elif isinstance(a, Dyn) or is_static_scalar(a):
                operands.append(self.to_dyn(a).value)
        operands += _captured_operands(func, [_example(a) for a in args], {k: _example(v) for k, v in kwargs.items()})
        # a derived function built for fixed types (a model's density has its latents' dtype)
        # may not match these arguments: say so here rather than build an ill-typed call
        for p, x in zip(module.entry.params, operands):
            if p.type != x.type:
                name = getattr(func, "__name__", "this function")
                self.error(f"{name} takes {p.hint or 'an argument'} as {p.type}, got {x.type}",
                           "convert the argument (x.astype(...)) to the type the function was built for", node)
        results = [Value(t) for t in module.entry.result_types]
        self.builder.append(Op("call", operands, {"callee": renames[module.entry.name]}, results))
        # (the flags of its limits: a gradient recording a while loop, a program-counter
        # batch; the program's own now, see flags.py, any member's raising it)
        for limit, flag in zip(flagged, results[len(results) - len(flagged):]):
            if flag.type.rank:
                flag = self.builder.op("reduce_or", [flag], "overflow", axes=tuple(range(flag.type.rank)))
            self.builder.append(Op(FLAG, [flag], {"limit": limit}, [], [], self.loc))
        del results[len(results) - len(flagged):]
        # (a gradient with respect to a tuple is one tuple-typed result: its leaves, one by one)
        return _fill(split_tuple_slots(template), iter([x for r in results for x in self.untuple(r)]))

    def untuple(self, v: Value) -> list[Value]:
        if not isinstance(v.type, TupleType):
            return [v]
        parts = [self.emit("tuple_get", [v], index=k) for k in range(len(v.type.elements))]
        return [x for part in parts for x in self.untuple(part)]

    def positional(self, func, args, kwargs, node) -> list:
        """Keyword arguments to a transform of a closure, passed by position (its program's
        parameters are its positional ones, then what it reads from where it was defined)."""
        a = _lifted(func).closure.node.args
        names = [p.id for p in a.posonlyargs + a.args]
        out = list(args)
        for name in names[len(args):]:
            if name not in kwargs:
                break
            out.append(kwargs.pop(name))
        if kwargs:
            self.error(f"{func.__name__}: pass {', '.join(map(repr, kwargs))} by position (a transform of a "
                       "function defined inside compiled code takes its positional parameters only)", node=node)
        return out

    def make_tuple(self, tree) -> Value:
        parts = [self.make_tuple(x) if isinstance(x, (tuple, list)) else self.to_dyn(x).value for x in tree]
        return self.emit("make_tuple", parts)

    def bind(self, params_node, defaults, kwdefaults: dict, args, kwargs, name, node):
        """Python's argument binding: parameter name -> value, in signature order. Extra
        positional arguments are gathered into a tuple for `*args`."""
        a = params_node
        if a.kwarg is not None:
            self.error(f"'{name}' takes **kwargs, which compiled functions do not support", node=node)
        posonly = [p.id for p in a.posonlyargs]
        names = posonly + [p.id for p in a.args]
        kwonly = [p.id for p in a.kwonlyargs]
        if len(args) > len(names) and a.vararg is None:
            self.error(f"{name}() takes {len(names)} positional arguments but {len(args)} were given", node=node)
        bound = dict(zip(names, args))
        for k, v in kwargs.items():
            if k in posonly:
                self.error(f"{name}() got a positional-only argument passed as keyword: '{k}'", node=node)
            if k not in names and k not in kwonly:
                self.error(f"{name}() got an unexpected keyword argument '{k}'", node=node)
            if k in bound:
                self.error(f"{name}() got multiple values for argument '{k}'", node=node)
            bound[k] = v
        for p, d in zip(names[len(names) - len(defaults):], defaults):
            bound.setdefault(p, d)
        for p, d in kwdefaults.items():
            bound.setdefault(p, d)
        order = names + kwonly
        missing = [n for n in order if n not in bound]
        if missing:
            self.error(f"{name}() missing argument '{missing[0]}'", node=node)
        if a.vararg is not None:
            bound[a.vararg.id] = tuple(args[len(names):])
            order = names + [a.vararg.id] + kwonly
        return {n: bound[n] for n in order}

    def call_closure(self, clo: Closure, args, kwargs, node):
        if self.inline_depth > 64:
            self.error(f"'{clo.name}' recurses: nested functions are inlined, so they cannot recurse",
                       "define recursive functions at module level", node)
        bound = self.bind(clo.node.args, clo.defaults, clo.kwdefaults, args, kwargs, clo.name, node)
        definer: Lowerer = clo.env
        inner = Lowerer(self.ctx, definer.src, definer.pyfn, Builder(self.builder.region, self.loc),
                        dict(bound), parent=definer, inline_depth=self.inline_depth + 1)
        if isinstance(clo.node, gast.Lambda):
            out = inner.expr(clo.node.body)
        else:
            out = inner.function_body(clo.node.body)
        self.at(node)
        return out

    def function_body(self, body):
        self.block(body)
        ret = self.env.get(RET, False)
        if ret is True:
            return self.env[RETVAL]
        if ret is False:
            return None
        self.error("this function may reach its end without returning a value",
                   "return a value on every path (add a final 'return')", body[-1])

    def call_user(self, fn, args, kwargs, node):
        src = function_source(fn)
        defaults = list(fn.__defaults__ or ())
        bound = self.bind(src.node.args, defaults, fn.__kwdefaults__ or {}, args, kwargs, fn.__name__, node)
        for k, v in bound.items():
            if isinstance(v, Undefined):
                self.error(f"'{v.name}' may be undefined here: {v.why}", node=node)
        if contains_bottom(*bound.values()):  # (only while probing a recursive result type)
            return BOTTOM
        if any(_reads_enclosing(v) or isinstance(v, Selection) for v in leaves(tuple(bound.values()))):
            return self.inline_user(fn, src, bound, node)
        key = _spec_key(fn, bound)
        spec = self.ctx.specs.get(key)
        if spec is None:
            traced = self.builder.region not in self.ctx.top_regions
            bound = self.widen_recursive_constants(fn, bound, traced)
            key = _spec_key(fn, bound)
            spec = self.ctx.specs.get(key) or build_spec(self.ctx, fn, src, bound, key, self.loc, traced=traced)
        if spec.template is PENDING:
            if key in self.ctx.probing:
                return BOTTOM
            raise NeedTemplate(key)
        operands = [d.value for v in bound.values() for d in _dyn_leaves(v)]
        results = [Value(s.type) for s in _slots(spec.template)]
        self.builder.append(Op("call", operands, {"callee": spec.name}, results))
        it = iter(results)
        return _fill(spec.template, it)

    def inline_user(self, fn, src, bound, node):
        """A module-level function given a function that reads the caller's values (a lambda
        over traced arrays, or ppc.grad of one) is inlined, as nested functions are: an IR
        function of its own could not see those values."""
        if self.inline_depth > 64:
            self.error(f"'{fn.__name__}' recurses while passing a function defined inside compiled code; such "
                       "calls are inlined, so they cannot recurse",
                       "pass the function's traced values as arguments instead", node)
        inner = Lowerer(self.ctx, src, fn, Builder(self.builder.region, self.loc), dict(bound),
                        inline_depth=self.inline_depth + 1)
        out = inner.function_body(src.node.body)
        self.at(node)
        return out

    def widen_recursive_constants(self, fn, bound, traced):
        """The arguments for a new specialization of `fn`. When `fn` is re-entered while a
        specialization of it is in progress, through control flow on traced values, with
        only numbers known at compile time changed (`count_up(i + 1, n)` from `count_up(0, n)`
        with `n` traced), the chain of specializations need not end at compile time: those
        numbers become traced scalars, so the re-entry recurses at run time instead."""
        for frame in reversed(self.ctx.active):
            if traced and frame.fn is fn and _differs_in_numbers(frame.bound, bound):
                old, new = leaves(tuple(frame.bound.values())), leaves(tuple(bound.values()))
                widened = iter([self.widen_number(a, b) for a, b in zip(old, new)])
                return {k: _refill(v, widened) for k, v in bound.items()}
            traced = traced or frame.traced
        return bound

    def widen_number(self, old, new):
        """`new` as a traced scalar of the type that holds both `old` and `new` (or as it is,
        where the two agree)."""
        if _signature(old) == _signature(new):
            return new
        dt, weak = promote_pair(self.aval(old)[1:], self.aval(new)[1:])
        return self.convert(new, dt, weak)


_MISSING = object()


AT_METHODS = ("set", "add", "mul", "multiply", "min", "max", "get")


def _is_true_constant(node) -> bool:
    return isinstance(node, gast.Constant) and node.value is True


def _shapes(plan):
    if isinstance(plan, Slot):
        return plan.type.shape
    if isinstance(plan, (tuple, list)):
        return tuple(_shapes(p) for p in plan)
    return plan


def _live_after_return(name) -> bool:
    """Whether a name is still read after its path has returned (exit flags, the return value)."""
    return name in FLAGS or name == RETVAL


def _has_slot(plan) -> bool:
    return any(isinstance(x, Slot) for x in leaves(plan))


def _slots(plan) -> list[Slot]:
    return [x for x in leaves(plan) if isinstance(x, Slot)]


def _fill(plan, it):
    if isinstance(plan, Slot):
        return Dyn(next(it), plan.weak)
    if isinstance(plan, (tuple, list)):
        return type(plan)(_fill(p, it) for p in plan)
    return plan


class _Abstract:
    """Shape and dtype standing in for a traced argument of a derived function."""

    def __init__(self, d: Dyn):
        from ..ir.types import numpy_dtype
        if d.dtype == "key":  # (a PRNG key array's dtype is JAX's own: no NumPy dtype)
            import jax
            self.shape, self.dtype = d.shape, jax.random.key(0).dtype
        else:
            self.shape, self.dtype = d.shape, numpy_dtype(d.dtype)


_HOST_TRANSFORMS: dict = {}


# top-level packages whose functions compiled code calls only through numpy_api's table
_LIBRARIES = frozenset({"jax", "jaxlib", "numpy", "scipy", "tensorflow", "optax", "numpyro", "flax", "torch"})


def _public_module(func, mod: str, name: str) -> str:
    """Where a library function is read from: jax.random for jax._src.random.core."""
    if "._src" not in mod:
        return mod
    parts = mod.replace("._src", "").split(".")
    while parts:
        m = sys.modules.get(".".join(parts))
        if m is not None and getattr(m, name, None) is func:
            return ".".join(parts)
        parts.pop()
    return mod


def _host_transform(func):
    """For ppc's function transformations, whether compiled code runs them on the host, at
    compile time, when their arguments are known then (functions, ints, tuples): True for
    ppc.grad, ppc.value_and_grad, ppc.hessian, ppc.autobatch and ppc.compile, each of which
    returns a function compiled code knows how to call; False for jvp, vjp, linearize and
    linear_transpose, which take arrays and run from Python only. None for anything else."""
    if not _HOST_TRANSFORMS:
        from ..ad import (grad, hessian, jvp, linear_transpose, linearize, value_and_grad,
                          value_and_grad_with_overflow, vjp)
        from ..api import compile
        from ..autobatch import autobatch
        _HOST_TRANSFORMS.update({f: True for f in (grad, value_and_grad, value_and_grad_with_overflow, hessian,
                                                   autobatch, compile)})
        _HOST_TRANSFORMS.update({f: False for f in (jvp, vjp, linearize, linear_transpose)})
    try:
        return _HOST_TRANSFORMS.get(func)
    except TypeError:  # unhashable
        return None


def _host_static(v) -> bool:
    """A value a host transform may take: known at compile time, and a plain Python value."""
    if isinstance(v, (tuple, list)):
        return all(_host_static(x) for x in v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return True
    return (inspect.isfunction(v) or isinstance(v, functools.partial) or hasattr(v, "__ppc_function__")
            or hasattr(v, "__ppc_call_ir__"))


def _example(v):
    if isinstance(v, Dyn):
        if v.weak and v.shape == ():  # a weakly typed scalar stays a Python number
            return {"f": 0.0, "i": 0, "u": 0, "b": False}[v.dtype[0]]
        return _Abstract(v)
    if isinstance(v, (tuple, list)):
        return type(v)(_example(x) for x in v)
    return v


def _dyn_leaves(v) -> list[Dyn]:
    return [x for x in leaves(v) if isinstance(x, Dyn)]


def _spec_key(fn, bound: dict) -> tuple:
    return (fn, tuple((k, _signature(v)) for k, v in bound.items()))


def _is_number(v) -> bool:
    return is_static_scalar(v) or (isinstance(v, Dyn) and v.shape == () and v.dtype != "key")


def _differs_in_numbers(old: dict, new: dict) -> bool:
    """Whether two argument bindings of one function have the same structure and differ,
    but only in scalar numbers."""
    a, b = tuple(old.values()), tuple(new.values())
    if _structure(a) != _structure(b):
        return False
    pairs = [(x, y) for x, y in zip(leaves(a), leaves(b)) if _signature(x) != _signature(y)]
    return bool(pairs) and all(_is_number(x) and _is_number(y) for x, y in pairs)


def _structure(tree):
    """The nesting of tuples and lists in a tree, leaves left out."""
    if isinstance(tree, (tuple, list)):
        return (type(tree), tuple(_structure(x) for x in tree))
    return None


def _refill(tree, it):
    """`tree` with its leaves replaced, in order, by the items of `it`."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(_refill(x, it) for x in tree)
    return next(it)


def _signature(v):
    """What a specialization depends on: types of arrays, values of everything else."""
    if isinstance(v, Dyn):
        return ("dyn", v.type, v.weak)
    if isinstance(v, (tuple, list)):
        return (type(v).__name__,) + tuple(_signature(x) for x in v)
    if v is BOTTOM:
        return ("bottom",)
    if is_static_scalar(v) or isinstance(v, (str, type(None), slice)):
        return ("static", type(v), v)
    return ("object", id(v))


def _np_dtype(dt: str):
    from ..ir.types import numpy_dtype
    return numpy_dtype(dt)


PY_BINOPS = {gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
             gast.Div: operator.truediv, gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod,
             gast.Pow: operator.pow, gast.BitAnd: operator.and_, gast.BitOr: operator.or_,
             gast.BitXor: operator.xor, gast.LShift: operator.lshift, gast.RShift: operator.rshift,
             gast.MatMult: operator.matmul}
_OP_SYMBOL = {gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.FloorDiv: "//",
              gast.Mod: "%", gast.Pow: "**", gast.BitAnd: "&", gast.BitOr: "|", gast.BitXor: "^",
              gast.LShift: "<<", gast.RShift: ">>", gast.MatMult: "@"}
PY_COMPARE = {gast.Eq: operator.eq, gast.NotEq: operator.ne, gast.Lt: operator.lt, gast.LtE: operator.le,
              gast.Gt: operator.gt, gast.GtE: operator.ge, gast.Is: operator.is_,
              gast.IsNot: operator.is_not, gast.In: lambda a, b: a in b,
              gast.NotIn: lambda a, b: a not in b}


# -------------------------------------------------------------------- specializations

def build_spec(ctx: Context, fn, src: SourceInfo, bound: dict, key, loc, entry=False, traced=False) -> Spec:
    """Lower `fn` for these arguments into its own IR function. A recursive function's
    result type is first inferred with recursive calls standing for 'unknown' (BOTTOM),
    then the function is lowered again until its result template is stable. `traced`: the
    call stands under control flow on traced values (see `Lowerer.widen_recursive_constants`)."""
    if len(ctx.active) > MAX_STATIC_RECURSION:
        raise _too_deep(fn, loc)
    snap = ctx.snapshot()
    spec = Spec(key, ctx.fresh_name(fn.__name__.strip("<>")))  # a lambda's IR function: @lambda
    ctx.specs[key] = spec
    probing = False
    ctx.active.append(Frame(fn, bound, traced))
    try:
        for _ in range(MAX_LOOP_PASSES):
            if probing:
                ctx.probing.add(key)
            try:
                fn_ir, result = _lower_spec(ctx, fn, src, bound, spec.name, entry)
            except NeedTemplate as e:
                ctx.restore(snap)
                if e.key != key or probing:  # another function's result is unknown: its lowering retries
                    raise
                ctx.specs[key] = spec
                probing = True
                continue
            finally:
                ctx.probing.discard(key)
            template = _result_template(result, fn, src)
            if probing:
                if not _has_slot(template) and contains_bottom(result):
                    raise CompileError(f"cannot infer what recursive function '{fn.__name__}' returns: "
                                       "every path through it recurses", src.loc(src.node),
                                       "give it a base case that returns without recursing")
                probing = False
                spec.template = template
                ctx.restore(snap)
                ctx.specs[key] = spec
                continue
            if spec.template is PENDING or spec.template == template:
                spec.template = template
                spec.function = fn_ir
                ctx.functions[spec.name] = fn_ir
                return spec
            spec.template = _join_templates(spec.template, template, fn, src)
            ctx.restore(snap)
            ctx.specs[key] = spec
        raise CompileError(f"cannot settle the result type of recursive function '{fn.__name__}'",
                           src.loc(src.node), "make every return path return the same dtype")
    except RecursionError:  # Python's stack ran out first: the innermost specialization says so
        raise _too_deep(fn, loc) from None
    finally:
        ctx.active.pop()


def _too_deep(fn, loc) -> CompileError:
    return CompileError(f"'{fn.__name__}' recurses too deeply on arguments known at compile time "
                        "(each level is specialized on their values)", loc,
                        "pass the argument that changes from level to level as an array, so that "
                        "the recursion runs at run time")


def _lower_spec(ctx, fn, src, bound, name, entry):
    region = Region()
    ctx.top_regions.add(region)
    env = {}
    for pname, v in bound.items():
        env[pname] = _param_tree(v, pname, region)
    lw = Lowerer(ctx, src, fn, Builder(region, src.loc(src.node)), env)
    for pname, v in env.items():
        if isinstance(v, _Bound):
            env[pname] = lw.import_tree(v.value)
    result = lw.function_body(src.node.body)
    if isinstance(result, Undefined):
        lw.error(f"the returned value may be undefined: {result.why}")
    if entry:
        result = _materialize_all(lw, result)
    template = _result_template(result, fn, src)
    vals = lw.materialize(template, result) if _has_slot(template) else []
    lw.builder.append(Op("return", vals, {}, []))
    return Function(name, region, [v.type for v in vals]), result


@dataclass(frozen=True, eq=False)
class _Bound:
    """An entry argument a functools.partial binds: a constant, imported as the function's
    body starts (`Lowerer.import_tree`)."""
    value: object


def _param_tree(v, name, region):
    if isinstance(v, Dyn):
        p = Value(v.type, name)
        region.params.append(p)
        return Dyn(p, v.weak)
    if isinstance(v, (tuple, list)):
        return type(v)(_param_tree(x, name, region) for x in v)
    return v


def _materialize_all(lw, result):
    if result is None:
        if lw.ctx.model:  # (a model may return nothing, as NumPyro's do: its sites are what counts)
            return ()
        lw.error("the compiled function returns nothing", "return an array or a tuple of arrays")
    if isinstance(result, (tuple, list)):
        return tuple(_materialize_all(lw, x) for x in result)
    if isinstance(result, Dyn):
        return result
    if is_static_scalar(result) or isinstance(result, np.ndarray) or isinstance(result, Selection):
        return lw.to_dyn(result)  # (a Selection: refused there, as its shape depends on the data)
    if isinstance(result, (Closure, BoundMethod, AtIndexer)) or callable(result):
        lw.error("the compiled function returns a function; functions cannot escape compiled code",
                 "return arrays or numbers")
    lw.error(f"the compiled function returns {describe(result)}, which is not an array")


def _result_template(result, fn, src):
    if isinstance(result, (tuple, list)):
        return type(result)(_result_template(x, fn, src) for x in result)
    if isinstance(result, Dyn):
        return Slot(result.type, result.weak)
    if isinstance(result, Selection):
        from .masks import HINT
        raise CompileError(f"'{fn.__name__}' returns a boolean-mask selection x[mask]: boolean-mask indexing "
                           "is not supported here, as its shape depends on the data; only reductions of it are",
                           src.loc(src.node), HINT)
    if isinstance(result, (Closure, BoundMethod, AtIndexer)):
        raise CompileError(f"'{fn.__name__}' returns a function; functions cannot escape compiled code",
                           src.loc(src.node), "return arrays or numbers")
    return result


def _join_templates(a, b, fn, src):
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return type(a)(_join_templates(x, y, fn, src) for x, y in zip(a, b))
    if a is BOTTOM:
        return b
    if b is BOTTOM:
        return a
    if _same_static(a, b) and not isinstance(a, Slot):
        return a

    def leaf(x):
        if isinstance(x, Slot):
            return x
        if is_static_scalar(x):
            dt, weak = scalar_aval(x)
            return Slot(TensorType((), dt), weak)
        raise CompileError(f"'{fn.__name__}' returns values of different kinds on different paths",
                           src.loc(src.node))
    x, y = leaf(a), leaf(b)
    if x.type.shape != y.type.shape:
        raise CompileError(f"'{fn.__name__}' returns shape {x.type.shape} on one path and "
                           f"{y.type.shape} on another", src.loc(src.node))
    dt, weak = promote_pair((x.type.dtype, x.weak), (y.type.dtype, y.weak))
    return Slot(x.type.with_dtype(dt), weak)


def lower_entry(fn, args: list, static: set[int] | None = None, kwargs: dict | None = None,
                bound: tuple[tuple, dict] | None = None) -> tuple[Module, object, tuple[str, ...]]:
    """Lower `fn` for these example arguments (arrays, Python scalars, tuples of them;
    positions in `static` are baked in; parameters not passed take their defaults as
    compile-time constants). `bound`: (positional, keyword) arguments a functools.partial
    binds, passed before the call's own (whose keywords override them) as constants, as
    values read from globals and closures are. Returns the module, the result template and
    whether the entry returns a loop-limit flag last (flags.py). The entry function's
    parameters are the traced arguments in signature order."""
    static = static or set()
    src = function_source(fn)
    ctx = Context()

    def abstract(v, pos):
        return v if pos in static else _abstract_arg(v, pos, fn.__name__, src.loc(src.node))

    pre, prekw = bound or ((), {})
    abstract_args = [_Bound(a) for a in pre] + [abstract(a, i) for i, a in enumerate(args)]
    abstract_kwargs = {k: _Bound(v) for k, v in prekw.items()}
    abstract_kwargs.update({k: abstract(v, k) for k, v in (kwargs or {}).items()})
    lw = Lowerer(ctx, src, fn, Builder(Region()), {})
    if src.node.args.vararg is not None:
        raise CompileError(f"'{fn.__name__}' takes *args, which a compiled entry function cannot",
                           src.loc(src.node), "name its parameters, or call it from a compiled function")
    bound = lw.bind(src.node.args, list(fn.__defaults__ or ()), fn.__kwdefaults__ or {}, abstract_args,
                    abstract_kwargs, fn.__name__, src.node)
    key = _spec_key(fn, bound)
    spec = build_spec(ctx, fn, src, bound, key, src.loc(src.node), entry=True)
    entry_fn = spec.function
    if any(isinstance(v, (tuple, list)) for v in bound.values()):
        entry_fn = _flat_callee(ctx, entry_fn)
    _tuple_params(entry_fn, bound)
    order = [entry_fn.name] + [n for n in ctx.functions if n != entry_fn.name]
    module, flagged = thread_flags(_prune(Module([ctx.functions[n] for n in order])))
    return module, spec.template, flagged


def flatten_tuple_results(module: Module) -> Module:
    """A copy of `module` whose entry returns the leaves of each tuple result (in order) as
    results of their own (the canonicalizer folds the `tuple_get`s into the leaves), as the
    template `split_tuple_slots` gives reads them."""
    functions = [Function(f.name, clone_region(f.body, {}), f.result_types) for f in module.functions.values()]
    entry = functions[0]
    ret = entry.body.ops[-1]
    ops = []

    def split(v):
        if not isinstance(v.type, TupleType):
            return [v]
        out = []
        for k, t in enumerate(v.type.elements):
            e = Value(t, v.hint)
            ops.append(Op("tuple_get", [v], {"index": k}, [e]))
            out.extend(split(e))
        return out
    results = [x for v in ret.operands for x in split(v)]
    entry.body.ops = entry.body.ops[:-1] + ops + [Op("return", results, {}, [], (), ret.loc)]
    entry.result_types = [v.type for v in results]
    return Module(functions)


def split_tuple_slots(t):
    """A template whose tuple-typed slots are tuples of slots, one per element."""
    if isinstance(t, Slot) and isinstance(t.type, TupleType):
        return tuple(split_tuple_slots(Slot(e, t.weak)) for e in t.type.elements)
    if isinstance(t, (tuple, list)):
        return type(t)(split_tuple_slots(x) for x in t)
    return t


def _abstract_arg(v, pos, name: str, loc):
    """An entry argument as the frontend sees it: a traced Dyn for an array or a number
    (tuples of them stay tuples)."""
    if isinstance(v, (tuple, list)):
        return tuple(_abstract_arg(x, pos, name, loc) for x in v)
    if isinstance(v, (bool, int, float)) and not isinstance(v, np.generic):
        dt, weak = scalar_aval(v)
        return Dyn(Value(TensorType((), dt)), weak)
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        try:
            dt = "key" if "key" in str(v.dtype) else dtype_of_numpy(v.dtype)
        except TypeError:
            raise CompileError(f"argument {pos} of '{name}' has dtype {v.dtype}, which compiled code does not "
                               "take", loc, "bool, integers and float16/32/64 are supported") from None
        return Dyn(Value(TensorType(tuple(v.shape), dt)), False)
    raise CompileError(f"argument {pos} of '{name}' is {describe(v)}; compiled functions take "
                       "arrays, numbers and tuples of them", loc, "mark other arguments static with static_argnums")


def lower_closure(clo: Closure, args: list, kwargs: dict) -> tuple[Module, object, list[Value]]:
    """A function defined inside compiled code as a program of its own, for a transform
    to apply to (ppc.grad(lambda v: loss(v, x))): closure conversion. Its body is lowered
    where it was defined, so it reads the enclosing program's values as Python would; each
    such value becomes a parameter after its own, and the values themselves (the
    enclosing program's) are returned for the call to pass. A transform then treats them
    as the constants they are inside the closure, and a derivative of the whole program
    still flows through them."""
    definer: Lowerer = clo.env
    ctx = Context()
    loc = definer.src.loc(clo.node)
    region = Region()
    ctx.top_regions.add(region)
    lw = Lowerer(ctx, definer.src, definer.pyfn, Builder(region, loc), {}, parent=definer)
    bound = lw.bind(clo.node.args, clo.defaults, clo.kwdefaults,
                    [_abstract_arg(a, i, clo.name, loc) for i, a in enumerate(args)],
                    {k: _abstract_arg(v, k, clo.name, loc) for k, v in kwargs.items()}, clo.name, clo.node)
    lw.env = {name: _param_tree(v, name, region) for name, v in bound.items()}
    if isinstance(clo.node, gast.Lambda):
        result = lw.expr(clo.node.body)
    else:
        result = lw.function_body(clo.node.body)
    if contains_bottom(result):  # it reads a recursive call's result whose type is still inferred
        raise _UnknownResult()
    result = _materialize_all(lw, result)
    template = _result_template(result, clo, definer.src)
    vals = lw.materialize(template, result) if _has_slot(template) else []
    lw.builder.append(Op("return", vals, {}, []))
    fn = Function(ctx.fresh_name(clo.name.strip("<>")), region, [v.type for v in vals])
    _tuple_params(fn, bound)
    captured = _capture_free_values(fn)
    module = _prune(Module([fn] + list(ctx.functions.values())))
    for other in list(module.functions.values())[1:]:
        if _capture_free_values(other):  # (calls pass only their arguments: nothing else reaches them)
            raise InternalError(f"frontend: function '{other.name}' reads values of the program calling "
                                f"'{clo.name}'")
    return module, template, captured


class _UnknownResult(Exception):
    """A function defined inside compiled code, given to a transform (ppc.grad(lambda v:
    ...)), reads a recursive call's result while that result's type is still inferred:
    the call's result is unknown (BOTTOM) too, until the next pass."""


def _capture_free_values(fn: Function) -> list[Value]:
    """The values `fn` reads but does not define, each replaced by a new trailing
    parameter; returned in parameter order."""
    defined = set(fn.body.params)
    for op in walk_ops(fn.body):
        defined.update(op.results)
        for r in op.regions:
            defined.update(r.params)
    free: dict[Value, Value] = {}
    for op in walk_ops(fn.body):
        for k, v in enumerate(op.operands):
            if v not in defined:
                if v not in free:
                    free[v] = Value(v.type, v.hint)
                    fn.body.params.append(free[v])
                op.operands[k] = free[v]
    return list(free)


def _lifted(func):
    """The closure's program (api.Lifted) a transform was made from, down its bases; None
    for a transform of a function defined outside compiled code."""
    while func is not None and not hasattr(func, "closure"):
        func = getattr(func, "base", None)
    return func


def _reads_enclosing(v) -> bool:
    """Whether `v` is a function that reads the values of the program where it was made: a
    nested function, or a transform of one (ppc.grad(lambda ...))."""
    return isinstance(v, Closure) or (hasattr(v, "__ppc_call_ir__") and _lifted(v) is not None)


def _forget(func) -> None:
    """Drop what a transform of a closure built, down to the closure's own program."""
    while func is not None:
        func._cache.clear()
        func = getattr(func, "base", None)


def _captured_operands(func, args: list, kwargs: dict) -> list[Value]:
    """For a transform of a closure (`Lifted`, see lower_closure): the enclosing program's
    values its program takes after its own arguments."""
    while not hasattr(func, "closure"):
        base = getattr(func, "base", None)
        if base is None:
            return []
        args = args[getattr(func, "drop_first", 0):len(args) - getattr(func, "drop_last", 0)]
        func = base
    return func.specialize(*args, **kwargs).captured


def _flat_callee(ctx, fn: Function) -> Function:
    """An entry taking tuples that calls itself: its calls pass the tuples' leaves, so its
    body keeps that flat signature under a new name, and the entry (whose tuple
    parameters `_tuple_params` then makes) calls it. An entry nothing calls stays as it is."""
    calls = [op for f in ctx.functions.values() for op in walk_ops(f.body)
             if op.prim == "call" and op.attrs["callee"] == fn.name]
    if not calls:
        return fn
    inner = ctx.fresh_name(f"{fn.name}_flat")
    for op in calls:
        op.attrs["callee"] = inner
    ctx.functions[inner] = Function(inner, fn.body, fn.result_types)
    params = [Value(p.type, p.hint) for p in fn.body.params]
    results = [Value(t) for t in fn.result_types]
    body = Region(params, [Op("call", params, {"callee": inner}, results), Op("return", results, {}, [])])
    entry = Function(fn.name, body, fn.result_types)
    ctx.functions[fn.name] = entry
    return entry


def _tuple_params(fn: Function, bound: dict):
    """Tuple arguments arrive as one `tuple<...>` parameter unpacked by `tuple_get`."""
    params, prologue = [], []
    flat = iter(list(fn.body.params))
    for name, v in bound.items():
        if isinstance(v, Dyn):
            params.append(next(flat))
        elif isinstance(v, (tuple, list)) and (_dyn_leaves(v) or not v):  # () too: the caller passes it
            def ty(x):
                if isinstance(x, Dyn):
                    return x.type
                return TupleType(tuple(ty(e) for e in x if _dyn_leaves(e) or isinstance(e, Dyn)))
            p = Value(ty(v), name)
            params.append(p)

            def unpack(x, src_val):
                k = 0
                for e in x:
                    if isinstance(e, Dyn):
                        leaf = next(flat)
                        prologue.append(Op("tuple_get", [src_val], {"index": k}, [leaf]))
                        k += 1
                    elif isinstance(e, (tuple, list)) and _dyn_leaves(e):
                        sub = Value(ty(e), name)
                        prologue.append(Op("tuple_get", [src_val], {"index": k}, [sub]))
                        unpack(e, sub)
                        k += 1
            unpack(v, p)
    fn.body.params = params
    fn.body.ops = prologue + fn.body.ops


def _prune(module: Module) -> Module:
    """Keep only functions reachable from the entry."""
    from ..ir import walk_ops
    keep, todo = set(), [module.entry.name]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        for op in walk_ops(module.functions[name].body):
            if op.prim == "call":
                todo.append(op.attrs["callee"])
    return Module([f for n, f in module.functions.items() if n in keep])
