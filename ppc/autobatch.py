"""ppc.autobatch: run a single-example program on a whole batch at once.

Every array argument has a leading batch axis; one of size 1 (and any Python number) is
shared by all members and stays unbatched inside; every result is batched. In a tuple or
list argument (nested too) each array is batched or shared by the same rule, on its own:
a state tuple may mix per-member arrays with shared ones (`shared` gives every array in
a tree the leading axis of size 1). The member program then takes such a tuple's leaves
as parameters of their own (`_flatten_params`), so both strategies see arrays only; the
compiled entry still takes the tuple (`_retuple`).

- `strategy="program_counter"` (the default) runs the program, recursion included, on
  the program-counter machine (ppc/passes/pc): each member at its own block, one XLA
  while loop for the whole run. After each call `.stats` says how many blocks ran and
  the batch utilization.
- `strategy="local_static"` batches the program op by op (ppc/passes/batch.py), keeping
  its structure: members wait for each other at every branch and loop. Recursion is
  inherited from host Python: such a program runs eagerly, its branches and loops
  deciding in Python, and only as deep as Python's stack.
"""
from __future__ import annotations

import contextlib
import inspect

import jax
import numpy as np

from .ad import Derived, as_compiled
from .frontend.lower import Slot, flatten_tuple_results, split_tuple_slots
from .frontend.values import leaves
from .ir import Builder, CompileError, Function, Module, Op, Region, TensorType, TupleType, Value, clone_region, walk_ops
from .ir.callgraph import recursive_call
from .passes import run_passes
from .passes.batch import batch_module
from .passes.flags import stack_limit
from .passes.ppl import refuse_model

STRATEGIES = ("program_counter", "local_static")


def _is_array(a) -> bool:
    """(A NumPy scalar, np.float32(0.5) or np.float64(x.mean()), is a number, shared as
    Python numbers are; a 0-d array is an array without a batch axis.)"""
    return hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, np.generic)


def _first(tree):
    """A shared argument as each member sees it: its arrays without their size-1 axis (an
    abstract one, from compiled code calling the batched function, as its shape and dtype)."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(_first(t) for t in tree)
    if not _is_array(tree):
        return tree
    return tree[0] if hasattr(tree, "__getitem__") else jax.ShapeDtypeStruct(tuple(tree.shape[1:]), tree.dtype)


def shared(tree):
    """An argument every member shares: each array in it gains a leading axis of size 1."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(shared(t) for t in tree)
    return tree[None] if _is_array(tree) else tree


class Batched(Derived):
    _prepared = False

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(_by_position(kwargs))
        # (traced, JAX would fail inside ppc's call: on the machine's compile options or its
        # overflow flag, or on host control flow)
        traced = any(isinstance(a, jax.core.Tracer) for a in leaves(list(args)))
        if traced and self.strategy == "program_counter":
            raise TypeError("a program-counter batched function cannot run under a JAX transformation (jax.jit, "
                            "jax.vmap, ...): its stack-overflow check runs in Python on the machine's result; "
                            "call it from Python, with the whole batch")
        args = self._prepare(args)
        with self.prepared():
            call = recursive_call(self.specialize(*args).canonical) if traced else None
            if call is not None:
                raise CompileError("a locally batched recursive function runs its recursion in host Python, so it "
                                   "cannot run under a JAX transformation (jax.jit, jax.vmap, ...); call it from "
                                   "Python", call.loc)
            return super().__call__(*args)

    @contextlib.contextmanager
    def prepared(self):
        """Within it, the arguments this function is given are already prepared (`_prepare`)."""
        self._prepared = True
        try:
            yield
        finally:
            self._prepared = False

    def specialize(self, *args, **kwargs):
        """(Also behind .ir/.canonical_ir/.source, which take batched arguments too.)"""
        if not self._prepared:
            args = self._prepare(args)
        return super().specialize(*args, **kwargs)

    def _prepare(self, args, flags=None):
        """Arguments as the compiled program takes them; records which are batched (or
        takes `flags`: a batch split over devices keeps the whole batch's, since one member
        per device would make every size-1 argument look batched). An array is batched when
        its leading axis is the batch size (or the batch size is 1), else shared; in a tuple
        or list each array is, on its own: the argument's flag is then a tuple of flags in
        its shape (False when none of its arrays is batched)."""
        arrays = [(i, path, a) for i, x in enumerate(args) for path, a in _paths(x) if _is_array(a)]
        if not arrays:
            raise ValueError("autobatch needs at least one array argument with a leading batch axis")
        for i, path, a in arrays:
            if len(a.shape) == 0:
                raise ValueError("every array argument of a batched function (and every array in a tuple or list "
                                 f"argument) needs a leading batch axis: {self._describe(i, path)} is a scalar array")
        size = max(a.shape[0] for _, _, a in arrays)
        if any(a.shape[0] not in (1, size) for _, _, a in arrays):
            first = {}  # each leading size other than 1: the first array with it
            for i, path, a in arrays:
                if a.shape[0] != 1:
                    first.setdefault(a.shape[0], (i, path))
            which = ", ".join(f"{self._describe(*first[n])} has a leading axis of {n}" for n in sorted(first))
            raise ValueError(f"batch sizes {sorted(first)} differ (only size-1 arguments broadcast): {which}")
        # a size-1 argument is shared by every member: it is passed unbatched (never copied)
        self._flags = flags or tuple(_flag(a, size) for a in args)
        self._size = size
        return [_select(a, f) for a, f in zip(args, self._flags)]

    def _describe(self, i, path=()) -> str:
        """Argument i (by name where the signature has one), or an element of it at `path`."""
        try:
            names = [n for n, p in inspect.signature(self.__ppc_function__).parameters.items()
                     if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            names = []
        out = f"argument {i}" + (f" ('{names[i]}')" if i < len(names) else "")
        return out + (" element " + "".join(f"[{k}]" for k in path) if path else "")

    def _flat_flags(self) -> list:
        """The flags of the dynamic arguments, a tuple argument's batched leaves each one."""
        dyn = [f for i, f in enumerate(self._flags) if i not in self.base.static_argnums]
        return [x for f in dyn for x in (leaves(f) if isinstance(f, tuple) else [f])]

    def _layout(self) -> list:
        """Per dynamic argument: None, or (a tuple with batched leaves) its shape (`_shape`)."""
        return [_shape(f) if isinstance(f, tuple) else None
                for i, f in enumerate(self._flags) if i not in self.base.static_argnums]

    def _key(self, args, kwargs):
        return (self._flags, self._size) + super()._key(args, kwargs)

    def _entry_flags(self, module) -> list[bool]:
        """Which entry parameters of the member program carry a batch axis (a tuple with
        batched leaves has had them made parameters of their own: `_flatten_params`). A
        closure's program (api.Lifted) takes the values it reads from the program around it
        last: every member reads the same, so they are shared."""
        flags = self._flat_flags()
        flags += [False] * (len(module.entry.params) - len(flags))
        return [isinstance(p.type, TensorType) and bool(f) for p, f in zip(module.entry.params, flags)]

    def _lower(self, args, kwargs):
        member = [_member(a, f) for a, f in zip(args, self._flags)]
        spec = self.base.specialize(*member, **kwargs)
        refuse_model(spec.canonical)
        template = _batched_template(split_tuple_slots(spec.template), self._size)
        module, layout = spec.canonical, self._layout()
        flat_results = any(isinstance(t, TupleType) for t in module.entry.result_types)
        if flat_results:  # a tuple result (ppc.grad of a tuple argument): each leaf a result
            module = flatten_tuple_results(module)
        if any(t is not None for t in layout):  # tuples with batched leaves: each leaf a parameter
            module = _flatten_params(module, layout)
        if flat_results or any(t is not None for t in layout):
            module = run_passes(module, ["canonicalize"])
        # (a loop-limit flag stays the last result, one per member: any raised is an error)
        if self.strategy == "program_counter":  # the machine is built from the member program
            return module, template, spec.flagged
        out = batch_module(module, tuple(self._entry_flags(module)), self._size)
        _retuple(out.entry, layout)
        return out, template, spec.flagged

    def _attach_machine(self, spec):
        if self.strategy == "program_counter":
            self._machine(spec, self._entry_flags(spec.canonical), self._size, squeeze=False)
            layout = self._layout()
            if any(t is not None for t in layout):  # (the machine takes the tuples, as the function does)
                spec.flat_machine = spec.machine.entry
                entry = spec.flat_machine
                body = clone_region(entry.body, {})
                fn = Function(entry.name, body, entry.result_types)
                _retuple(fn, layout)
                spec.machine = Module([fn])

    def __ppc_call_ir__(self, args, kwargs):
        """(Misuse, arguments from compiled code as from Python, is a CompileError, which
        the caller reports at the call's line.)"""
        if kwargs:
            raise CompileError(_by_position(kwargs))
        try:
            if self.strategy == "program_counter":
                module, template, flagged = self._machine_call_ir(args, kwargs)
            else:
                module, template, flagged = super().__ppc_call_ir__(args, kwargs)
        except ValueError as e:  # (from _prepare: batch sizes, scalar arrays, no array at all)
            raise CompileError(str(e), None, "every array argument of a batched function has a leading batch axis "
                               "of the batch size, or of 1 (shared by every member)") from None
        if self.strategy != "program_counter":
            call = recursive_call(module)
            if call is not None:
                raise CompileError("a locally batched recursive function runs its recursion in host Python, so it "
                                   "cannot be called from compiled code", call.loc,
                                   "batch it with strategy='program_counter', whose machine compiled code can run, "
                                   "or call it from Python")
        return _shared_axes(module, self._dynamic(args), self._dynamic(self._flags)), template, flagged

    def _dynamic(self, args):
        return [a for i, a in enumerate(args) if i not in self.base.static_argnums]

    def _machine_call_ir(self, args, kwargs):
        """The machine as compiled code calls it: its results, then its limits' flags, its
        stack overflow last among them (flags.py threads them out to the caller's result);
        the per-block counters are dropped (`.stats` is for calls from Python)."""
        spec = self.specialize(*args, **kwargs)
        machine = spec.machine.entry
        body = clone_region(machine.body, {})
        ret = body.ops[-1]
        ret.operands = ret.operands[:-2]
        fn = Function(machine.name, body, machine.result_types[:-2])
        return Module([fn]), spec.template, spec.flagged + (stack_limit(self.max_stack_depth),)


def _by_position(kwargs) -> str:
    return (f"a batched function takes its arguments by position (each with its batch axis); got keyword argument "
            f"'{next(iter(kwargs))}'")


def _shared_axes(module: Module, args, flags) -> Module:
    """The batched program as compiled code calls it, with each argument as given: an
    array shared by the batch keeps its size-1 axis there, and loses it here (as `_prepare`
    drops it for a call from Python) before the program's entry runs."""
    entry = module.entry

    def outer(t, a, f):
        if isinstance(t, TupleType):
            return TupleType(tuple(outer(e, x, f[k] if isinstance(f, tuple) else f)
                                   for k, (e, x) in enumerate(zip(t.elements, a))))
        return TensorType((1,) + t.shape, t.dtype) if _is_array(a) and not f else t

    params = [Value(outer(p.type, a, f), p.hint) for p, a, f in zip(entry.params, args, flags)]
    if all(p.type == q.type for p, q in zip(params, entry.params)):
        return module
    params += [Value(p.type, p.hint) for p in entry.params[len(params):]]  # (a closure's values)
    b = Builder(Region(params))

    def inner(v, t):
        if v.type == t:
            return v
        if isinstance(t, TupleType):
            return b.op("make_tuple", [inner(b.op("tuple_get", [v], index=k), e) for k, e in enumerate(t.elements)])
        return b.op("reshape", [v], v.hint, shape=t.shape)

    operands = [inner(v, p.type) for v, p in zip(params, entry.params)]
    results = [Value(t) for t in entry.result_types]
    b.append(Op("call", operands, {"callee": entry.name}, results))
    b.append(Op("return", results, {}, []))
    return Module([Function(f"{entry.name}_shared", b.region, list(entry.result_types))] + list(module.functions.values()))


def _paths(tree, path=()):
    """(path, leaf) for every leaf of a tree of tuples and lists."""
    if isinstance(tree, (tuple, list)):
        return [x for k, t in enumerate(tree) for x in _paths(t, path + (k,))]
    return [(path, tree)]


def _leaf_flags(tree, size):
    if isinstance(tree, (tuple, list)):
        return tuple(_leaf_flags(t, size) for t in tree)
    return _is_array(tree) and (tree.shape[0] == size or size == 1)


def _flag(a, size):
    """Whether an argument is batched: an array as its leading axis says; a tuple or list,
    leaf by leaf (a tuple of flags in its shape), or False when no leaf is."""
    if isinstance(a, (tuple, list)):
        f = _leaf_flags(a, size)
        return f if any(leaves(f)) else False
    return _leaf_flags(a, size)


def _select(a, f):
    """An argument as the batched program takes it: shared arrays without their size-1 axis."""
    if isinstance(f, tuple):
        return type(a)(_select(x, g) for x, g in zip(a, f))
    return a if f else _first(a)


def _member(a, f):
    """An argument (as `_select` gives it) as one member sees it."""
    if isinstance(f, tuple):
        return type(a)(_member(x, g) for x, g in zip(a, f))
    return jax.ShapeDtypeStruct(tuple(a.shape[1:]), a.dtype) if f else a


def _take_members(a, f, n):
    """An argument's first n members (its batched arrays' first n rows; shared ones whole)."""
    if isinstance(f, tuple):
        return type(a)(_take_members(x, g, n) for x, g in zip(a, f))
    return a[:n] if f else a


def _shape(f):
    """A tuple argument's shape as its IR type has it (empty tuples hold no value, so they
    are dropped), leaves as True."""
    if isinstance(f, tuple):
        return tuple(_shape(x) for x in f if not isinstance(x, tuple) or leaves(x))
    return True


def _flatten_params(module: Module, layout) -> Module:
    """A copy of `module` whose entry takes the leaves of each tuple parameter `layout`
    marks as parameters of their own (in order), and remakes the tuple from them (the
    canonicalizer then folds its `tuple_get`s into the leaves)."""
    functions = [Function(f.name, clone_region(f.body, {}), f.result_types) for f in module.functions.values()]
    entry = functions[0]
    params, prologue, subst = [], [], {}
    for p, shape in zip(entry.params, layout):
        if shape is None:
            params.append(p)
            continue

        def remake(t, hint):
            if isinstance(t, TupleType):
                v = Value(t, hint)
                prologue.append(Op("make_tuple", [remake(e, hint) for e in t.elements], {}, [v]))
                return v
            leaf = Value(t, hint)
            params.append(leaf)
            return leaf
        subst[p] = remake(p.type, p.hint)
    for op in walk_ops(entry.body):
        op.operands = [subst.get(v, v) for v in op.operands]
    entry.body.params = params
    entry.body.ops = prologue + entry.body.ops
    return Module(functions)


def _retuple(fn: Function, layout):
    """The entry of a batched program built from `_flatten_params`'s: it takes each tuple
    again (of the leaves' batched types) and reads its leaves with `tuple_get`s."""
    old = iter(list(fn.body.params))
    params, prologue = [], []

    def take(shape):
        return [take(x) for x in shape] if isinstance(shape, tuple) else next(old)

    def type_of(tree):
        return TupleType(tuple(type_of(x) for x in tree)) if isinstance(tree, list) else tree.type

    def unpack(tree, src):
        for k, x in enumerate(tree):
            v = Value(type_of(x), src.hint) if isinstance(x, list) else x
            prologue.append(Op("tuple_get", [src], {"index": k}, [v]))
            if isinstance(x, list):
                unpack(x, v)
    for shape in layout:
        if shape is None:
            params.append(next(old))
            continue
        tree = take(shape)
        first = leaves(tree)[0] if leaves(tree) else None
        p = Value(type_of(tree), first.hint if first is not None else None)
        params.append(p)
        unpack(tree, p)
    fn.body.params = params + list(old)  # (and a closure's values from around it: api.Lifted)
    fn.body.ops = prologue + fn.body.ops


def _batched_template(t, size):
    if isinstance(t, Slot):
        return Slot(TensorType((size,) + t.type.shape, t.type.dtype), False)
    if isinstance(t, (tuple, list)):
        return type(t)(_batched_template(x, size) for x in t)
    return t


def autobatch(f, strategy: str = "program_counter", max_stack_depth: int | None = None):
    """The function on batches: inputs gain a leading batch axis; results are batched.
    `max_stack_depth` bounds the recursion depth of the program-counter machine (deeper
    recursion raises StackOverflowError, never a wrong answer); by default the compiled
    function's own (`ppc.compile(f, max_stack_depth=...)`), else DEFAULT_MAX_STACK_DEPTH."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    base = as_compiled(f)
    if max_stack_depth is None:
        max_stack_depth = base.max_stack_depth
    if not isinstance(max_stack_depth, int) or max_stack_depth < 1:
        raise ValueError(f"max_stack_depth must be a positive int, got {max_stack_depth!r}")
    batched = Batched(base, None, f"batched_{base.__name__}")  # Batched._lower builds the IR itself
    batched.strategy, batched.max_stack_depth = strategy, max_stack_depth
    return batched


__all__ = ["autobatch"]
