"""Propagation: from tactics to a tiling of every value (PartIR's incremental propagation).

A value's tiling lists, per dim, the mesh axes that cut it, major to minor. A tactic tiles
one input along one mesh axis; propagation then carries that axis through the tiling
rules' factors (ppc/ir/prims/tiling.py), forwards and backwards, to every value it can
reach without contradicting a decision already made. Earlier decisions are never
overridden: a later tactic only tiles values still free along its axis. Where an op's
operands disagree (an axis on two factors of one op, or on a dim a value cannot take), the
op is a *conflict*: it is recorded with its source line, and lowering resolves it in favour
of the earlier tactic, by communication.
"""
from __future__ import annotations

import os

from dataclasses import dataclass, field

from ..ir import CompileError, Function, Op, Value, lookup, walk_ops
from ..ir.prims.tiling import Factor
from ..ir.registry import MissingRule
from ..ir.types import TensorType
from .mesh import Mesh
from .tactics import Tactic, replicate, tile

Tiling = tuple[tuple[str, ...], ...]


class PartitionError(CompileError):
    """A tactic cannot apply (unknown input, dim out of range, uneven tiles, ...)."""


@dataclass
class Conflict:
    op: Op
    axis: str
    message: str

    def __str__(self):
        return self.brief(full_path=True)

    def brief(self, full_path: bool = False) -> str:
        """The conflict with its source location; without the file's directory unless
        `full_path` (dumps and golden files must not depend on where the checkout is)."""
        loc = self.op.loc
        if loc is None:
            return f"{self.op.prim}: {self.message}"
        file = loc.file if full_path else os.path.basename(loc.file)
        return f"{file}:{loc.line}:{loc.col + 1}: {self.op.prim}: {self.message}"


@dataclass
class Plan:
    """The tiling decided for every value of one function, and how it was decided."""
    function: Function
    mesh: Mesh
    tactics: list[Tactic]
    axes: dict[Value, list[list[str]]] = field(default_factory=dict)
    origin: dict[tuple[Value, str], int] = field(default_factory=dict)  # (value, axis) -> tactic index
    frozen: set[Value] = field(default_factory=set)
    conflicts: list[Conflict] = field(default_factory=list)
    factors: dict[Op, list[Factor]] = field(default_factory=dict)
    # an op taking one value at two operand positions (`x @ x`): its operands, each later use
    # a stand-in, so the factors can ask for each position's own cut
    uses: dict[Op, list[Value]] = field(default_factory=dict)

    def tiling(self, v: Value) -> Tiling:
        return tuple(tuple(a) for a in self.axes[v]) if v in self.axes else ((),) * _rank(v)

    def local_type(self, v: Value, tiling: Tiling | None = None):
        return local_type(v.type, self.tiling(v) if tiling is None else tiling, self.mesh)


def _rank(v: Value) -> int:
    return v.type.rank if isinstance(v.type, TensorType) else 0


def local_type(t, tiling: Tiling, mesh: Mesh):
    """The type of one device's tile of a value of type `t` tiled by `tiling`."""
    if not any(tiling):
        return t
    return t.with_shape([n // mesh.extent(axes) for n, axes in zip(t.shape, tiling)])


class Propagator:
    def __init__(self, fn: Function, mesh: Mesh, tactics: list[Tactic]):
        self.plan = Plan(fn, mesh, list(tactics))
        self.members: dict[Value, list[Op]] = {}  # value -> ops with a factor naming it
        for op in walk_ops(fn.body):
            prim = lookup(op.prim)
            if prim.terminator:
                continue
            if prim.tile is None and prim.internal:
                # a program-counter machine (a batched function called from this program):
                # its registers, stacks and dispatch have no tiling rules by design, so they
                # run on whole values and every device runs the whole machine; what it reads
                # is gathered before it starts, and its results are cut as their users want
                self.plan.factors[op] = []
                continue
            if prim.tile is None:
                raise CompileError(f"cannot partition '{op.prim}': {MissingRule(op.prim, 'tiling')}", op.loc)
            self.plan.factors[op] = factors = prim.tile(self._distinct(op))
            for f in factors:
                for v, _ in f.members:
                    ops = self.members.setdefault(v, [])
                    if not ops or ops[-1] is not op:
                        ops.append(op)
        self.params = {p.hint: p for p in fn.params}

    def _distinct(self, op: Op) -> Op:
        """`op`, or where it takes one array at two positions, a copy whose later uses are
        stand-ins (recorded in `plan.uses`): a factor names values, and `x @ x` may need the
        left `x` cut by rows and the right one whole. Stand-ins are frozen: nothing is
        decided for them, so they carry no tiling to the rest of the program."""
        if op.regions or len(set(op.operands)) == len(op.operands):
            return op  # (a loop's positions are matched by lowering)
        seen: set[Value] = set()
        uses = []
        for v in op.operands:
            if v in seen and _rank(v):
                v = Value(v.type, v.hint)
                self.plan.frozen.add(v)
            seen.add(v)
            uses.append(v)
        self.plan.uses[op] = uses
        return Op(op.prim, uses, op.attrs, op.results, (), op.loc)

    def run(self) -> Plan:
        for k, tactic in enumerate(self.plan.tactics):
            if not isinstance(tactic, (tile, replicate)):
                raise TypeError(f"not a tactic: {tactic!r} (use ppc.partition.tile or replicate)")
            v = self._input(tactic)
            if isinstance(tactic, replicate):
                if any(self.plan.axes.get(v, [])):
                    raise PartitionError(f"{tactic}: an earlier tactic already tiled '{tactic.input_name}' "
                                         f"({self._describe(v)}); earlier decisions stand")
                self.plan.frozen.add(v)
            else:
                self._tile(k, tactic, v)
        return self.plan

    def _input(self, tactic) -> Value:
        v = self.params.get(tactic.input_name)
        if v is None:
            names = ", ".join(p.hint or "?" for p in self.plan.function.params)
            raise PartitionError(f"{tactic}: the function has no input named '{tactic.input_name}'; its inputs "
                                 f"are {names}")
        return v

    def _describe(self, v: Value) -> str:
        return ", ".join(f"dim {d} over {'x'.join(a)}" for d, a in enumerate(self.plan.axes.get(v, [])) if a)

    def _tile(self, k: int, t: tile, v: Value):
        mesh = self.plan.mesh
        try:
            mesh.check_axis(t.mesh_axis)
        except ValueError as e:
            raise PartitionError(f"{t}: {e}") from None
        if not isinstance(v.type, TensorType) or not 0 <= t.dim < v.type.rank:
            raise PartitionError(f"{t}: '{t.input_name}' has type {v.type}, with no dim {t.dim}")
        if v in self.plan.frozen:
            raise PartitionError(f"{t}: an earlier tactic replicates '{t.input_name}'; earlier decisions stand")
        at = self._where(v, t.mesh_axis)
        if at == t.dim:
            return  # propagation from an earlier tactic already made this decision
        if at is not None:
            raise PartitionError(f"{t}: '{t.input_name}' is already tiled over '{t.mesh_axis}' "
                                 f"({self._describe(v)}); earlier decisions stand")
        if not self._fits(v, t.dim, t.mesh_axis):
            have = self.plan.axes.get(v, [()] * v.type.rank)[t.dim]
            raise PartitionError(f"{t}: dim {t.dim} of '{t.input_name}' ({v.type}) does not split evenly into "
                                 f"{mesh.extent(tuple(have) + (t.mesh_axis,))} tiles")
        self._assign(v, t.dim, t.mesh_axis, k)
        self._propagate(t.mesh_axis, [v])

    def _fits(self, v: Value, d: int, axis: str) -> bool:
        have = self.plan.axes.get(v, [[]] * _rank(v))[d]
        n = v.type.shape[d]
        return n % self.plan.mesh.extent(tuple(have) + (axis,)) == 0 and n > 0

    def _assign(self, v: Value, d: int, axis: str, k: int):
        axes = self.plan.axes.setdefault(v, [[] for _ in range(_rank(v))])
        axes[d].append(axis)
        self.plan.origin[(v, axis)] = k

    def _where(self, v: Value, axis: str) -> int | None:
        for d, a in enumerate(self.plan.axes.get(v, ())):
            if axis in a:
                return d
        return None

    def _propagate(self, axis: str, work: list[Value]):
        plan = self.plan
        while work:
            v = work.pop()
            for op in self.members.get(v, ()):
                chosen = choose(plan, op, axis)
                if chosen is None:
                    continue
                k = min(plan.origin[(u, axis)] for u, d in chosen.members if self._where(u, axis) == d)
                for u, d in chosen.members:
                    at = self._where(u, axis)
                    if at == d or u in plan.frozen:
                        continue
                    if at is not None:
                        self._conflict(op, axis, f"'{axis}' tiles dim {at} of {_name(u)} but dim {d} is needed "
                                       "here; the earlier tiling wins and this use communicates")
                    elif self._fits(u, d, axis):
                        self._assign(u, d, axis, k)
                        work.append(u)

    def _conflict(self, op: Op, axis: str, message: str):
        if not any(c.op is op and c.axis == axis for c in self.plan.conflicts):
            self.plan.conflicts.append(Conflict(op, axis, message))


def _name(v: Value) -> str:
    return f"%{v.hint}" if v.hint else "a value"


def carriers(plan: Plan, op: Op, axis: str, factors=None) -> list[Factor]:
    """The op's factors (or those of `factors`) in which some member is tiled over `axis` at
    the factor's dim."""
    out = []
    for f in plan.factors.get(op, ()) if factors is None else factors:
        for v, d in f.members:
            axes = plan.axes.get(v)
            if axes and axis in axes[d]:
                out.append(f)
                break
    return out


def choose(plan: Plan, op: Op, axis: str, factors=None) -> Factor | None:
    """The factor that `axis` tiles when `op` runs: of those carrying it, the one tiled by
    the earliest tactic (ties: the first). Others carrying it make a conflict."""
    fs = carriers(plan, op, axis, factors)
    if not fs:
        return None

    def first(f):
        return min(plan.origin[(v, axis)] for v, d in f.members
                   if v in plan.axes and axis in plan.axes[v][d])
    best = min(fs, key=first)
    if len(fs) > 1 and not any(c.op is op and c.axis == axis for c in plan.conflicts):
        plan.conflicts.append(Conflict(op, axis, f"operands tile different dims over '{axis}'; the earlier "
                                       "tiling wins and the other operands communicate"))
    return best


def propagate(fn: Function, mesh: Mesh, tactics: list[Tactic]) -> Plan:
    """Apply `tactics` in order to `fn`'s inputs and propagate each through the function."""
    return Propagator(fn, mesh, tactics).run()
