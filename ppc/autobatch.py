"""ppc.autobatch: run a single-example program on a whole batch at once.

`strategy="local_static"` batches the program op by op (ppc/passes/batch.py): every
array argument has a leading batch axis; one of size 1 (and any Python number) is shared
by all members and stays unbatched inside; every result is batched. The program-counter strategy,
which also batches recursion, is not implemented yet.
"""
from __future__ import annotations

import jax
import numpy as np

from .ad import Derived, as_compiled
from .frontend.lower import Slot
from .ir import CompileError, TensorType
from .passes.batch import batch_module

STRATEGIES = ("program_counter", "local_static")


def _is_array(a) -> bool:
    return hasattr(a, "shape") and hasattr(a, "dtype")


class Batched(Derived):
    _prepared = False

    def __call__(self, *args):
        args = self._prepare(args)
        self._prepared = True
        try:
            return super().__call__(*args)
        finally:
            self._prepared = False

    def specialize(self, *args, **kwargs):
        """(Also behind .ir/.canonical_ir/.source, which take batched arguments too.)"""
        if not self._prepared:
            args = self._prepare(args)
        return super().specialize(*args, **kwargs)

    def _prepare(self, args):
        """Arguments as the compiled program takes them; records which are batched."""
        arrays = [a for a in args if _is_array(a)]
        if not arrays:
            raise ValueError("autobatch needs at least one array argument with a leading batch axis")
        if any(np.ndim(a) == 0 for a in arrays):
            raise ValueError("every array argument of a batched function needs a leading batch axis")
        size = max(a.shape[0] for a in arrays)
        bad = [a.shape[0] for a in arrays if a.shape[0] not in (1, size)]
        if bad:
            raise ValueError(f"batch sizes {sorted({size, *bad})} differ (only size-1 arguments broadcast)")
        # a size-1 argument is shared by every member: it is passed unbatched (never copied)
        self._flags = tuple(_is_array(a) and (a.shape[0] == size or size == 1) for a in args)
        self._size = size
        return [a[0] if _is_array(a) and not f else a for a, f in zip(args, self._flags)]

    def _key(self, args, kwargs):
        return (self._flags, self._size) + super()._key(args, kwargs)

    def _lower(self, args, kwargs):
        size, batched = self._size, self._flags
        member = [jax.ShapeDtypeStruct(tuple(a.shape[1:]), a.dtype) if f else a for a, f in zip(args, batched)]
        spec = self.base.specialize(*member, **kwargs)
        if spec.flagged:
            raise CompileError("autobatch of a function that records while loops for reverse mode is not supported")
        entry = spec.canonical.entry
        dyn = [f for i, f in enumerate(batched) if i not in self.base.static_argnums]
        flags = [isinstance(p.type, TensorType) and f for p, f in zip(entry.params, dyn)]
        module = batch_module(spec.canonical, tuple(flags), size)
        return module, _batched_template(spec.template, size), False


def _batched_template(t, size):
    if isinstance(t, Slot):
        return Slot(TensorType((size,) + t.type.shape, t.type.dtype), False)
    if isinstance(t, (tuple, list)):
        return type(t)(_batched_template(x, size) for x in t)
    return t


def autobatch(f, strategy: str = "program_counter", max_stack_depth: int | None = None):
    """The function on batches: inputs gain a leading batch axis; results are batched."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if strategy == "program_counter":
        raise NotImplementedError("the program-counter strategy is not implemented yet; "
                                  "use strategy='local_static' (no recursion on traced values)")
    base = as_compiled(f)
    return Batched(base, None, f"batched_{base.__name__}")  # Batched._lower builds the IR itself


__all__ = ["autobatch"]
