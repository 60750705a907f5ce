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
from .api import Compiled, Specialization, _to_runtime, backend_module, source_function
from .autobatch import Batched, _take_members
from .frontend.values import leaves
from .ir import CompileError, Function, Module, Op, Value, clone_region, print_module
from .partition.lowering import lower
from .partition.mesh import Mesh
from .partition.propagation import Conflict, PartitionError, Plan, Tiling, propagate
from .partition.tactics import Tactic, tile


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

    partitioned = True  # ppc's transformations refuse it (api.Compiled): partitioning comes last

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
        return self._lookup(args, kwargs)[0]

    def _lookup(self, args, kwargs):
        """(the specialization, the positional and keyword arguments as its program takes
        them: a batch's size-1 argument shared by every member as its one value)."""
        base = self.base
        pos, kw = base._split(args, kwargs)
        if isinstance(base, Batched):
            pos = base._prepare(pos)  # (its key includes which arguments are batched)
        key = base._key(pos, kw)
        spec = self._cache.get(key)
        if spec is None:
            if isinstance(base, Batched) and base.strategy == "program_counter":
                spec = self._machines(args, kwargs)
            else:
                if isinstance(base, Batched) and any(isinstance(f, tuple) for f in base._flags):
                    i = next(i for i, f in enumerate(base._flags) if isinstance(f, tuple))
                    raise PartitionError(f"{base._describe(i)} of {self.__name__} is a {type(pos[i]).__name__} "
                                         "holding batched arrays: partitioning a local_static batch of one is not "
                                         "supported; pass those arrays as arguments of their own, or partition "
                                         "ppc.autobatch(f, strategy='program_counter')")
                b = base.specialize(*args, **kwargs)
                if b.machine is not None:
                    raise CompileError(f"{self.__name__} recurses on traced values, so it runs on the program-counter "
                                       "machine; partition a batch of it instead: "
                                       "apply(ppc.autobatch(f), [tile(input, 0, axis), ...], mesh)")
                plan = propagate(b.canonical.entry, self.mesh, self.tactics)
                module, ins, outs = lower(plan)
                spec = PartitionedSpecialization(b, plan, module, ins, outs)
            self._cache[key] = spec
        return spec, pos, kw

    def _machines(self, args, kwargs) -> PartitionedSpecialization:
        """A program-counter batch split over mesh axes: one machine per device, each running
        its own members at its own pace (no traffic between steps), which is why members are
        the only thing it splits. The overflow flag and block counters are reduced at the end."""
        base: Batched = self.base  # prepared by specialize
        flags, size = base._flags, base._size
        names = list(inspect.signature(base.__ppc_function__).parameters)
        batched = {n for n, f in zip(names, flags) if f}
        axes = self._member_axes(batched)
        extent = self.mesh.extent(axes)
        if size % extent:
            raise PartitionError(f"a batch of {size} members does not split evenly over {'x'.join(axes)} "
                                 f"({extent} devices)")
        local = base._prepare([_take_members(a, f, size // extent) for a, f in zip(args, flags)], flags)
        with base.prepared():
            b = base.specialize(*local, **kwargs)
        # (a tuple holding batched arrays: the machine that takes its leaves one by one,
        # each tiled as its own flag says; __call__ passes them so)
        machine = getattr(b, "flat_machine", None) or b.machine.entry
        entry = Function(machine.name, clone_region(machine.body, {}), machine.result_types)
        params = base._entry_flags(b.canonical)
        # a whole tuple (the data) is held by every device: one empty spec covers all its leaves
        ins = [((axes,) + ((),) * (p.type.rank - 1)) if f else ((),) * getattr(p.type, "rank", 0)
               for p, f in zip(entry.params, params)]
        ret = entry.body.terminator
        results, (overflow, runs, served) = ret.operands[:-3], ret.operands[-3:]
        reduced = []
        for v, how in ((overflow, "max"), (runs, "sum"), (served, "sum")):
            out = Value(v.type, v.hint)
            entry.body.ops.insert(len(entry.body.ops) - 1, Op("all_reduce", [v], {"axes": axes, "reduce": how}, [out]))
            reduced.append(out)
        ret.operands = list(results) + reduced
        outs = [((axes,) + ((),) * (v.type.rank - 1)) for v in results] + [()] + [((),)] * 2
        plan = Plan(b.canonical.entry, self.mesh, self.tactics)
        return PartitionedSpecialization(b, plan, Module([entry]), ins, outs)

    def _member_axes(self, batched: set[str]) -> tuple[str, ...]:
        axes: dict[str, list[str]] = {}
        for t in self.tactics:
            if not isinstance(t, tile) or t.dim != 0 or t.input_name not in batched:
                raise PartitionError(f"{t}: a program-counter batch is split only by its members: tile dim 0 of "
                                     f"its batched inputs ({', '.join(sorted(batched))}) over mesh axes")
            self.mesh.check_axis(t.mesh_axis)
            axes.setdefault(t.input_name, []).append(t.mesh_axis)
        split = {tuple(a) for a in axes.values()}
        if len(split) != 1 or set(axes) != batched:
            raise PartitionError("a program-counter batch is split only by its members: tile dim 0 of every "
                                 f"batched input ({', '.join(sorted(batched))}) over the same mesh axes")
        return split.pop()

    def _executable(self, spec: PartitionedSpecialization):
        if spec.executable is None:
            fn = source_function(self.base.__ppc_function__)
            origin = f"{os.path.basename(inspect.getsourcefile(fn) or '?')}:{fn.__name__} (partitioned)"
            spec.source, spec.executable, spec.jax_mesh = backend_module("jax").compile_sharded(
                spec.module, origin, self.mesh.axes, spec.in_tilings, spec.out_tilings,
                machine=spec.base.machine is not None)
        return spec.executable

    def __call__(self, *args, **kwargs):
        spec, pos, kw = self._lookup(args, kwargs)
        run = self._executable(spec)
        base = self.base
        runtime = []
        for i, a in enumerate(pos):
            if i not in base.static_argnums:  # (a tuple holding batched arrays goes leaf by leaf: _machines)
                flat = isinstance(base, Batched) and isinstance(base._flags[i], tuple)
                runtime += [_to_runtime(x) for x in leaves(a)] if flat else [_to_runtime(a)]
        runtime += [_to_runtime(v) for v in kw.values()]
        out = run(*backend_module("jax").lay_out(runtime, spec.jax_mesh, spec.in_tilings))
        b = spec.base
        if b.unflatten is None:
            return out[0] if len(out) == 1 and not isinstance(b.template, tuple) else out
        return b.unflatten(out)

    @property
    def stats(self):
        """The last run's program-counter machine counters, summed over devices."""
        return self.base.stats

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
        lines += [f"// conflict: {c.brief()}" for c in spec.plan.conflicts]
        return "\n".join(lines) + "\n" + print_module(spec.module)


def describe(tiling: Tiling) -> str:
    cut = [f"dim {d} over {'x'.join(a)}" for d, a in enumerate(tiling) if a]
    return ", ".join(cut) if cut else "replicated"


def apply(f, tactics: list[Tactic], mesh: Mesh) -> Partitioned:
    """`f` (a Python function or any ppc function: compiled, ppc.grad(f), ...) partitioned
    over `mesh` by `tactics`, applied in order."""
    return Partitioned(f, tactics, mesh)
