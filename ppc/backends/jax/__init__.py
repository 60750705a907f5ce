"""The JAX backend: IR -> jax.numpy/lax source -> `jax.jit`.

64-bit types are enabled so that float64 programs compute in float64, as NumPy does;
every emitted constant and conversion names its dtype, so float32 programs stay float32.
Results are JAX arrays.
"""
from __future__ import annotations

import jax

from ...ir import Module
from .. import emit as shared
from ..host import eager, runs_on_host
from .emit import DIALECT, emit_module

jax.config.update("jax_enable_x64", True)


def check_supported(module: Module) -> None:
    shared.check_supported(module, "JAX")


def compile_module(module: Module, origin: str = "", single_result: bool = False):
    """(source, jitted entry function) for a canonical module. Generated functions return
    tuples; with `single_result` the jitted function returns the one array itself. A module
    with host control flow (backends/host.py) is not jitted: it runs eagerly."""
    host = runs_on_host(module)
    if not host:
        check_supported(module)
    source, consts = emit_module(module, origin)
    fn = shared.load(source, consts, module.entry.name, DIALECT)
    if single_result:
        entry = fn
        fn = lambda *args: entry(*args)[0]  # noqa: E731  (traced once; no per-call cost)
    return source, eager(fn) if host else jax.jit(fn)


__all__ = ["compile_module", "emit_module", "check_supported"]
