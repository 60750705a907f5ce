"""The block program as one IR function: a `while` loop whose body runs one block
(`schedule` picks it), masked to the members there.

State: `pc` and frame `depth` per member, an overflow flag, per-block counters (steps
run, members served), and storage files (ppc/ir/prims/machine.py): one per kind and type
of stored value, each value a row. Frame 0 of the return-address stack holds the halt
address the entry function returns to; frames 1..max_stack_depth are real; the last
frame is scratch.

Why files and write channels: XLA copies every value that passes unchanged through a
conditional, so a `switch` returning the whole state would copy all of it on every step
(measured: the step time grew with the state). Instead the `switch` over blocks only
reads the state and returns the step's writes as a fixed set of channels per file (the
value; for stacks also the frame per member; for a register changed in part, `Patch`,
the window and where it goes), and the writes land in place after it, in the row the
block that ran writes (a constant per block, looked up after the `switch`: as outputs,
the rows cost a copy each per step). A step costs what its block computes and writes
(and, per file, as many writes as its busiest block makes), not the size of the state;
so the entry's first block, which often sets up whole arrays, runs before the loop.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ...ir import Builder, Function, InternalError, Module, Op, Region, TensorType, Value, walk_ops
from ..batch import Batch
from .blocks import STORED, Branch, Call, Jump, Program, Return, jumps, term_operands, unit, work

PC = TensorType((), "i32")
GATHER_RATIO = 30  # see _Machine.gather


@dataclass
class Patch:
    """A write of a window of a register (a register read this step, changed by
    `dynamic_update_slice`): per member the window's index (member, then its start along
    each axis; member = batch size where the member writes nothing) and its values. The
    whole new value and the mask stand by for a second write to the same place."""
    index: Value
    update: Value
    value: Value
    mask: Value


def _group(place, w):
    """The write channels a write travels in: its file's, or its file's patches of its size."""
    return ("patch", place[0], w.update.type.shape[1:]) if isinstance(w, Patch) else place[0]


class _Machine:
    def __init__(self, prog: Program, size: int, max_stack_depth: int):
        self.prog, self.size, self.depth_limit = prog, size, max_stack_depth
        self.frames = max_stack_depth + 2
        self.batch = Batch(prog.module, size)
        self.order, self.defs = {}, {}  # values in program order; the op defining each
        for fn in prog.module.functions.values():
            for v in fn.params:
                self.order.setdefault(v, len(self.order))
            for op in walk_ops(fn.body):
                for r in op.regions:
                    for v in r.params:
                        self.order.setdefault(v, len(self.order))
                for r in op.results:
                    self.order.setdefault(r, len(self.order))
                    self.defs[r] = op
        stored = sorted((v for v in prog.storage if prog.stores(v) and v not in prog.shares),
                        key=self.order.__getitem__)
        # where each stored value lives: (file key, row); files: key -> row names
        self.place: dict[object, tuple] = {}
        self.origin: dict[Value, tuple] = {}  # values read from a register: its place
        self.files: dict[tuple, list] = {}
        for v in stored:
            self.assign(v, (prog.storage[v], v.type.shape, v.type.dtype), v.hint)
        for fn in prog.module.functions.values():
            if fn.name in prog.entry_blocks:
                for i, t in enumerate(fn.result_types):
                    if ("result", i, t) not in self.place:
                        self.assign(("result", i, t), ("register", t.shape, t.dtype), f"result{i}")
        self.assign("ret", ("stack", (), "i32"), "ret")
        for v, owner in prog.shares.items():
            self.place[v] = self.place[owner]
        self.first = self.first_block()

    def assign(self, slot, key, name):
        rows = self.files.setdefault(key, [])
        self.place[slot] = (key, len(rows))
        rows.append(name)

    def file_type(self, key) -> TensorType:
        kind, shape, dtype = key
        rows = len(self.files[key]) + 1  # the last row is scratch
        member = {"register": (self.size,), "uniform": (), "stack": (self.frames, self.size)}[kind]
        return TensorType((rows,) + member + shape, dtype)

    def value_type(self, key) -> TensorType:
        """What one write to a file carries: a value per member (one, if uniform)."""
        kind, shape, dtype = key
        return TensorType(shape if kind == "uniform" else (self.size,) + shape, dtype)

    def file_name(self, key) -> str:
        rows = self.files[key]
        return rows[0] if len(rows) == 1 else f"{key[0]}s_{key[2]}{'x'.join(map(str, key[1]))}"

    # -- helpers over a builder ------------------------------------------------------------
    def full(self, b: Builder, value, t: TensorType, hint: str | None = None) -> Value:
        return b.op("broadcast_in_dim", [b.constant(value, TensorType((), t.dtype))], hint, shape=t.shape, dims=())

    def where(self, b: Builder, mask: Value, new: Value, old: Value) -> Value:
        if old.type.rank > 1:
            mask = b.op("broadcast_in_dim", [mask], shape=old.type.shape, dims=(0,))
        return b.op("select", [mask, new, old])

    def batched(self, b: Builder, v: Value, is_batched: bool) -> Value:
        return v if is_batched else self.batch.lift(b, v, False)

    def read(self, b: Builder, files: dict, slot, depth: Value) -> Value:
        key, row = self.place[slot]
        if key[0] == "stack":
            out = b.op("stack_read", [files[key], depth], getattr(slot, "hint", None), row=row)
        else:
            out = b.op("file_read", [files[key]], getattr(slot, "hint", None), row=row)
        if key[0] != "stack":  # (a stack read depends on the frame: not the same as writing back)
            self.origin[out] = (key, row)
        return out

    # -- the program -------------------------------------------------------------------------
    def build(self, squeeze: bool) -> Module:
        prog = self.prog
        entry_fn = prog.module.entry
        b = Builder(Region(list(prog.inputs)))
        B = TensorType((self.size,), "i32")
        small = {"pc": self.full(b, prog.entry_blocks[entry_fn.name].id, B, "pc"),
                 "depth": self.full(b, 1, B, "depth"),
                 "overflow": b.constant(False, TensorType((), "bool"), "overflow")}
        counters = {"runs": self.full(b, 0, TensorType((prog.halt,), "i64"), "runs"),
                    "served": self.full(b, 0, TensorType((prog.halt,), "i64"), "served")}
        files = {key: b.op("zeros", [], self.file_name(key), shape=t.shape, dtype=t.dtype)
                 for key in self.files for t in [self.file_type(key)]}
        everyone = self.full(b, True, TensorType((self.size,), "bool"))
        writes = {self.place["ret"]: (self.full(b, prog.halt, B), everyone, self.full(b, 0, B))}  # frame 0: halt
        for p, x, f in zip(entry_fn.params, prog.inputs, prog.input_batched):
            if prog.stores(p):
                writes[self.place[p]] = (self.batched(b, x, f) if prog.storage[p] != "uniform" else x, everyone,
                                         small["depth"])
        files = self.apply(b, files, writes)
        first = self.first
        if first is not None:  # every member runs it now, before the loop
            region, small, writes = self.case(first, {**small, **files}, files, everyone)
            b.region.ops.extend(region.ops)  # (a case takes no parameters)
            files = self.apply(b, files, writes)
            once = np.zeros(prog.halt, np.int64)
            once[first.id] = 1
            counters = {"runs": b.constant(once, TensorType((prog.halt,), "i64"), "runs"),
                        "served": b.constant(once * self.size, TensorType((prog.halt,), "i64"), "served")}
        slots = list(small) + list(counters) + list(files)
        init = {**small, **counters, **files}
        hints = {s: s if isinstance(s, str) else init[s].hint for s in slots}

        cond = Region([Value(init[s].type, hints[s]) for s in slots])
        cb = Builder(cond)
        cs = dict(zip(slots, cond.params))
        running = cb.op("lt", [cs["pc"], self.full(cb, prog.halt, TensorType((self.size,), "i32"))])
        going = cb.op("and", [cb.op("reduce_or", [running], axes=(0,)), cb.op("not", [cs["overflow"]])])
        cond.ops.append(Op("yield", [going], {}, []))

        body = Region([Value(init[s].type, hints[s]) for s in slots])
        self.step(Builder(body), dict(zip(slots, body.params)), slots)

        final = [Value(init[s].type, hints[s]) for s in slots]
        b.append(Op("while", [init[s] for s in slots], {}, final, [cond, body]))
        out = dict(zip(slots, final))
        results = []
        for i, t in enumerate(entry_fn.result_types):
            r = self.read(b, out, ("result", i, t), None)
            results.append(b.op("reshape", [r], shape=t.shape) if squeeze else r)
        results += [out["overflow"], out["runs"], out["served"]]
        b.append(Op("return", results, {}, []))
        return Module([Function(f"{entry_fn.name}_machine", b.region, [v.type for v in results])])

    def step(self, bb: Builder, state: dict, slots: list):
        prog = self.prog
        B = (self.size,)
        which, counts = self.schedule(bb, state["pc"])
        here = bb.op("eq", [state["pc"], bb.op("broadcast_in_dim", [which], shape=B, dims=())], "here")
        at = bb.op("eq", [bb.op("iota", [], shape=(prog.halt,), dimension=0, dtype="i32"),
                          bb.op("broadcast_in_dim", [which], shape=(prog.halt,), dims=())])
        new = {"runs": bb.op("add", [state["runs"], bb.op("convert", [at], dtype="i64")]),
               "served": bb.op("add", [state["served"], bb.op("select", [
                   at, counts, self.full(bb, 0, counts.type)])])}
        files = {s: state[s] for s in slots if isinstance(s, tuple)}
        first = self.first
        cases = [self.case(blk, state, files, here) if blk is not first else
                 (Region(), {s: state[s] for s in ("pc", "depth", "overflow")}, {})  # (never runs: see build)
                 for blk in prog.blocks]
        # every case returns the same channels: per file (and per size of patch), as many
        # writes as the busiest block makes
        width = dict.fromkeys(files, 0)
        for _, _, writes in cases:
            for group, n in Counter(_group(place, w) for place, w in writes.items()).items():
                width[group] = max(width.get(group, 0), n)
        made = {}

        def filler(value, t: TensorType) -> Value:  # (one per type, made before the `switch`)
            if (value, t) not in made:  # (zeros: also of key types, which have no constants)
                made[value, t] = (bb.op("zeros", [], shape=t.shape, dtype=t.dtype) if value == 0 else
                                  self.full(bb, value, t))
            return made[value, t]
        regions, outs, rows = [], None, []
        for region, small, writes in cases:
            outs, case_rows = self.channels(Builder(region), small, writes, width, filler)
            region.ops.append(Op("yield", outs, {}, []))
            regions.append(region)
            rows.append(case_rows)
        results = [Value(v.type, v.hint) for v in outs]
        bb.append(Op("switch", [which], {}, results, regions))
        it = iter(results)
        new.update(pc=next(it), depth=next(it), overflow=next(it))
        per_channel = iter(zip(*rows))
        for group, n in width.items():
            key = group[1] if group[0] == "patch" else group
            f = new.get(key, files[key])
            for _ in range(n):
                row = self.row(bb, list(next(per_channel)), which)
                if group[0] == "patch":
                    index, update = next(it), next(it)
                    f = bb.op("file_patch", [f, row, index, update], f.hint)
                elif key[0] == "stack":
                    frames, value = next(it), next(it)
                    f = bb.op("stack_write", [f, row, frames, value], f.hint)
                else:
                    f = bb.op("file_write", [f, row, next(it)], f.hint)
            new[key] = f
        bb.region.ops.append(Op("yield", [new[s] for s in slots], {}, []))

    def first_block(self):
        """The entry function's entry block, when it runs only at the start (the entry
        function is never called, its entry block never jumped to): the machine runs it
        before the loop, so its writes (often whole arrays of zeros to fill later) make no
        write channels that every step would pay for."""
        prog = self.prog
        name = prog.module.entry.name
        entry = prog.entry_blocks[name]
        for blk in prog.every_block:
            t = blk.term
            if (isinstance(t, Call) and t.callee == name) or any(j.target is entry for j in jumps(t)):
                return None
        return entry if entry.id >= 0 else None

    def schedule(self, b: Builder, pc: Value) -> tuple[Value, Value]:
        """The block to run, and how many members are at each block. The block: the
        cheaper block most members are at, except that the costliest block (numbered
        last) runs once it holds enough of the members still running (`gather`), or when
        no one is elsewhere. Measured on NUTS (16 and 128 chains): fewer steps than
        running the lowest-numbered block, and nearly its utilization of the leapfrog
        block; better than running the most-populated block outright."""
        n = self.prog.halt
        grid, blocks, i64 = (self.size, n), TensorType((n,), "i64"), TensorType((), "i64")
        there = b.op("eq", [b.op("broadcast_in_dim", [pc], shape=grid, dims=(0,)),
                            b.op("iota", [], shape=grid, dimension=1, dtype="i32")])
        counts = b.op("reduce_sum", [b.op("convert", [there], dtype="i64")], axes=(0,))
        last = b.op("eq", [b.op("iota", [], shape=(n,), dimension=0, dtype="i32"),
                           self.full(b, n - 1, TensorType((n,), "i32"))])
        zero = self.full(b, 0, blocks)
        cheap = b.op("select", [last, zero, counts])
        top = b.op("reduce_sum", [b.op("select", [last, counts, zero])], axes=(0,))
        running = b.op("reduce_sum", [counts], axes=(0,))
        part, whole = self.gather()
        ready = b.op("ge", [b.op("mul", [top, b.constant(whole, i64)]), b.op("mul", [running, b.constant(part, i64)])])
        elsewhere = b.op("gt", [b.op("reduce_sum", [cheap], axes=(0,)), b.constant(0, i64)])
        which = b.op("select", [b.op("and", [elsewhere, b.op("not", [ready])]),
                                b.op("argmax", [cheap], axis=0, index_dtype="i32"), b.constant(n - 1, PC)], "block")
        return which, counts

    def gather(self) -> tuple[int, int]:
        """The share (part, whole) of the running members the costliest block waits for.
        Waiting costs steps of other blocks, and every step pays for the machine's
        writes; running early wastes the block's empty slots. So: 7/8 when the block's
        work per member is at least GATHER_RATIO times the elements a step writes per
        member, else 1/2. Measured (2026-12-07) on NUTS's logistic regression, 128 chains
        on two devices, 200 + 200 draws: breast cancer (ratio 67, leaves in pairs) at 1/2,
        3/4, 7/8 and all members: leapfrog utilization 0.67, 0.74, 0.76 and 0.77, compiled
        runs 6.6-7.7 s at 1/2 against 6.1-6.9 s at 7/8 (four each); the synthetic data set
        (ratio above 500) 0.98 and 22.7-23.1 s at 3/4 and 7/8 alike. Fibonacci of 1,000
        members (ratio 0.75) takes 4,047 steps at 1/2 and 5,251 at 7/8."""
        written = sum(n * int(np.prod(key[1], dtype=np.int64)) for key, n in self.prog.writes.items())
        costliest = work([op for x in unit(self.prog.blocks[-1]) for op in x.ops])
        return (7, 8) if costliest >= GATHER_RATIO * max(1, written) else (1, 2)

    def row(self, b: Builder, per_block: list, which: Value) -> Value:
        """A write channel's row: a constant per block, looked up by the block that ran
        (not a `switch` output: every output costs a copy in every step)."""
        if len(set(per_block)) == 1:
            return b.constant(per_block[0], PC)
        table = b.constant(np.array(per_block, np.int32), TensorType((len(per_block),), "i32"))
        return b.op("reshape", [b.op("dynamic_slice", [table, which], sizes=(1,))], shape=())

    def channels(self, b: Builder, small: dict, writes: dict, width: dict, filler) -> tuple[list, list]:
        """The case's outputs (pc, depth, overflow, then each file's write channels: for a
        stack the frame per member, then the value) and each channel's row (unused
        channels write zeros to the scratch row). An unused channel returns a value made
        once outside the `switch` (`filler`) rather than zeros made in every case:
        measured on NUTS (breast cancer, 128 chains), the machine's StableHLO went from
        7,005 to 5,124 ops and JAX's tracing from 0.6 to 0.5 s; XLA's compile time and the
        step times did not change."""
        outs, rows = [small["pc"], small["depth"], small["overflow"]], []
        for group, n in width.items():
            mine = [(place, w) for place, w in writes.items() if _group(place, w) == group]
            if group[0] == "patch":
                self.patch_channels(group, n, mine, outs, rows, filler)
                continue
            key = group
            vt = self.value_type(key)
            scratch = len(self.files[key])
            for i in range(n):
                if i < len(mine):
                    (_, row), (value, mask, frame) = mine[i]
                else:
                    row, value = scratch, filler(0, vt)
                    mask = frame = None
                rows.append(row)
                if key[0] == "stack":
                    junk = filler(self.frames - 1, TensorType((self.size,), "i32"))
                    outs += [junk if mask is None else b.op("select", [mask, frame, junk]), value]
                else:
                    outs.append(value)
        return outs, rows

    def patch_channels(self, group, n: int, mine: list, outs: list, rows: list, filler):
        """A group's patch channels: (index, update) each; unused ones write nothing."""
        _, key, shape = group
        for i in range(n):
            if i < len(mine):
                (_, row), w = mine[i]
                rows.append(row)
                outs += [w.index, w.update]
                continue
            rows.append(len(self.files[key]))
            outs += [filler(self.size, TensorType((self.size, 1 + len(key[1])), "i32")),
                     filler(0, TensorType((self.size,) + shape, key[2]))]

    # -- one block ----------------------------------------------------------------------------
    def case(self, blk, state: dict, files: dict, here: Value):
        """The switch case running `blk` for the members at it: (region, its pc/depth/
        overflow, its writes {place: (value, mask, frame)}). Register writes are already
        masked (the value where the member is here, the old value elsewhere)."""
        prog = self.prog
        region = Region()
        b = Builder(region)
        mask = here
        depth = state["depth"]
        small = {"pc": state["pc"], "depth": depth, "overflow": state["overflow"]}
        writes: dict = {}
        vmap, batched = {}, set()
        for x, f in zip(prog.inputs, prog.input_batched):
            vmap[x] = x
            if f:
                batched.add(x)
        for p, x in prog.substitute.items():
            vmap[p] = self.materialize(b, x, vmap)
        needed = set(prog.live_in[blk]) | {p for p in blk.params if p in prog.reads[blk]}
        for i, p in enumerate(blk.params):
            if blk.kind == "cont":
                vmap[p] = self.read(b, files, ("result", i, p.type), depth)
                batched.add(p)
                needed.discard(p)
        for v in sorted(needed, key=self.order.__getitem__):
            kind = prog.storage.get(v)
            if kind == "input":
                self.materialize(b, v, vmap)
                continue
            if kind == "const":
                (vmap[v],) = self.batch_op(b, self.defs[v], vmap, batched)
            elif kind in STORED:
                vmap[v] = self.read(b, files, v, depth)
                if kind != "uniform":
                    batched.add(v)
            else:
                raise InternalError("pc", f"{v!r} ({kind}) is read in {blk.label} but has no storage")
        self.batch_ops(b, blk.ops, vmap, batched, mask)

        def store(dest, a, m, frame):
            self.write(b, files, writes, dest, vmap[a], a in batched, m, frame, self.window(a, vmap, batched))
        for v in list(blk.params) + [r for op in blk.ops for r in op.results]:
            if prog.stores(v) and (blk.kind == "cont" or v not in blk.params):
                store(v, v, mask, depth)
        self.terminate(b, blk.term, small, writes, store, vmap, batched, mask, files)
        return region, small, writes

    def materialize(self, b: Builder, x: Value, vmap: dict) -> Value:
        """An input, or an element of one, in this block (a `tuple_get` costs nothing)."""
        if x not in vmap:
            if x in self.prog.substitute:
                vmap[x] = self.materialize(b, self.prog.substitute[x], vmap)
            else:
                op = self.defs[x]
                src = self.materialize(b, op.operands[0], vmap)
                vmap[x] = b.op("tuple_get", [src], x.hint, **op.attrs)
        return vmap[x]

    def batch_ops(self, b: Builder, ops, vmap: dict, batched: set, mask: Value):
        """A block's ops for the members in `mask`: the others hold values of other blocks
        (or none yet), on which a loop might never end, so its loops run for `mask` only."""
        self.batch.mask = mask
        for op in ops:
            self.batch_op(b, op, vmap, batched)
        self.batch.mask = None

    def batch_op(self, b, op, vmap, batched):
        try:
            self.batch.op(op, vmap, batched, b)
        except KeyError as e:
            raise InternalError("pc", f"'{op.prim}' reads a value with no storage: {e}") from None
        return [vmap[r] for r in op.results]

    def window(self, a: Value, env: dict, env_batched: set):
        """When `a` is a `dynamic_update_slice` made in this step: its operands, each
        (value, batched); else None."""
        op = self.defs.get(a)
        if op is None or op.prim != "dynamic_update_slice" or any(v not in env for v in op.operands):
            return None
        return [(env[v], v in env_batched) for v in op.operands]

    def write(self, b: Builder, files, writes: dict, dest, x: Value, is_batched: bool, mask: Value, frame: Value,
              window=None):
        """Record a write of `x` to `dest` for the members in `mask`. Writes are keyed by
        place: a second write there in one block (a branch whose sides meet, or values
        sharing a register) merges by mask; writing back what was read from the same
        register is no write at all, and writing it back changed by a window (`window`:
        x = dynamic_update_slice of it) writes the window."""
        place = self.place[dest]
        kind = place[0][0]
        if self.origin.get(x) == place and place not in writes:
            return
        if window is not None and kind == "register" and place not in writes and self.origin.get(window[0][0]) == place:
            writes[place] = self.patch(b, window, mask, self.batched(b, x, is_batched))
            return
        if isinstance(writes.get(place), Patch):  # a second write: the first one whole
            p = writes[place]
            writes[place] = (self.where(b, p.mask, p.value, self.read(b, files, dest, None)), p.mask, frame)
        if kind == "uniform":
            if is_batched:
                raise InternalError("pc", f"{dest!r} was found the same for every member, but batching made it differ")
            writes[place] = (x, mask, frame)
            return
        x = self.batched(b, x, is_batched)
        if kind == "stack":
            if place in writes:
                px, pm, pf = writes[place]
                x, frame, mask = self.where(b, mask, x, px), b.op("select", [mask, frame, pf]), b.op("or", [mask, pm])
            writes[place] = (x, mask, frame)
            return
        old = writes[place][0] if place in writes else self.read(b, files, dest, None)
        writes[place] = (self.where(b, mask, x, old), mask, frame)

    def patch(self, b: Builder, window, mask: Value, value: Value) -> Patch:
        """The write of a window: per member its index (the member, or the batch size
        where masked out; starts clamped as dynamic_update_slice clamps them) and values."""
        (base, _), (update, update_batched), *starts = window
        size, i32 = self.size, TensorType((self.size,), "i32")
        update = self.batched(b, update, update_batched)
        member = b.op("select", [mask, b.op("iota", [], shape=(size,), dimension=0, dtype="i32"), self.full(b, size, i32)])
        cols = [member]
        for (s, s_batched), n, u in zip(starts, base.type.shape[1:], update.type.shape[1:]):
            s = b.op("convert", [self.batched(b, s, s_batched)], dtype="i32")
            s = b.op("max", [b.op("min", [s, self.full(b, n - u, i32)]), self.full(b, 0, i32)])
            cols.append(s)
        index = b.op("concatenate", [b.op("reshape", [c], shape=(size, 1)) for c in cols], axis=1)
        return Patch(index, update, value, mask)

    def terminate(self, b: Builder, t, small, writes, store, vmap, batched, mask, files):
        prog = self.prog
        B = TensorType((self.size,), "i32")
        depth = small["depth"]

        def goto(target: Value, m=mask):
            small["pc"] = self.where(b, m, target, small["pc"])

        def jump(j: Jump, m):
            for p, a in j.bindings:
                if prog.stores(p):
                    store(p, a, m, depth)
            if j.inline:  # the target runs here, for the members taking this jump
                self.run_here(b, j.target, j.bindings, small, writes, vmap, batched, m, files, depth)
        if isinstance(t, Jump):
            jump(t, mask)
            if not t.inline:
                goto(self.full(b, t.target.id, B))
        elif isinstance(t, Branch):
            pred = vmap[t.pred] if t.pred in batched else self.batched(b, vmap[t.pred], False)
            then = b.op("and", [mask, pred])
            jump(t.then, then)
            other = b.op("and", [mask, b.op("not", [pred])])
            jump(t.other, other)
            if not (t.then.inline or t.other.inline):
                goto(b.op("select", [pred, self.full(b, t.then.target.id, B), self.full(b, t.other.target.id, B)]))
            else:  # (a side run here went on by its own terminator, for its own members)
                for j, m in ((t.then, then), (t.other, other)):
                    if not j.inline:
                        goto(self.full(b, j.target.id, B), m)
        elif isinstance(t, Call):
            callee = prog.module.functions[t.callee]
            frame = depth
            if t.cont is not None:  # push: the return address in this frame, the callee in the next
                deep = b.op("and", [mask, b.op("ge", [depth, self.full(b, self.depth_limit, B)])])
                small["overflow"] = b.op("or", [small["overflow"], b.op("reduce_or", [deep], axes=(0,))])
                self.write(b, files, writes, "ret", self.full(b, t.cont.id, B), True, mask, depth)
                frame = b.op("add", [depth, self.full(b, 1, B)])
            for p, a in zip(callee.params, t.args):
                if prog.stores(p):
                    store(p, a, mask, frame)
            if t.cont is not None:
                small["depth"] = self.where(b, mask, frame, depth)
            if t.inline_entry is None:
                goto(self.full(b, prog.entry_blocks[t.callee].id, B))
            else:  # (the depth is already the callee's)
                self.run_here(b, t.inline_entry, list(zip(callee.params, t.args)), small, writes, vmap, batched, mask,
                              files, small["depth"])
        elif isinstance(t, Return):
            for i, v in enumerate(t.values):
                self.write(b, files, writes, ("result", i, v.type), vmap[v], v in batched, mask, depth,
                           self.window(v, vmap, batched))
            up = b.op("sub", [depth, self.full(b, 1, B)])
            goto(b.op("stack_read", [files[self.place["ret"][0]], up], row=self.place["ret"][1]))
            small["depth"] = self.where(b, mask, up, depth)

    def run_here(self, b: Builder, blk, bindings, small, writes, vmap, batched, mask, files, depth):
        """Block `blk` run within this step for the members in `mask`, its parameters
        bound to `bindings`' values: a callee's entry run by the call (`Call.inline_entry`)
        or a jump's target (`Jump.inline`). Its ops, its values stored in frame `depth`,
        then its own way on. What else it reads the step has read already (the unit's
        live-in), or is a constant or an input, made here."""
        inner, inner_batched = dict(vmap), set(batched)
        for p, a in bindings:
            if p not in self.prog.substitute:
                inner[p] = vmap[a]
                if a in batched:
                    inner_batched.add(p)
                else:
                    inner_batched.discard(p)
        defined = {r for op in blk.ops for r in op.results}
        for v in {*(x for op in blk.ops for x in op.operands), *term_operands(blk.term)} - defined:
            if v not in inner:  # a constant (maybe of a block a jump was threaded past) or an input
                if self.prog.storage.get(v) == "const":
                    self.batch_op(b, self.defs[v], inner, inner_batched)
                else:
                    self.materialize(b, v, inner)
        self.batch_ops(b, blk.ops, inner, inner_batched, mask)

        def store(dest, a, m, frame):
            self.write(b, files, writes, dest, inner[a], a in inner_batched, m, frame,
                       self.window(a, inner, inner_batched))
        for op in blk.ops:
            for r in op.results:
                if self.prog.stores(r):
                    store(r, r, mask, depth)
        self.terminate(b, blk.term, small, writes, store, inner, inner_batched, mask, files)

    def apply(self, b: Builder, files: dict, writes: dict) -> dict:
        """Writes made outside the loop (the initial state): straight into the files."""
        files = dict(files)
        for (key, row), w in writes.items():
            r = b.constant(row, PC)
            if isinstance(w, Patch):
                files[key] = b.op("file_patch", [files[key], r, w.index, w.update])
                continue
            x, mask, frame = w
            if key[0] == "stack":
                files[key] = b.op("stack_write", [files[key], r, frame, x])
            else:
                files[key] = b.op("file_write", [files[key], r, x])
        return files


def build_machine(prog: Program, size: int, max_stack_depth: int, squeeze: bool = False) -> Module:
    """The machine running `prog` on `size` members. Its function returns the entry's
    results (batched; with `squeeze`, size 1 and unbatched), then the overflow flag and
    the per-block counts of steps run and members served."""
    if squeeze and size != 1:
        raise ValueError("squeeze needs a batch of one")
    machine = _Machine(prog, size, max_stack_depth)
    machine.batch.single = squeeze  # (its batch of one is no batch: it may run a batch's machine, Batch.unbatched)
    return machine.build(squeeze)
