"""The cost simulator: what a partitioned (per-device) program will cost, before it runs.

A strategy is chosen by comparing predictions, so the counts follow XLA's own accounting
(HloCostAnalysis) as it applies to the program ppc emits, and the tests hold them to
`cost_analysis()` of the compiled program. Each primitive declares its cost rule in the
registry (ppc/ir/prims/costs.py); the simulator adds them up through the program:

    elementwise      flops (or transcendentals) per result element, as JAX lowers the
                     primitive (elementwise.XLA_COST: e.g. softplus is 4 flops + 2 transcendentals)
    reductions       one application of the combiner per reduced element (input - output)
    dot_general      2 x result elements x contracted size
    all_reduce       one flop per result element (XLA prices the combiner once)
    data movement    free: reshape, transpose, slice, pad, concatenate, broadcast, gather
    constants        free: anything computed from constants alone is folded by XLA
    while / if       one trip of the body, the dearer branch (XLA cannot count trips either;
                     a `for` loop's static trip count is multiplied in for predicted time)

XLA's CPU pipeline rewrites some reductions (column and full reductions become padded
trees), so on those the simulator counts the reduction the program asks for, not the
rewritten one. A few primitives have no closed form in XLA's accounting of JAX's lowering
and are estimated, and the report names them (`Report.approximate`): random draws (one
transcendental per element, XLA's price for an RNG op; JAX's threefry costs more),
cumsum (axis length - 1 per element: the reduce-window XLA's CPU pipeline makes of
short scans; longer ones it counts somewhat lower), argmax/argmin (9 flops per
compared element) and polygamma (as digamma).

Memory is the peak of live per-device buffers in program order (inputs stay live: the caller
holds them). Communication uses the payload of each collective (what `hlo_collectives` reads
from compiled HLO) and a ring model for time:

    all_reduce      2 (p-1)/p x bytes over the wire, 2 (p-1) latency hops
    all_gather      (p-1)/p x gathered bytes, p-1 hops
    reduce_scatter  (p-1)/p x input bytes, p-1 hops
    all_to_all      (p-1)/p x bytes, p-1 hops
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..ir import Module, Op, Region, lookup
from ..ir.prims import costs
from ..ir.registry import MissingRule
from ..ir.types import DTYPES, TupleType

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")


def nbytes(t) -> int:
    if isinstance(t, TupleType):
        return sum(nbytes(e) for e in t.elements)
    dt = DTYPES[t.dtype]
    return t.size * (dt.itemsize if dt is not None else 8)  # a PRNG key is two u32 words


@dataclass(frozen=True)
class CostModel:
    """Per-device rates. The defaults are a round accelerator (100 TFLOP/s, 10^12
    transcendentals/s, 100 GB/s links, 5 us per hop); benchmarks/partition.py measures them."""
    flops_per_s: float = 1e14
    transcendentals_per_s: float = 1e12
    link_bytes_per_s: float = 1e11
    hop_latency_s: float = 5e-6


@dataclass(frozen=True)
class Collective:
    prim: str
    group: int          # devices taking part
    payload: int        # bytes, as hlo_collectives reads them off compiled HLO
    trips: int = 1      # times it runs per call (inside a `for` loop)

    def wire_bytes(self) -> float:
        p = self.group
        share = 2 * (p - 1) / p if self.prim == "all_reduce" else (p - 1) / p
        return share * self.payload

    def hops(self) -> int:
        return 2 * (self.group - 1) if self.prim == "all_reduce" else self.group - 1


@dataclass
class Report:
    """One call of a per-device program."""
    flops: float = 0.0
    transcendentals: float = 0.0
    peak_bytes: int = 0
    collectives: list[Collective] = field(default_factory=list)
    # flops and transcendentals with static trip counts multiplied in (used for time)
    executed_flops: float = 0.0
    executed_transcendentals: float = 0.0
    compute_s: float = 0.0
    comm_s: float = 0.0
    approximate: set[str] = field(default_factory=set)  # primitives whose counts are estimates

    @property
    def time_s(self) -> float:
        return self.compute_s + self.comm_s

    def __str__(self):
        moved = ", ".join(f"{k} {v / 1024:.1f} KiB" for k, v in self.collective_bytes().items() if v) or "none"
        guess = f" (estimated: {', '.join(sorted(self.approximate))})" if self.approximate else ""
        return (f"per device: {self.flops / 1e9:.4g} GFLOP, {self.transcendentals / 1e6:.4g} M transcendentals{guess}, "
                f"peak {self.peak_bytes / 2**20:.3g} MiB; collectives: {moved}; predicted {self.time_s * 1e3:.4g} ms "
                f"({self.compute_s * 1e3:.4g} compute + {self.comm_s * 1e3:.4g} communication)")

    def collective_bytes(self) -> dict[str, int]:
        """Payload bytes per kind of collective, once through the program (as in HLO)."""
        out = {k: 0 for k in COLLECTIVES}
        for c in self.collectives:
            out[c.prim] += c.payload
        return out


class _Counter:
    def __init__(self, module: Module, mesh_axes: dict[str, int]):
        self.module, self.mesh_axes = module, mesh_axes
        self.folded: set = set()  # values computed from constants alone
        self.calls: list[str] = []

    def region(self, region: Region, trips: int, report: Report) -> tuple[float, float]:
        """(flops, transcendentals) of one pass through `region`; executed counts and
        collectives go straight into `report`, scaled by `trips`."""
        flops = trans = 0.0
        for op in region.ops:
            f, t = self.op(op, trips, report)
            flops, trans = flops + f, trans + t
        return flops, trans

    def op(self, op: Op, trips: int, report: Report) -> tuple[float, float]:
        p = op.prim
        prim = lookup(p)
        # a collective or a device's own tile (shard_slice) depends on the device: never folded
        if p == "constant" or (op.operands and not op.regions and prim.cost is not costs.draw
                               and not prim.collective and all(v in self.folded for v in op.operands)):
            self.folded.update(op.results)
            return 0.0, 0.0
        if p == "while":
            n = op.attrs.get("trip_count")
            inner = trips * (n if n is not None else 1)
            fc, tc = self.region(op.regions[0], inner, report)
            fb, tb = self.region(op.regions[1], inner, report)
            return fc + fb, tc + tb
        if p in ("if", "switch"):
            branches = [Report() for _ in op.regions]
            spent = [self.region(r, trips, b) for r, b in zip(op.regions, branches)]
            for b in branches:  # any branch may run: all their collectives are in the program
                report.collectives += b.collectives
                report.approximate |= b.approximate
            report.executed_flops += max(b.executed_flops for b in branches)
            report.executed_transcendentals += max(b.executed_transcendentals for b in branches)
            return max(c[0] for c in spent), max(c[1] for c in spent)
        if p == "call":
            callee = op.attrs["callee"]
            if callee in self.calls:
                raise ValueError(f"simulator: {callee} is recursive; partitioned programs are call-free")
            self.calls.append(callee)
            try:
                return self.region(self.module.functions[callee].body, trips, report)
            finally:
                self.calls.pop()
        rule = prim.cost
        if rule is None:
            raise MissingRule(p, "cost")
        f, t = rule(op)
        if getattr(rule, "estimated", False):
            report.approximate.add(p)
        if p in COLLECTIVES:
            report.collectives.append(self.collective(op, trips))
        report.executed_flops += f * trips
        report.executed_transcendentals += t * trips
        return f, t

    def collective(self, op: Op, trips: int) -> Collective:
        if op.prim == "all_reduce":
            group = math.prod(self.mesh_axes[a] for a in op.attrs["axes"])
        else:
            group = op.attrs["parts"]
        carried = op.operands[0] if op.prim in ("reduce_scatter", "all_to_all") else op.results[0]
        return Collective(op.prim, group, nbytes(carried.type), trips)


def peak_bytes(module: Module) -> int:
    """The most bytes live at once on one device, in program order (a nested region adds
    its own peak to what is live around it)."""
    def region(r: Region, resident: set) -> int:
        last = {}
        for i, op in enumerate(r.ops):
            for v in op.operands:
                last[v] = i
            for sub in op.regions:  # values a nested region reads stay live through the op
                for inner in _free_values(sub):
                    last[inner] = i
        live = {v: nbytes(v.type) for v in r.params}
        peak = sum(live.values())
        for i, op in enumerate(r.ops):
            inner = max((region(sub, set()) for sub in op.regions), default=0)
            for v in op.results:
                live[v] = nbytes(v.type)
            peak = max(peak, sum(live.values()) + inner)
            for v in list(live):
                if v not in resident and last.get(v, -1) <= i and v not in r.params:
                    del live[v]
        return peak
    entry = module.entry
    return region(entry.body, set(entry.params))


def _free_values(r: Region):
    for op in r.ops:
        yield from op.operands
        for sub in op.regions:
            yield from _free_values(sub)


def simulate(module: Module, mesh_axes: dict[str, int], model: CostModel | None = None) -> Report:
    """Predicted cost of one call of a per-device program (ppc.partition's lowering)."""
    model = model or CostModel()
    report = Report()
    report.flops, report.transcendentals = _Counter(module, mesh_axes).region(module.entry.body, 1, report)
    report.peak_bytes = peak_bytes(module)
    report.compute_s = (report.executed_flops / model.flops_per_s
                        + report.executed_transcendentals / model.transcendentals_per_s)
    report.comm_s = sum(c.trips * (c.wire_bytes() / model.link_bytes_per_s + c.hops() * model.hop_latency_s)
                        for c in report.collectives)
    return report


# ------------------------------------------------------------------ reading compiled HLO

_HLO_OP = re.compile(r"=\s*(?P<shape>\([^=]*?\)|\w+\[[\d,]*\](?:\{[^}]*\})?)\s+"
                     r"(?P<kind>all-reduce|all-gather|reduce-scatter|all-to-all)(?:-start)?\(")
_ARRAY = re.compile(r"(\w+)\[([\d,]*)\]")
_HLO_DTYPES = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4, "u32": 4,
               "f32": 4, "s64": 8, "u64": 8, "f64": 8}


def _group_size(line: str) -> int:
    m = re.search(r"replica_groups=\{\{([\d,]*)\}", line)
    if m:
        return len(m.group(1).split(","))
    m = re.search(r"replica_groups=\[(\d+),(\d+)\]", line)  # iota form: [groups, size]<=[...]
    if m:
        return int(m.group(2))
    # mesh form: mesh['a'=4,'b'=2] {'a'}, perhaps with device_ids=(...) before the braces
    m = re.search(r"replica_groups=mesh\[([^\]]*)\][^{]*\{([^}]*)\}", line)
    if m:
        sizes = dict((k.strip().strip("'"), int(v)) for k, v in (kv.split("=") for kv in m.group(1).split(",")))
        return math.prod(sizes[a.strip().strip("'")] for a in m.group(2).split(",") if a.strip())
    raise ValueError(f"cannot read the replica groups of: {line.strip()[:120]}")


def hlo_collectives(hlo_text: str) -> list[Collective]:
    """The collectives of compiled HLO text, each with the payload `simulate` predicts
    (reduce-scatter's input is its result times the group)."""
    kinds = {"all-reduce": "all_reduce", "all-gather": "all_gather", "reduce-scatter": "reduce_scatter",
             "all-to-all": "all_to_all"}
    found = []
    for line in hlo_text.splitlines():
        m = _HLO_OP.search(line)
        if not m:
            continue
        size = sum(math.prod(int(d) for d in dims.split(",") if d) * _HLO_DTYPES[dt]
                   for dt, dims in _ARRAY.findall(m.group("shape")))
        group = _group_size(line)
        prim = kinds[m.group("kind")]
        found.append(Collective(prim, group, size * group if prim == "reduce_scatter" else size))
    return found


def table(reports: dict[str, Report], measured: dict[str, float] | None = None) -> str:
    """One row per strategy: per-device compute, memory and traffic, predicted time and the
    predicted ranking, beside measured times where given."""
    head = ["strategy", "GFLOP", "Mtrans", "peak MiB", "all_reduce KiB", "all_gather KiB", "reduce_scatter KiB",
            "all_to_all KiB", "pred ms", "pred rank"]
    if measured:
        head += ["measured ms", "measured rank"]
    order = sorted(reports, key=lambda k: reports[k].time_s)
    morder = sorted(measured, key=measured.get) if measured else []
    rows = []
    for name, r in reports.items():
        b = r.collective_bytes()
        row = [name, f"{r.flops / 1e9:.4f}", f"{r.transcendentals / 1e6:.3f}", f"{r.peak_bytes / 2**20:.2f}",
               *(f"{b[k] / 1024:.1f}" for k in COLLECTIVES), f"{r.time_s * 1e3:.4g}", str(order.index(name) + 1)]
        if measured:
            row += [f"{measured[name] * 1e3:.4g}", str(morder.index(name) + 1)]
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, rows)])
