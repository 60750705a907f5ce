"""The JAX backend: IR -> jax.numpy/lax source -> `jax.jit`.

64-bit types are enabled so that float64 programs compute in float64, as NumPy does;
every emitted constant and conversion names its dtype, so float32 programs stay float32.
Results are JAX arrays.
"""
from __future__ import annotations

import os

import jax
import numpy as np

from ...ir import Module
from .. import emit as shared
from ..host import eager, runs_on_host
from .emit import DIALECT, emit_module

jax.config.update("jax_enable_x64", True)

CACHE_LIMIT = 1 << 30  # bytes kept in ppc's default cache, least recently used evicted first


def cache_dir() -> str | None:
    """Where compiled XLA programs persist between runs: $PPC_CACHE_DIR (empty: nowhere),
    else $XDG_CACHE_HOME/ppc/jax or ~/.cache/ppc/jax; JAX's own setting
    (jax_compilation_cache_dir, JAX_COMPILATION_CACHE_DIR) wins when given."""
    if jax.config.jax_compilation_cache_dir is not None:
        return jax.config.jax_compilation_cache_dir
    if "PPC_CACHE_DIR" in os.environ:
        return os.environ["PPC_CACHE_DIR"] or None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ppc", "jax")


def _persist_compiles() -> None:
    """Turn on JAX's persistent compilation cache (unless the user set their own). Why:
    XLA's compile of a NUTS machine is ~3 s of a run that samples in ~10 (breast cancer,
    128 chains, CPU); measured, a second run of a 100 + 100-draw script took 7.8 s
    against 11.2 s. JAX caches only compiles longer than
    jax_persistent_cache_min_compile_time_secs (1 s unless set), keyed by the program,
    the compiler options, JAX's version and the devices."""
    path = cache_dir()
    if path is None or jax.config.jax_compilation_cache_dir is not None:
        return
    jax.config.update("jax_compilation_cache_dir", path)
    if jax.config.jax_compilation_cache_max_size == -1:
        jax.config.update("jax_compilation_cache_max_size", CACHE_LIMIT)


_persist_compiles()


def check_supported(module: Module) -> None:
    shared.check_supported(module, "JAX")


# XLA options for program-counter machines: LLVM at optimization level 1. Measured (NUTS,
# 128 chains, float64, 2 cores): XLA's compile of the machine 2.7-2.8 s against 3.5-3.7 s
# at its default level, breast cancer and synthetic alike, and 200 + 200 draws as fast
# (13.9-14.3 against 14.1-14.5 s; 19.3 against 19.0-19.5 s). A machine's steps are small
# kernels and a gradient XLA hands to its own libraries (YNNPACK dots), not code LLVM's
# costlier passes speed up. Rounding may differ from the default level's in the last bits.
# On CPU only: GPU kernels at this level were not measured.
MACHINE_OPTIONS = {"xla_backend_optimization_level": 1}


def _jit_machine(fn):
    return jax.jit(fn, compiler_options=MACHINE_OPTIONS) if jax.default_backend() == "cpu" else jax.jit(fn)


def compile_module(module: Module, origin: str = "", single_result: bool = False, machine: bool = False):
    """(source, jitted entry function) for a canonical module. Generated functions return
    tuples; with `single_result` the jitted function returns the one array itself. A module
    with host control flow (backends/host.py) is not jitted: it runs eagerly. A `machine`
    (the program-counter machine) compiles with MACHINE_OPTIONS on CPU."""
    host = runs_on_host(module)
    if not host:
        check_supported(module)
    source, consts = emit_module(module, origin)
    fn = shared.load(source, consts, module.entry.name, DIALECT)
    if single_result:
        entry = fn
        fn = lambda *args: entry(*args)[0]  # noqa: E731  (traced once; no per-call cost)
    if host:
        return source, eager(fn)
    return source, _jit_machine(fn) if machine else jax.jit(fn)


def device_mesh(axes: dict[str, int]) -> jax.sharding.Mesh:
    """The first prod(sizes) devices laid out along `axes` (name -> size, major to minor)."""
    devices = jax.devices()
    n = int(np.prod(list(axes.values())))
    if n > len(devices):
        raise ValueError(f"the mesh {axes} needs {n} devices but JAX sees {len(devices)} ({devices[0].platform}); "
                         "on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N before importing jax")
    return jax.sharding.Mesh(np.array(devices[:n]).reshape(tuple(axes.values())), tuple(axes))


def _spec(tiling) -> jax.sharding.PartitionSpec:
    return jax.sharding.PartitionSpec(*[None if not a else a[0] if len(a) == 1 else tuple(a) for a in tiling])


def compile_sharded(module: Module, origin: str, axes: dict[str, int], in_tilings, out_tilings,
                    machine: bool = False):
    """(source, jitted function) running a per-device module (ppc/partition) on every device of
    the mesh under `jax.shard_map`: it takes and returns whole arrays, laid out by the tilings
    (per dim, the mesh axes cutting it)."""
    source, consts = emit_module(module, origin, regenerate="the partitioned function's .source(...)")
    fn = shared.load(source, consts, module.entry.name, DIALECT)
    mesh = device_mesh(axes)
    mapped = jax.shard_map(fn, mesh=mesh, in_specs=tuple(_spec(t) for t in in_tilings),
                           out_specs=tuple(_spec(t) for t in out_tilings), check_vma=False)
    return source, _jit_machine(mapped) if machine else jax.jit(mapped), mesh


def lay_out(args, mesh: jax.sharding.Mesh, in_tilings) -> list:
    """Arguments placed as a sharded function takes them, so that a host array and a result
    of an earlier call (already laid out) look the same to `jit`: one compile, not two.
    (NUTS feeds its PRNG keys back from the last call; measured before: a second 3.8 s
    compile of the machine, breast cancer, 128 chains on 2 devices.)"""
    return jax.device_put(list(args), [jax.sharding.NamedSharding(mesh, _spec(t)) for t in in_tilings])


__all__ = ["cache_dir", "compile_module", "compile_sharded", "device_mesh", "emit_module", "check_supported", "lay_out"]
