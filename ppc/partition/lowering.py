"""Lowering: a plan (propagation.py) -> the per-device program, communication explicit.

Each op runs on tiles: for every mesh axis, the factor that axis tiles at this op (the
earliest tactic's, see `propagation.choose`) fixes how the op's operands must be cut.
An operand held some other way is converted first, and so is each result, from the way the
op leaves it (partial, if the op contracted a tiled dim) to the way the plan holds it. A
conversion is the cheapest sequence of collectives (ppc/ir/prims/collectives.py):

    partial over a, wanted tiled over a at dim d   reduce_scatter
    partial over a otherwise                        all_reduce
    a moves from dim d to dim e                     all_to_all
    a tiles dim d, wanted whole                     all_gather (minor-most axis first)
    wanted tiled over a, held whole                 shard_slice (no traffic)

Every tiling a value passes through is remembered, and a conversion starts from the one
nearest what is wanted: a value an op made whole and the plan holds tiled is sliced from
that whole value when wanted whole or cut otherwise, never gathered back.
"""
from __future__ import annotations

from ..ir import Function, InternalError, Module, Op, Region, Value, VerifyError, infer_types, lookup, print_module, verify
from ..ir.types import TensorType
from ..ir.prims.tiling import Factor
from .propagation import Plan, Tiling, choose, local_type

# How partial results combine, as an all_reduce's `reduce`
COMBINE = {"sum": "sum", "max": "max", "min": "min", "and": "min", "or": "max"}


class Lowering:
    def __init__(self, plan: Plan):
        self.plan, self.mesh = plan, plan.mesh
        self.env: dict[Value, Value] = {}        # original value -> its local value
        self.home: dict[Value, Region] = {}       # original value -> the lowered region defining it
        self.held: dict[Value, dict[Tiling, Value]] = {}  # value -> each tiling a local value
                                                          # already holds it in -> that value
        self.splats: dict[Value, Op] = {}         # values made by a splat constant

    # --- what each op needs ----------------------------------------------------------------

    def compute(self, op: Op):
        """(dim -> axes for each member (value, dim), partial axes) for running `op` on tiles."""
        plan, mesh = self.plan, self.mesh
        chosen: dict[int, list[str]] = {}  # id(factor) -> axes, in tactic order
        factor_of = {}
        partial: list[str] = []
        combine = None
        axes_in_order = sorted(mesh.axes, key=lambda a: min(
            (k for (v, b), k in plan.origin.items() if b == a), default=len(plan.tactics)))
        for axis, f in ((a, f) for a in axes_in_order for f in self.choices(op, a)):
            have = chosen.get(id(f), [])
            if not all(v.type.shape[d] % mesh.extent(have + [axis]) == 0 for v, d in f.members):
                continue  # uneven tiles: the op runs whole along this axis
            chosen[id(f)] = have + [axis]
            factor_of[id(f)] = f
            if f.reduce is not None:
                partial.append(axis)
                combine = f.reduce
        need: dict[tuple[Value, int], tuple[str, ...]] = {}
        for fid, axes in chosen.items():
            axes = self.held_order(factor_of[fid], axes)
            for v, d in factor_of[fid].members:
                need[(v, d)] = axes
        return need, tuple(partial), combine

    def held_order(self, f: Factor, axes: list[str]) -> tuple[str, ...]:
        """`axes` major to minor as a member of `f` already holds them, so that the op takes
        its operands as they are (tactic order may differ: `tile(x, 0, a)` then
        `tile(x, 0, b)` after `b` tiled something else first)."""
        for v, d in f.members:
            held = tuple(a for a in self.plan.tiling(v)[d] if a in axes)
            if len(held) == len(axes):
                return held
        return tuple(axes)

    def choices(self, op: Op, axis: str) -> list[Factor]:
        """The factors `axis` tiles at `op`. An op runs one iteration space, so an axis tiles
        one of its factors; control flow carries one value per position, each its own
        iteration space, so an axis tiles one factor per position."""
        if not op.regions:
            f = choose(self.plan, op, axis)
            return [] if f is None else [f]
        results = set(op.results)
        by_position: dict[Value, list[Factor]] = {}  # keyed by the position's result: an operand
        for f in self.plan.factors.get(op, ()):      # may start two positions (`while %z, %z`)
            by_position.setdefault(next(v for v, _ in f.members if v in results), []).append(f)
        return [f for fs in by_position.values() if (f := choose(self.plan, op, axis, fs)) is not None]

    @staticmethod
    def wanted(v: Value, need) -> Tiling:
        rank = v.type.rank if isinstance(v.type, TensorType) else 0
        return tuple(need.get((v, d), ()) for d in range(rank))

    # --- conversions -----------------------------------------------------------------------

    def emit(self, region: Region, prim: str, x: Value, **attrs) -> Value:
        out = Value(infer_types(prim, [x.type], attrs)[0], x.hint)
        region.ops.append(Op(prim, [x], attrs, [out]))
        return out

    def convert(self, region: Region, x: Value, have: Tiling, want: Tiling,
                partial: tuple[str, ...] = (), combine: str | None = None,
                held: dict[Tiling, Value] | None = None) -> Value:
        """`x`, one device's tile of a value tiled `have` (and partial over `partial`), as
        its tile under `want`. `held`, if given, gains each tiling the value passes through
        once it is no longer partial (the first local value holding it that way stands)."""
        have = [tuple(a) for a in have]
        mesh = self.mesh
        rest = []
        for a in partial:
            d = next((d for d in range(len(want)) if want[d] == have[d] + (a,)), None)
            if d is not None and combine == "sum":
                x = self.emit(region, "reduce_scatter", x, axis=a, parts=mesh.axes[a], dim=d)
                have[d] = have[d] + (a,)
            else:
                rest.append(a)
        if rest:
            x = self.emit(region, "all_reduce", x, axes=tuple(rest), reduce=COMBINE[combine])
        seen = (lambda x: held.setdefault(tuple(have), x)) if held is not None else (lambda x: x)
        seen(x)
        # Every dim first gives up what it holds beyond what it wants (minor-most first: an
        # axis wanted next on another dim moves there, the rest are gathered); only then are
        # new cuts taken. Cutting one dim by an axis still cutting another would mix tiles.
        for d in range(len(have)):
            while have[d] != tuple(want[d][:len(have[d])]):
                a = have[d][-1]
                e = next((e for e in range(len(want)) if e != d and
                          tuple(want[e][:len(have[e]) + 1]) == have[e] + (a,)), None)
                if e is not None:
                    x = self.emit(region, "all_to_all", x, axis=a, parts=mesh.axes[a], split=e, concat=d)
                    have[e] = have[e] + (a,)
                else:
                    x = self.emit(region, "all_gather", x, axis=a, parts=mesh.axes[a], dim=d)
                have[d] = have[d][:-1]
                seen(x)
        for d in range(len(have)):
            for a in want[d][len(have[d]):]:
                x = self.emit(region, "shard_slice", x, axis=a, parts=mesh.axes[a], dim=d)
                have[d] = have[d] + (a,)
                seen(x)
        return x

    def operand(self, v: Value, want: Tiling) -> Value:
        """`v` tiled as `want`. The conversion goes where `v` is defined, so a loop converts
        what it reads from outside once, before it starts, and every device runs it (a
        collective under a branch only some devices take would never complete). It starts
        from the tiling `v` is already held in that is nearest `want`: one that `want` only
        cuts further is sliced, with no traffic (a value an op made whole and the plan
        holds tiled is not gathered back), else the plan's."""
        have = self.plan.tiling(v)
        if have == want:
            return self.env[v]
        held = self.held.setdefault(v, {have: self.env[v]})
        if want not in held:
            made = self.splats.get(v)
            if made is not None:  # a splat is made at whatever size is wanted: no traffic
                local = Value(local_type(v.type, want, self.mesh), v.hint)
                self.home[v].ops.append(Op("constant", [], dict(made.attrs, shape=local.type.shape), [local]))
                held[want] = local
            else:
                start = max((t for t in held if refines(want, t)), key=lambda t: sum(map(len, t)), default=have)
                self.convert(self.home[v], held[start], start, want, held=held)
        return held[want]

    # --- ops and regions -------------------------------------------------------------------

    def region(self, region: Region, params_tiling: list[Tiling], yield_tiling: list[Tiling] | None) -> Region:
        out = Region()
        out.params = [self._param(p, t, out) for p, t in zip(region.params, params_tiling)]
        for op in region.ops:
            if lookup(op.prim).terminator:
                wants = yield_tiling or [self.plan.tiling(v) for v in op.operands]
                out.ops.append(Op(op.prim, [self.operand(v, t) for v, t in zip(op.operands, wants)],
                                  op.attrs, [], (), op.loc))
            else:
                self.op(op, out)
        return out

    def _param(self, p: Value, tiling: Tiling, home: Region) -> Value:
        local = Value(local_type(p.type, tiling, self.mesh), p.hint)
        self.env[p], self.home[p] = local, home
        return local

    def op(self, op: Op, out: Region):
        need, partial, combine = self.compute(op)
        made = [self.wanted(r, need) for r in op.results]
        if op.prim == "while":  # an operand is cut as its position is: one value may start two
            cond, body = op.regions
            carried = [self.wanted(p, need) for p in body.params]
            operands = [self.operand(v, t) for v, t in zip(op.operands, carried)]
            regions = [self.region(cond, carried, None), self.region(body, carried, carried)]
        else:
            uses = self.plan.uses.get(op, op.operands)
            operands = [self.operand(v, self.wanted(u, need)) for v, u in zip(op.operands, uses)]
            regions = [self.region(r, [self.wanted(p, need) for p in r.params], made) for r in op.regions]
        results = [Value(local_type(r.type, t, self.mesh), r.hint) for r, t in zip(op.results, made)]
        attrs = self.local_attrs(op, results)
        new = Op(op.prim, operands, attrs, results, regions, op.loc)
        prim = lookup(op.prim)
        if prim.infer is not None:
            got = infer_types(op.prim, [v.type for v in operands], attrs)
            if got != [r.type for r in results]:
                raise InternalError("partition", f"{op.prim} on tiles gives {got}, expected "
                                                  f"{[str(r.type) for r in results]}")
        out.ops.append(new)
        for r, local, t in zip(op.results, results, made):
            self.held[r] = {}
            self.env[r] = self.convert(out, local, t, self.plan.tiling(r), partial, combine, self.held[r])
            self.home[r] = out
        if op.prim == "constant" and not getattr(op.attrs["value"], "ndim", 0):
            self.splats[op.results[0]] = op

    @staticmethod
    def local_attrs(op: Op, results: list[Value]) -> dict:
        """Shape attributes describe the op's tile, not the whole value."""
        attrs = dict(op.attrs)
        if "shape" in attrs and op.prim in ("broadcast_in_dim", "reshape", "iota", "constant"):
            attrs["shape"] = results[0].type.shape
        if op.prim == "dynamic_slice":
            attrs["sizes"] = results[0].type.shape
        if op.prim == "slice":
            full = op.results[0].type.shape
            attrs["limit"] = tuple(lim if n == m else lim - (n - m) for lim, n, m in
                                   zip(attrs["limit"], full, results[0].type.shape))
        return attrs


def refines(want: Tiling, have: Tiling) -> bool:
    """Whether a value tiled `have` becomes one tiled `want` by cutting alone (shard_slice)."""
    return all(tuple(w[:len(h)]) == tuple(h) for w, h in zip(want, have))


def lower(plan: Plan) -> tuple[Module, list[Tiling], list[Tiling]]:
    """The per-device module, and the tiling of each input and each result."""
    fn = plan.function
    low = Lowering(plan)
    ins = [plan.tiling(p) for p in fn.params]
    body = low.region(fn.body, ins, None)
    outs = [plan.tiling(v) for v in fn.body.terminator.operands]
    local = Function(fn.name, body, [local_type(v.type, t, plan.mesh)
                                     for v, t in zip(fn.body.terminator.operands, outs)])
    module = Module([local])
    try:
        verify(module)
    except VerifyError as e:
        raise InternalError("partition", str(e), print_module(module)) from None
    return module, ins, outs
