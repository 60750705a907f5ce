"""The JAX backend: IR -> jax.numpy/lax source -> `jax.jit`.

64-bit types are enabled so that float64 programs compute in float64, as NumPy does;
every emitted constant and conversion names its dtype, so float32 programs stay float32.
"""
from __future__ import annotations

import linecache

import jax

from ...ir import CompileError, Module
from ...ir.callgraph import recursive_call
from ..host import eager, runs_on_host
from .emit import _Emitter, emit_module

jax.config.update("jax_enable_x64", True)

_COUNTER = [0]


def check_supported(module: Module) -> None:
    op = recursive_call(module)
    if op is not None:
        raise CompileError(
            f"'{op.attrs['callee']}' is recursive, and recursion on traced values cannot run on the "
            "JAX backend directly", op.loc,
            "batch it with ppc.autobatch(..., strategy='program_counter'), or recurse only on values "
            "known at compile time")


def load(source: str, consts, entry: str):
    """Execute generated source; return its entry function (not yet jitted)."""
    _COUNTER[0] += 1
    filename = f"<ppc-jax-{_COUNTER[0]}:{entry}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"_consts": consts}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[_Emitter.safe(entry)]


def compile_module(module: Module, origin: str = "", single_result: bool = False):
    """(source, jitted entry function) for a canonical module. Generated functions return
    tuples; with `single_result` the jitted function returns the one array itself. A module
    with host control flow (backends/host.py) is not jitted: it runs eagerly."""
    host = runs_on_host(module)
    if not host:
        check_supported(module)
    source, consts = emit_module(module, origin)
    fn = load(source, consts, module.entry.name)
    if single_result:
        entry = fn
        fn = lambda *args: entry(*args)[0]  # noqa: E731  (traced once; no per-call cost)
    return source, eager(fn) if host else jax.jit(fn)


__all__ = ["compile_module", "emit_module", "check_supported"]
