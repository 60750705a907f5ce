"""`ppc.compile`: the path of a program through the stages, cached per argument signature.

    Python function --frontend--> IR --canonicalize--> IR --backend--> source --> XLA
"""
from __future__ import annotations

import functools
import importlib
import inspect
import os
from dataclasses import dataclass, field

import jax
import numpy as np

from .frontend import lower_entry
from .frontend.arrays import NUMPY_SCALAR
from .frontend.lower import Slot, flatten_tuple_results, split_tuple_slots
from .ir import Module, TupleType
from .ir.callgraph import recursive_functions
from .passes import run_passes
from .passes.flags import LOOP
from .passes.pc import DEFAULT_MAX_STACK_DEPTH

BACKENDS = ("jax", "tf")


def backend_module(name: str):
    """The backend package ppc/backends/<name>, imported on first use (so TensorFlow loads
    only for backend="tf"). Each has compile_module(module, origin, single_result)."""
    return importlib.import_module(f".backends.{name}", __package__)


@dataclass
class Specialization:
    ir: Module  # straight from the frontend
    canonical: Module
    template: object  # result tree, Slot leaves
    flagged: tuple = ()  # the last outputs are flags of these limits (passes/flags.py)
    source: str | None = None
    executable: object = None
    unflatten: object = None
    # recursion runs on the program-counter machine (ppc/passes/pc): the module that runs
    # it, and the block program it runs
    machine: Module | None = None
    program: object = None
    # what other modules build on this specialization (a model's unconstrained density, a
    # sampler compiled around it), kept with it so a second run reuses their compiled code
    derived: dict = field(default_factory=dict)
    # a closure's program (Lifted): the enclosing program's values it takes after its arguments
    captured: list = field(default_factory=list)


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
    """A `while` loop ran longer, or a recursion made more calls, than reverse mode recorded."""


class StackOverflowError(RuntimeError):
    """A member's recursion went deeper than the program-counter machine's stacks."""


@dataclass
class MachineStats:
    """What the last run of a program-counter machine did: per block (numbered as in
    `ppc-dump --stage pc`), how many steps ran it and how many members it served."""
    size: int
    runs: np.ndarray
    served: np.ndarray

    @property
    def steps(self) -> int:
        """Blocks run: one per step of the machine."""
        return int(self.runs.sum())

    @property
    def utilization(self) -> float:
        """Useful member-steps over executed member-steps (members at the block run / batch size)."""
        return float(self.served.sum() / max(1, self.steps * self.size))

    def block_utilization(self, block: int) -> float:
        return float(self.served[block] / max(1, self.runs[block] * self.size))

    def __str__(self):
        rows = [f"{self.steps} steps, batch {self.size}, utilization {self.utilization:.3f}",
                "block      runs    served  utilization"]
        rows += [f"{i:5d} {r:9d} {s:9d}  {self.block_utilization(i):11.3f}"
                 for i, (r, s) in enumerate(zip(self.runs, self.served)) if r]
        return "\n".join(rows)


def _traced(flag, limit: str):
    """A flag traced by a JAX transformation around the compiled program has no value to
    check: say so rather than fail inside NumPy."""
    if isinstance(flag, jax.core.Tracer):
        what = ("a gradient recording a while loop (max_iterations)" if limit == LOOP else
                "recursion on the program-counter machine" if limit is None else
                f"a program-counter batched function ({limit})")
        raise TypeError(f"this compiled program runs {what}, whose run-time limit it checks in Python on its result, "
                        "so it cannot run under a JAX transformation (jax.jit, jax.vmap, ...); call it from Python"
                        + (" (or take the flag as a result: ppc.ad.value_and_grad_with_overflow)"
                           if limit == LOOP else ""))


def _refuse_traced(args):
    """A machine (recursion on traced values) is a top-level jax.jit program of its own,
    its stack checked in Python after it runs: under a JAX transformation, say so."""
    for a in args:
        if isinstance(a, (tuple, list)):
            _refuse_traced(a)
        elif isinstance(a, jax.core.Tracer):
            _traced(a, None)


def _check_flag(flag, limit: str = LOOP):
    """A raised limit flag (one per member in a batch) is an error: the result is wrong."""
    _traced(flag, limit)
    if not np.any(flag):
        return
    if limit == LOOP:
        raise LoopLimitError(
            "a while loop ran more iterations, or a recursive function made more calls, than reverse-mode "
            "differentiation recorded (max_iterations); the derivative would be wrong, so none is returned. "
            "Pass a larger "
            "max_iterations= to ppc.grad / ppc.vjp / ppc.value_and_grad.")
    raise StackOverflowError(f"a program-counter batched function called from this program recursed deeper than "
                             f"{limit} frames, so no result is returned; pass a larger max_stack_depth= to "
                             "ppc.autobatch")


def _check_flags(flags, limits: tuple[str, ...]):
    """The flags a program returns last, one per limit (stacks first: a recursion cut
    short may also leave its loops' counts wrong)."""
    for flag, limit in sorted(zip(flags, limits), key=lambda fl: fl[1] == LOOP):
        _check_flag(flag, limit)


def _check_stack(out, depth: int):
    """A machine's outputs end (overflow, runs, served): no result past max_stack_depth."""
    _traced(out[-3], None)
    if bool(out[-3]):
        raise StackOverflowError(f"recursion went deeper than max_stack_depth={depth} frames, so no result is "
                                 "returned; pass a larger max_stack_depth= to ppc.compile / ppc.autobatch")


def _unflattener(template, flagged: tuple[str, ...] = (), machine=None):
    """None when the executable already returns the result's structure (one array, or a
    flat tuple of arrays); else a function from its output tuple to that structure. A
    flagged executable's last outputs (a flag per limit, passes/flags.py) are checked and
    dropped; a machine's last three (overflow flag, per-block counters) are checked and
    kept as `owner.stats`."""
    n = len(flagged)
    if machine is not None:
        owner, size, depth = machine

        def unflatten(out):
            owner.stats = MachineStats(size, np.asarray(out[-2]), np.asarray(out[-1]))  # (this run's, overflowed or not)
            _check_stack(out, depth)
            _check_flags(out[-3 - n:-3], flagged)
            return _fill(template, iter(out[:-3 - n]))
        return unflatten
    if flagged:
        def unflatten(out):
            _check_flags(out[-n:], flagged)
            return _fill(template, iter(out[:-n]))
        return unflatten
    if isinstance(template, Slot) or (isinstance(template, tuple) and all(isinstance(t, Slot) for t in template)):
        return None
    return lambda out: _fill(template, iter(out))


def source_function(fn):
    """The Python function whose source `fn` compiles: `fn`, or the function a
    functools.partial (or a compiled function) wraps."""
    while True:
        if isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, Compiled) and fn.__ppc_function__ is not None:
            fn = fn.__ppc_function__
        else:
            return fn


def _unwrap_partial(fn):
    """(the Python function `fn` calls, the arguments it binds (None: `fn` is that function),
    the static positions it inherits). A functools.partial (nested ones, and compiled
    functions inside, included) binds arguments as calling it passes them: its positional
    ones first, its keywords overridden by the call's. The bound values are constants of
    the compiled code, as values it reads from globals and closures are; a compiled
    function inside gives its static_argnums, counted from the partial's own arguments."""
    if not isinstance(fn, functools.partial):
        if not inspect.isfunction(fn):
            raise TypeError(f"ppc.compile needs a Python function, got {type(fn).__name__}")
        return fn, None, frozenset()
    args, kwargs, static = (), {}, None
    while isinstance(fn, (functools.partial, Compiled)):
        _refuse(fn)
        if isinstance(fn, functools.partial):
            args, kwargs = fn.args + args, {**fn.keywords, **kwargs}
            fn = fn.func
            continue
        if type(fn) is not Compiled:
            raise TypeError(f"ppc.compile needs a Python function, got a functools.partial of {fn.__name__}, a "
                            "derived function (compiled already); bind the arguments of the function it derives "
                            "from instead, e.g. ppc.grad(functools.partial(f, ...))")
        if static is None:
            static = frozenset(i - len(args) for i in fn.static_argnums if i >= len(args))
        fn = fn.__ppc_function__
    _refuse(fn)
    if not inspect.isfunction(fn):
        raise TypeError(f"ppc.compile needs a Python function, got a functools.partial of "
                        f"{getattr(fn, '__qualname__', None) or type(fn).__name__} ({type(fn).__name__})")
    params = inspect.signature(fn).parameters.values()
    takes = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    if len(args) > takes and not any(p.kind is p.VAR_POSITIONAL for p in params):
        raise TypeError(f"{fn.__name__}() takes {takes} positional argument{'s' * (takes != 1)} but "
                        f"functools.partial binds {len(args)}")
    try:
        inspect.signature(fn).bind_partial(*args, **kwargs)
    except TypeError as e:  # (Python says so at the first call: no call could succeed)
        raise TypeError(f"{fn.__name__}(): {e} (bound by functools.partial)") from None
    return fn, (args, kwargs), static or frozenset()


def _refuse(fn):
    """What ppc.compile cannot take, whether given itself or wrapped in a functools.partial."""
    if getattr(fn, "__ppc_refuse__", None):
        raise TypeError(fn.__ppc_refuse__)
    if getattr(fn, "partitioned", False):
        raise TypeError("a partitioned function cannot be transformed further: partitioning comes last, "
                        "so partition the derived function instead, e.g. "
                        "ppc.partition.apply(ppc.grad(f), tactics, mesh)")


class Compiled:
    """A Python function compiled by ppc; call it like the function itself."""

    stats: MachineStats | None = None  # set by each run of a program-counter machine

    def __init__(self, fn, backend: str = "jax", static_argnums=(), max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
        if isinstance(fn, Compiled):
            if type(fn) is not Compiled:  # (its transform would be lost: ppc.compile returns it as it is)
                raise TypeError(f"{fn.__name__} is a derived function; it is compiled already")
            fn = fn.__ppc_function__
        _refuse(fn)  # (and each layer of a functools.partial: _unwrap_partial)
        static = frozenset((static_argnums,) if isinstance(static_argnums, int) else static_argnums)
        target, self._bound, inherited = _unwrap_partial(fn)
        functools.update_wrapper(self, target)
        self.__dict__.pop("__ppc_compiled__", None)  # (ppc.ad.as_compiled's, copied from fn)
        self.__wrapped__ = fn  # (inspect.signature: a partial's, its bound parameters gone)
        self.__ppc_function__ = fn
        self._target = target  # the Python function lowered: fn, or the one a functools.partial calls
        self.backend = backend
        self.static_argnums = static | inherited
        self.max_stack_depth = max_stack_depth
        self._cache: dict = {}
        # programs made from this one (a model conditioned on data of given names and
        # types), so conditioning alike twice gives one program and one compile cache
        self.derived: dict = {}

    def with_backend(self, backend: str) -> "Compiled":
        """The same function compiled for `backend` (itself when it already is)."""
        if backend == self.backend:
            return self
        if type(self) is not Compiled:
            raise ValueError(f"cannot move a derived function to backend {backend!r}; derive it from a function "
                             f"compiled with ppc.compile(f, backend={backend!r})")
        key = ("backend", backend)
        if key not in self.derived:
            self.derived[key] = Compiled(self.__ppc_function__, backend, self.static_argnums, self.max_stack_depth)
        return self.derived[key]

    def _split(self, args, kwargs):
        """Positional arguments, and keyword arguments in signature order (parameters
        not passed are left to their defaults, which compile as constants)."""
        if not kwargs:
            return list(args), {}
        sig = inspect.signature(self.__ppc_function__)
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            for name in kwargs:  # (bind would first report a missing argument)
                if name not in sig.parameters:
                    raise TypeError(f"{self.__name__}() got an unexpected keyword argument '{name}'")
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
        for i in static:
            if i < len(args):
                try:
                    hash(args[i])
                except TypeError:
                    raise TypeError(f"{self.__name__}: argument {i} is static (static_argnums), so it must be "
                                    f"hashable, as JAX's are; got {type(args[i]).__name__} (pass a tuple, not a "
                                    "list; an array as a traced argument)") from None
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
            self._attach_machine(spec)
            self._cache[key] = spec
        return spec

    def _attach_machine(self, spec: Specialization):
        """Recursion on traced values runs on the program-counter machine, with a batch of one."""
        if recursive_functions(spec.canonical):
            self._machine(spec, [False] * len(spec.canonical.entry.params), 1, squeeze=True)

    def _machine(self, spec: Specialization, flags, size: int, squeeze: bool):
        """(The machine's registers hold arrays: a tuple result, a gradient with respect to a
        tuple, leaves the entry as its leaves.)"""
        from .passes.pc import machine_module
        module, template = spec.canonical, spec.template
        if any(isinstance(t, TupleType) for t in module.entry.result_types):
            module, template = run_passes(flatten_tuple_results(module), ["canonicalize"]), split_tuple_slots(template)
        spec.machine, spec.program = machine_module(module, flags, size, self.max_stack_depth, squeeze)
        spec.unflatten = _unflattener(template, spec.flagged, machine=(self, size, self.max_stack_depth))

    def _lower(self, args, kwargs):
        """(IR module, result template, flagged) for these arguments."""
        return lower_entry(self._target, args, set(self.static_argnums), kwargs, self._bound)

    def _executable(self, spec: Specialization):
        if spec.executable is None:
            compile_module = backend_module(self.backend).compile_module
            fn = source_function(self.__ppc_function__)
            origin = f"{os.path.basename(inspect.getsourcefile(fn) or '?')}:{fn.__name__}"
            single = isinstance(spec.template, Slot) and not spec.flagged and spec.machine is None
            module = spec.canonical if spec.machine is None else spec.machine
            spec.source, spec.executable = compile_module(module, origin, single_result=single,
                                                          machine=spec.machine is not None)
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
                if spec.machine is not None:
                    _refuse_traced(args)
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
        if spec.machine is not None:
            _refuse_traced(runtime)
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


class Lifted(Compiled):
    """A function defined inside compiled code (a lambda over traced values) made a
    program of its own, so that ppc.grad and the other transforms compiled code runs can
    take it. It exists only while the enclosing program compiles: see
    `frontend.lower.lower_closure`, which also says what it reads from there."""

    def __init__(self, closure):
        self.closure = closure
        self.__name__ = self.__qualname__ = closure.name
        self.__doc__ = None
        self.__ppc_function__ = None
        self.backend = "jax"  # (never run: its IR is called from the enclosing program)
        self.static_argnums = frozenset()
        self.max_stack_depth = DEFAULT_MAX_STACK_DEPTH
        self._cache = {}
        self.derived = {}

    def _split(self, args, kwargs):
        return list(args), dict(kwargs)

    def specialize(self, *args, **kwargs) -> Specialization:
        key = self._key(list(args), kwargs)
        spec = self._cache.get(key)
        if spec is None:
            from .frontend.lower import lower_closure
            ir, template, captured = lower_closure(self.closure, list(args), dict(kwargs))
            spec = Specialization(ir, run_passes(ir, ["canonicalize"]), template, captured=captured)
            self._cache[key] = spec
        return spec


def compile(fn=None, *, backend: str = "jax", static_argnums=(), max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH):
    """Compile a Python function: `@ppc.compile`, `@ppc.compile(backend="tf")` or
    `ppc.compile(f, static_argnums=(1,))`. Functions derived from it (ppc.grad,
    ppc.autobatch, log_joint, ...) run on its backend. A function that recurses on traced values runs
    on the program-counter machine (ppc/passes/pc) with stacks `max_stack_depth` frames deep.
    `fn` may be a functools.partial: its bound arguments are constants of the compiled code."""
    if fn is None:
        return lambda f: compile(f, backend=backend, static_argnums=static_argnums, max_stack_depth=max_stack_depth)
    if isinstance(fn, Compiled) and type(fn) is not Compiled:  # derived (ppc.grad(f), ...): compiled already
        static = frozenset((static_argnums,) if isinstance(static_argnums, int) else static_argnums)
        if backend == fn.backend and static <= fn.static_argnums and max_stack_depth == DEFAULT_MAX_STACK_DEPTH:
            return fn
        raise ValueError(f"ppc.compile of a derived function ({fn.__name__}) cannot change its backend, "
                         "static_argnums or max_stack_depth; give them to the ppc.compile of the function it "
                         "derives from")
    return Compiled(fn, backend, static_argnums, max_stack_depth)
