"""`ppc.partition.apply`: a ppc function run across a mesh of devices.

    canonical IR --propagate(tactics)--> plan --lower--> per-device IR --JAX--> shard_map

Each argument signature is specialized once, like every compiled function; the
partitioned function takes and returns whole arrays, and JAX lays them out on the mesh.
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass

from .ad import as_compiled
from .api import Compiled, Specialization, _to_runtime, backend_module
from .ir import CompileError, Module, print_module
from .partition.lowering import lower
from .partition.mesh import Mesh
from .partition.propagation import Conflict, Plan, Tiling, propagate
from .partition.tactics import Tactic


@dataclass
class PartitionedSpecialization:
    base: Specialization
    plan: Plan
    module: Module  # the per-device program
    in_tilings: list[Tiling]
    out_tilings: list[Tiling]
    source: str | None = None
    executable: object = None
    jax_mesh: object = None


class Partitioned:
    """A ppc function partitioned by tactics over a mesh; call it like the function."""

    def __init__(self, f, tactics: list[Tactic], mesh: Mesh):
        if not isinstance(mesh, Mesh):
            raise TypeError(f"ppc.partition.apply needs a ppc.partition.Mesh, got {type(mesh).__name__}")
        self.base: Compiled = as_compiled(f)
        if self.base.backend != "jax":
            raise ValueError("partitioned programs run on JAX (jax.shard_map); compile the function with "
                             "backend='jax'")
        self.tactics = list(tactics)
        self.mesh = mesh
        self.__name__ = getattr(self.base, "__name__", "f")
        self.__doc__ = self.base.__doc__
        self._cache: dict = {}

    def specialize(self, *args, **kwargs) -> PartitionedSpecialization:
        base = self.base
        pos, kw = base._split(args, kwargs)
        key = base._key(pos, kw)
        spec = self._cache.get(key)
        if spec is None:
            b = base.specialize(*args, **kwargs)
            if b.machine is not None:
                raise CompileError(f"{self.__name__} recurses, and recursion runs on the program-counter machine, "
                                   "which ppc does not partition; partition the batched sampler instead")
            plan = propagate(b.canonical.entry, self.mesh, self.tactics)
            module, ins, outs = lower(plan)
            spec = self._cache[key] = PartitionedSpecialization(b, plan, module, ins, outs)
        return spec

    def _executable(self, spec: PartitionedSpecialization):
        if spec.executable is None:
            fn = self.base.__ppc_function__
            origin = f"{os.path.basename(inspect.getsourcefile(fn) or '?')}:{fn.__name__} (partitioned)"
            spec.source, spec.executable, spec.jax_mesh = backend_module("jax").compile_sharded(
                spec.module, origin, self.mesh.axes, spec.in_tilings, spec.out_tilings)
        return spec.executable

    def __call__(self, *args, **kwargs):
        spec = self.specialize(*args, **kwargs)
        run = self._executable(spec)
        base = self.base
        pos, kw = base._split(args, kwargs)
        runtime = [_to_runtime(a) for i, a in enumerate(pos) if i not in base.static_argnums]
        runtime += [_to_runtime(v) for v in kw.values()]
        out = run(*runtime)
        b = spec.base
        if b.unflatten is None:
            return out[0] if len(out) == 1 and not isinstance(b.template, tuple) else out
        return b.unflatten(out)

    def ir(self, *args, **kwargs) -> Module:
        """The per-device program (stage `partitioned`): local shapes, explicit collectives."""
        return self.specialize(*args, **kwargs).module

    def plan(self, *args, **kwargs) -> Plan:
        return self.specialize(*args, **kwargs).plan

    def conflicts(self, *args, **kwargs) -> list[Conflict]:
        return self.specialize(*args, **kwargs).plan.conflicts

    def source(self, *args, **kwargs) -> str:
        spec = self.specialize(*args, **kwargs)
        self._executable(spec)
        return spec.source

    def simulate(self, *args, model=None, **kwargs):
        """Predicted per-device cost of one call, before anything runs."""
        from .partition.simulator import CostModel, simulate
        spec = self.specialize(*args, **kwargs)
        return simulate(spec.module, self.mesh.axes, model or CostModel())

    def dump(self, *args, **kwargs) -> str:
        """The per-device program with the tactics, each input's and result's tiling, and
        any conflicts as comments above it."""
        spec = self.specialize(*args, **kwargs)
        fn = spec.plan.function
        lines = [f"// mesh {' x '.join(f'{a}={n}' for a, n in self.mesh.axes.items())}",
                 f"// tactics: {', '.join(map(str, self.tactics)) or 'none'}"]
        for p, t in zip(fn.params, spec.in_tilings):
            lines.append(f"// in  %{p.hint}: {describe(t)}")
        for i, t in enumerate(spec.out_tilings):
            lines.append(f"// out {i}: {describe(t)}")
        lines += [f"// conflict: {c}" for c in spec.plan.conflicts]
        return "\n".join(lines) + "\n" + print_module(spec.module)


def describe(tiling: Tiling) -> str:
    cut = [f"dim {d} over {'x'.join(a)}" for d, a in enumerate(tiling) if a]
    return ", ".join(cut) if cut else "replicated"


def apply(f, tactics: list[Tactic], mesh: Mesh) -> Partitioned:
    """`f` (a Python function or any ppc function: compiled, ppc.grad(f), ...) partitioned
    over `mesh` by `tactics`, applied in order."""
    return Partitioned(f, tactics, mesh)
