"""`ppc.compile`: the path of a program through the stages, cached per argument signature.

    Python function --frontend--> IR --canonicalize--> IR --backend--> source --> XLA
"""
from __future__ import annotations

import functools
import inspect
import os
from dataclasses import dataclass


from .frontend import lower_entry
from .frontend.arrays import NUMPY_SCALAR
from .frontend.lower import Slot
from .ir import Module
from .passes import run_passes

BACKENDS = ("jax",)


@dataclass
class Specialization:
    ir: Module  # straight from the frontend
    canonical: Module
    template: object  # result tree, Slot leaves
    flagged: bool = False  # the last output is a loop-overflow flag (reverse mode)
    source: str | None = None
    executable: object = None
    unflatten: object = None


def _leaf_signature(v):
    """What a compiled specialization depends on: array shape and dtype, Python type."""
    t = type(v)
    if t is tuple or t is list:
        return ("seq",) + tuple(_leaf_signature(x) for x in v)
    if t is bool or t is int or t is float:
        return t
    shape = getattr(v, "shape", None)
    if shape is not None and hasattr(v, "dtype"):
        return (shape if type(shape) is tuple else tuple(shape), v.dtype)
    return ("object", t)


def _to_runtime(v):
    """Python numbers become NumPy scalars of the dtype the IR gave them."""
    t = type(v)
    if t in NUMPY_SCALAR:
        return NUMPY_SCALAR[t](v)
    if t is tuple or t is list:
        return tuple(_to_runtime(x) for x in v)
    return v


def _fill(template, it):
    if isinstance(template, Slot):
        return next(it)
    if isinstance(template, (tuple, list)):
        return type(template)(_fill(t, it) for t in template)
    return template


class LoopLimitError(RuntimeError):
    """A `while` loop ran longer than the stack reverse mode recorded it on."""


def _check_flag(flag):
    if bool(flag):
        raise LoopLimitError(
            "a while loop ran more iterations than reverse-mode differentiation recorded "
            "(max_iterations); the derivative would be wrong, so none is returned. Pass a larger "
            "max_iterations= to ppc.grad / ppc.vjp / ppc.value_and_grad.")


def _unflattener(template, flagged=False):
    """None when the executable already returns the result's structure (one array, or a
    flat tuple of arrays); else a function from its output tuple to that structure. A
    flagged executable's last output is checked and dropped."""
    if flagged:
        def unflatten(out):
            _check_flag(out[-1])
            return _fill(template, iter(out[:-1]))
        return unflatten
    if isinstance(template, Slot) or (isinstance(template, tuple) and all(isinstance(t, Slot) for t in template)):
        return None
    return lambda out: _fill(template, iter(out))


class Compiled:
    """A Python function compiled by ppc; call it like the function itself."""

    def __init__(self, fn, backend: str = "jax", static_argnums=()):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
        if isinstance(fn, Compiled):
            fn = fn.__ppc_function__
        if not inspect.isfunction(fn):
            raise TypeError(f"ppc.compile needs a Python function, got {type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self.__ppc_function__ = fn
        self.backend = backend
        self.static_argnums = frozenset((static_argnums,) if isinstance(static_argnums, int) else static_argnums)
        self._cache: dict = {}

    def _split(self, args, kwargs):
        """Positional arguments, and keyword arguments in signature order (parameters
        not passed are left to their defaults, which compile as constants)."""
        if not kwargs:
            return list(args), {}
        sig = inspect.signature(self.__ppc_function__)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__name__}(): {e}") from None
        names = list(sig.parameters)
        pos = [bound.arguments[n] for n in names[:len(args)]]
        kw = {n: bound.arguments[n] for n in names[len(args):] if n in bound.arguments}
        return pos, kw

    def _key(self, args, kwargs):
        static = self.static_argnums
        key = tuple(("static", type(a), a) if i in static else _leaf_signature(a) for i, a in enumerate(args))
        if kwargs:
            key += tuple((k, _leaf_signature(v)) for k, v in kwargs.items())
        return key

    def specialize(self, *args, **kwargs) -> Specialization:
        args, kwargs = self._split(args, kwargs)
        key = self._key(args, kwargs)
        spec = self._cache.get(key)
        if spec is None:
            ir, template, flagged = self._lower(args, kwargs)
            canonical = run_passes(ir, ["canonicalize"])
            spec = Specialization(ir, canonical, template, flagged, unflatten=_unflattener(template, flagged))
            self._cache[key] = spec
        return spec

    def _lower(self, args, kwargs):
        """(IR module, result template, flagged) for these arguments."""
        ir, template = lower_entry(self.__ppc_function__, args, set(self.static_argnums), kwargs)
        return ir, template, False

    def _executable(self, spec: Specialization):
        if spec.executable is None:
            from .backends.jax import compile_module
            fn = self.__ppc_function__
            origin = f"{os.path.basename(inspect.getsourcefile(fn) or '?')}:{fn.__name__}"
            single = isinstance(spec.template, Slot) and not spec.flagged
            spec.source, spec.executable = compile_module(spec.canonical, origin, single_result=single)
        return spec.executable

    def __call__(self, *args, **kwargs):
        if not kwargs and not self.static_argnums:
            # fast path: all arguments arrays, already compiled (keys match _leaf_signature's)
            try:
                spec = self._cache.get(tuple([(a.shape, a.dtype) if type(a) is not tuple else
                                              ("seq",) + tuple([(x.shape, x.dtype) for x in a]) for a in args]))
            except AttributeError:
                spec = None
            if spec is not None and spec.executable is not None:
                out = spec.executable(*args)
                return out if spec.unflatten is None else spec.unflatten(out)
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        if kwargs:
            args, kwargs = self._split(args, kwargs)
        spec = self._cache.get(self._key(args, kwargs))
        if spec is None or spec.executable is None:
            spec = self.specialize(*args, **kwargs)
            self._executable(spec)
        static = self.static_argnums
        if static:
            runtime = [_to_runtime(a) for i, a in enumerate(args) if i not in static]
        else:
            runtime = [_to_runtime(a) for a in args]
        if kwargs:
            runtime += [_to_runtime(v) for v in kwargs.values()]
        out = spec.executable(*runtime)
        return out if spec.unflatten is None else spec.unflatten(out)

    def ir(self, *args, **kwargs) -> Module:
        """The IR the frontend produces for these arguments."""
        return self.specialize(*args, **kwargs).ir

    def canonical_ir(self, *args, **kwargs) -> Module:
        return self.specialize(*args, **kwargs).canonical

    def source(self, *args, **kwargs) -> str:
        """The generated backend source for these arguments."""
        spec = self.specialize(*args, **kwargs)
        self._executable(spec)
        return spec.source


def compile(fn=None, *, backend: str = "jax", static_argnums=()):
    """Compile a Python function: `@ppc.compile`, `@ppc.compile(backend="jax")` or
    `ppc.compile(f, static_argnums=(1,))`."""
    if fn is None:
        return lambda f: Compiled(f, backend, static_argnums)
    return Compiled(fn, backend, static_argnums)
