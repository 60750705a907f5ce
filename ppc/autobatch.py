"""ppc.autobatch: run a single-example program on a whole batch at once.

`strategy="local_static"` batches the program op by op (ppc/passes/batch.py): every
array argument gains a leading batch axis (size-1 arguments broadcast; Python numbers
are shared by all members) and every result is batched. The program-counter strategy,
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
    def __call__(self, *args):
        arrays = [a for a in args if _is_array(a)]
        if not arrays:
            raise ValueError("autobatch needs at least one array argument with a leading batch axis")
        if any(np.ndim(a) == 0 for a in arrays):
            raise ValueError("every array argument of a batched function needs a leading batch axis")
        size = max(a.shape[0] for a in arrays)
        bad = [a.shape[0] for a in arrays if a.shape[0] not in (1, size)]
        if bad:
            raise ValueError(f"batch sizes {sorted({size, *bad})} differ (only size-1 arguments broadcast)")
        args = [np.broadcast_to(a, (size,) + a.shape[1:]) if _is_array(a) and a.shape[0] == 1 and size > 1 else a
                for a in args]
        return super().__call__(*args)

    def _lower(self, args, kwargs):
        size = max(a.shape[0] for a in args if _is_array(a))
        member = [jax.ShapeDtypeStruct(tuple(a.shape[1:]), a.dtype) if _is_array(a) else a for a in args]
        spec = self.base.specialize(*member, **kwargs)
        if spec.flagged:
            raise CompileError("autobatch of a function that records while loops for reverse mode is not supported")
        entry = spec.canonical.entry
        flags = [isinstance(p.type, TensorType) for p in entry.params]
        dyn = [a for i, a in enumerate(args) if i not in self.base.static_argnums]
        flags = [f and _is_array(a) for f, a in zip(flags, dyn)]
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
    return Batched(base, lambda spec, a, k: None, f"batched_{base.__name__}")


__all__ = ["autobatch"]
