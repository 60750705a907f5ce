"""ppc.autobatch: run a single-example program on a whole batch at once.

Every array argument has a leading batch axis; one of size 1 (and any Python number) is
shared by all members and stays unbatched inside; every result is batched. A tuple or
list argument is shared: each array in it has a leading axis of size 1 (`shared` adds
it); arrays batched inside one are refused, not yet supported.

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

import jax

from .ad import Derived, as_compiled
from .frontend.lower import Slot
from .frontend.values import leaves
from .ir import CompileError, TensorType
from .ir.callgraph import recursive_call
from .passes.batch import batch_module
from .passes.pc import DEFAULT_MAX_STACK_DEPTH
from .passes.ppl import refuse_model

STRATEGIES = ("program_counter", "local_static")


def _is_array(a) -> bool:
    return hasattr(a, "shape") and hasattr(a, "dtype")


def _first(tree):
    """A shared argument as each member sees it: its arrays without their size-1 axis."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(_first(t) for t in tree)
    return tree[0] if _is_array(tree) else tree


def shared(tree):
    """An argument every member shares: each array in it gains a leading axis of size 1."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(shared(t) for t in tree)
    return tree[None] if _is_array(tree) else tree


class Batched(Derived):
    _prepared = False

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"a batched function takes its arguments by position (each with its batch axis); "
                            f"got keyword argument '{next(iter(kwargs))}'")
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
        per device would make every size-1 argument look batched)."""
        arrays = [a for a in leaves(list(args)) if _is_array(a)]
        if not arrays:
            raise ValueError("autobatch needs at least one array argument with a leading batch axis")
        if any(len(a.shape) == 0 for a in arrays):
            raise ValueError("every array argument of a batched function (and every array in a tuple or list "
                             "argument) needs a leading batch axis")
        size = max(a.shape[0] for a in arrays)
        bad = [a.shape[0] for a in arrays if a.shape[0] not in (1, size)]
        if bad:
            raise ValueError(f"batch sizes {sorted({size, *bad})} differ (only size-1 arguments broadcast)")
        for i, a in enumerate(args):
            if isinstance(a, (tuple, list)) and size > 1 and any(
                    _is_array(x) and x.shape[0] == size for x in leaves(a)):
                raise ValueError(f"argument {i} is a {type(a).__name__} holding arrays with the batch axis "
                                 f"(size {size}): batching inside a {type(a).__name__} is not supported yet; pass "
                                 "those arrays as arguments of their own (a leading axis of size 1 shares one)")
        # a size-1 argument is shared by every member: it is passed unbatched (never copied)
        self._flags = flags or tuple(_is_array(a) and (a.shape[0] == size or size == 1) for a in args)
        self._size = size
        return [a if f else _first(a) for a, f in zip(args, self._flags)]

    def _key(self, args, kwargs):
        return (self._flags, self._size) + super()._key(args, kwargs)

    def _entry_flags(self, module) -> list[bool]:
        """Which entry parameters of the member program carry a batch axis."""
        dyn = [f for i, f in enumerate(self._flags) if i not in self.base.static_argnums]
        return [isinstance(p.type, TensorType) and f for p, f in zip(module.entry.params, dyn)]

    def _lower(self, args, kwargs):
        member = [jax.ShapeDtypeStruct(tuple(a.shape[1:]), a.dtype) if f else a for a, f in zip(args, self._flags)]
        spec = self.base.specialize(*member, **kwargs)
        refuse_model(spec.canonical)
        if spec.flagged:
            raise CompileError("autobatch of a function that records while loops for reverse mode is not supported")
        template = _batched_template(spec.template, self._size)
        if self.strategy == "program_counter":  # the machine is built from the member program
            return spec.canonical, template, False
        return batch_module(spec.canonical, tuple(self._entry_flags(spec.canonical)), self._size), template, False

    def _attach_machine(self, spec):
        if self.strategy == "program_counter":
            self._machine(spec, self._entry_flags(spec.canonical), self._size, squeeze=False)

    def __ppc_call_ir__(self, args, kwargs):
        if self.strategy == "program_counter":
            raise CompileError("a program-counter batched function cannot be called from compiled code "
                               "(its stack-overflow check runs in Python); call it from Python, or use "
                               "strategy='local_static'")
        ir = super().__ppc_call_ir__(args, kwargs)
        call = recursive_call(ir[0])
        if call is not None:
            raise CompileError("a locally batched recursive function runs its recursion in host Python, so it "
                               "cannot be called from compiled code; call it from Python", call.loc)
        return ir


def _batched_template(t, size):
    if isinstance(t, Slot):
        return Slot(TensorType((size,) + t.type.shape, t.type.dtype), False)
    if isinstance(t, (tuple, list)):
        return type(t)(_batched_template(x, size) for x in t)
    return t


def autobatch(f, strategy: str = "program_counter", max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH):
    """The function on batches: inputs gain a leading batch axis; results are batched.
    `max_stack_depth` bounds the recursion depth of the program-counter machine (deeper
    recursion raises StackOverflowError, never a wrong answer)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if not isinstance(max_stack_depth, int) or max_stack_depth < 1:
        raise ValueError(f"max_stack_depth must be a positive int, got {max_stack_depth!r}")
    base = as_compiled(f)
    batched = Batched(base, None, f"batched_{base.__name__}")  # Batched._lower builds the IR itself
    batched.strategy, batched.max_stack_depth = strategy, max_stack_depth
    return batched


__all__ = ["autobatch"]
