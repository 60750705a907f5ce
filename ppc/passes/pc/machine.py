"""The block program as one IR function: a `while` loop over the machine state whose
body runs the lowest-numbered block any member is at (a `switch` on it), masked to those
members.

State: `pc` and frame `depth` per member, the return-address stack, registers
([B, ...], or unbatched when uniform), stacks ([frames, B, ...]), one result register
per (position, type) through which callees hand results to their continuations, an
overflow flag, and per-block counters (steps run, members served). Frame 0 holds the
halt address the entry function returns to; frames 1..max_stack_depth are real; the
last frame is scratch for masked writes.
"""
from __future__ import annotations

from ...ir import Builder, Function, InternalError, Module, Op, Region, TensorType, Value
from ..batch import Batch
from .blocks import Branch, Call, Jump, Program, Return

PC = TensorType((), "i32")


class _Machine:
    def __init__(self, prog: Program, size: int, max_stack_depth: int):
        self.prog, self.size, self.depth_limit = prog, size, max_stack_depth
        self.frames = max_stack_depth + 2
        self.batch = Batch(prog.module, size)
        self.order, self.consts = {}, {}  # values in program order (for a stable output); constants' ops
        for b in prog.blocks:
            for v in b.params:
                self.order.setdefault(v, len(self.order))
            for op in b.ops:
                for r in op.results:
                    self.order.setdefault(r, len(self.order))
                    if op.prim == "constant":
                        self.consts[r] = op
        # the slots of the state, in order: name -> type
        self.slots: dict[object, TensorType] = {}
        B = (size,)
        self.slots["pc"] = TensorType(B, "i32")
        self.slots["depth"] = TensorType(B, "i32")
        self.slots["ret"] = TensorType((self.frames, size), "i32")
        self.slots["overflow"] = TensorType((), "bool")
        self.slots["runs"] = TensorType((prog.halt,), "i64")
        self.slots["served"] = TensorType((prog.halt,), "i64")
        for b in prog.blocks:
            for v in list(b.params) + [r for op in b.ops for r in op.results]:
                kind = prog.storage.get(v)
                if kind == "register":
                    self.slots[v] = TensorType(B + v.type.shape, v.type.dtype)
                elif kind == "uniform":
                    self.slots[v] = v.type
                elif kind == "stack":
                    self.slots[v] = TensorType((self.frames,) + B + v.type.shape, v.type.dtype)
        for fn in prog.module.functions.values():
            if fn.name in prog.entry_blocks:
                for i, t in enumerate(fn.result_types):
                    self.slots.setdefault(("result", i, t), TensorType(B + t.shape, t.dtype))

    def hint(self, slot) -> str:
        """The name a state slot goes by in dumps and generated source."""
        if isinstance(slot, str):
            return slot
        if isinstance(slot, tuple):
            return f"result{slot[1]}"
        return (slot.hint or "r") + ("_stack" if self.prog.storage[slot] == "stack" else "")

    # -- helpers over a builder ------------------------------------------------------------
    def full(self, b: Builder, value, t: TensorType, hint: str | None = None) -> Value:
        return b.op("broadcast_in_dim", [b.constant(value, TensorType((), t.dtype))], hint, shape=t.shape, dims=())

    def where(self, b: Builder, mask: Value, new: Value, old: Value) -> Value:
        if old.type.rank > 1:
            mask = b.op("broadcast_in_dim", [mask], shape=old.type.shape, dims=(0,))
        return b.op("select", [mask, new, old])

    def batched(self, b: Builder, v: Value, is_batched: bool) -> Value:
        return v if is_batched else self.batch.lift(b, v, False)

    # -- the program -------------------------------------------------------------------------
    def build(self, squeeze: bool) -> Module:
        prog = self.prog
        entry_fn = prog.module.entry
        params = list(prog.inputs)
        b = Builder(Region(params))
        init = {}
        B = (self.size,)
        init["pc"] = self.full(b, prog.entry_blocks[entry_fn.name].id, self.slots["pc"], "pc")
        init["depth"] = self.full(b, 1, self.slots["depth"], "depth")
        init["ret"] = self.full(b, prog.halt, self.slots["ret"], "ret")
        init["overflow"] = b.constant(False, self.slots["overflow"], "overflow")
        init["runs"] = self.full(b, 0, self.slots["runs"], "runs")
        init["served"] = self.full(b, 0, self.slots["served"], "served")
        for slot, t in self.slots.items():
            if slot not in init:
                init[slot] = b.op("zeros", [], self.hint(slot), shape=t.shape, dtype=t.dtype)
        everyone = self.full(b, True, TensorType(B, "bool"))
        for p, x, f in zip(entry_fn.params, prog.inputs, prog.input_batched):
            if prog.stores(p):
                self.write(b, init, p, x, f, init["depth"], everyone)
        slots = list(self.slots)
        carried = [init[s] for s in slots]

        cond = Region([Value(t, self.hint(s)) for s, t in self.slots.items()])
        cb = Builder(cond)
        cs = dict(zip(slots, cond.params))
        nxt = cb.op("reduce_min", [cs["pc"]], axes=(0,))
        going = cb.op("and", [cb.op("lt", [nxt, cb.constant(prog.halt, PC)]), cb.op("not", [cs["overflow"]])])
        cond.ops.append(Op("yield", [going], {}, []))

        body = Region([Value(t, self.hint(s)) for s, t in self.slots.items()])
        bb = Builder(body)
        state = dict(zip(slots, body.params))
        which = bb.op("reduce_min", [state["pc"]], "block", axes=(0,))
        here = bb.op("eq", [state["pc"], bb.op("broadcast_in_dim", [which], shape=B, dims=())], "here")
        served = bb.op("reduce_sum", [bb.op("convert", [here], dtype="i64")], axes=(0,))
        at = bb.op("eq", [bb.op("iota", [], shape=(prog.halt,), dimension=0, dtype="i32"),
                          bb.op("broadcast_in_dim", [which], shape=(prog.halt,), dims=())])
        one_hot = bb.op("convert", [at], dtype="i64")
        counters = {"runs": bb.op("add", [state["runs"], one_hot]),
                    "served": bb.op("add", [state["served"], bb.op("mul", [one_hot, bb.op(
                        "broadcast_in_dim", [served], shape=(prog.halt,), dims=())])])}
        moving = [s for s in slots if s not in counters]
        cases = [self.case(blk, {s: state[s] for s in moving}, here) for blk in prog.blocks]
        results = [Value(state[s].type, self.hint(s)) for s in moving]
        bb.append(Op("switch", [which], {}, results, [self.finish(r, moving) for r in cases]))
        after = dict(zip(moving, results), **counters)
        body.ops.append(Op("yield", [after[s] for s in slots], {}, []))

        final = [Value(t, self.hint(s)) for s, t in self.slots.items()]
        b.append(Op("while", carried, {}, final, [cond, body]))
        out = dict(zip(slots, final))
        results = []
        for i, t in enumerate(entry_fn.result_types):
            r = out[("result", i, t)]
            results.append(b.op("reshape", [r], shape=t.shape) if squeeze else r)
        results += [out["overflow"], out["runs"], out["served"]]
        b.append(Op("return", results, {}, []))
        return Module([Function(f"{entry_fn.name}_machine", b.region, [v.type for v in results])])

    def finish(self, case, moving) -> Region:
        region, state = case
        region.ops.append(Op("yield", [state[s] for s in moving], {}, []))
        return region

    # -- one block ----------------------------------------------------------------------------
    def case(self, blk, state: dict, here: Value):
        """The switch case running `blk` for the members at it: (region, new state)."""
        prog = self.prog
        region = Region()
        b = Builder(region)
        state = dict(state)
        mask = here
        depth = state["depth"]
        vmap, batched = {}, set()
        for p, x in prog.substitute.items():
            vmap[p] = x
        for x, f in zip(prog.inputs, prog.input_batched):
            vmap[x] = x
            if f:
                batched.add(x)
        needed = set(prog.live_in[blk]) | {p for p in blk.params if p in prog.reads[blk]}
        for i, p in enumerate(blk.params):
            if blk.kind == "cont":
                vmap[p] = state[("result", i, p.type)]
                batched.add(p)
                needed.discard(p)
        for v in sorted(needed, key=self.order.__getitem__):
            kind = prog.storage.get(v)
            if kind == "input":
                continue
            if kind == "const":
                (vmap[v],) = self.batch_op(b, self.consts[v], vmap, batched)
            elif kind == "register":
                vmap[v] = state[v]
                batched.add(v)
            elif kind == "uniform":
                vmap[v] = state[v]
            elif kind == "stack":
                vmap[v] = b.op("stack_read", [state[v], depth], v.hint)
                batched.add(v)
            else:
                raise InternalError("pc", f"{v!r} ({kind}) is read in {blk.label} but has no storage")
        for op in blk.ops:
            self.batch_op(b, op, vmap, batched)
        for v in list(blk.params) + [r for op in blk.ops for r in op.results]:
            if prog.stores(v) and (blk.kind == "cont" or v not in blk.params):
                self.store(b, state, v, v, vmap, batched, depth, mask)
        self.terminate(b, blk.term, state, vmap, batched, mask)
        return region, state

    def batch_op(self, b, op, vmap, batched):
        try:
            self.batch.op(op, vmap, batched, b)
        except KeyError as e:
            raise InternalError("pc", f"'{op.prim}' reads a value with no storage: {e}") from None
        return [vmap[r] for r in op.results]

    def value(self, b, vmap, batched, v) -> Value:
        return vmap[v] if v in batched else self.batch.lift(b, vmap[v], False)

    def store(self, b, state, v: Value, a: Value, vmap, batched, frame, mask):
        """Write source value `a` (as computed in this block) into `v`'s storage."""
        self.write(b, state, v, vmap[a], a in batched, frame, mask)

    def write(self, b: Builder, state, v: Value, x: Value, is_batched: bool, frame: Value, mask: Value):
        kind = self.prog.storage[v]
        if kind == "uniform":
            if is_batched:
                raise InternalError("pc", f"{v!r} was found the same for every member, but batching made it differ")
            state[v] = x
            return
        x = self.batched(b, x, is_batched)
        if kind == "register":
            state[v] = self.where(b, mask, x, state[v])
        elif kind == "stack":
            state[v] = b.op("stack_write", [state[v], frame, x, mask])

    def jump(self, b, j: Jump, state, vmap, batched, mask):
        for p, a in zip(j.target.params, j.args):
            if self.prog.stores(p):
                self.store(b, state, p, a, vmap, batched, state["depth"], mask)

    def goto(self, b, state, mask, target: Value):
        state["pc"] = self.where(b, mask, target, state["pc"])

    def terminate(self, b: Builder, t, state, vmap, batched, mask):
        prog = self.prog
        B = TensorType((self.size,), "i32")
        if isinstance(t, Jump):
            self.jump(b, t, state, vmap, batched, mask)
            self.goto(b, state, mask, self.full(b, t.target.id, B))
        elif isinstance(t, Branch):
            pred = self.value(b, vmap, batched, t.pred)
            self.jump(b, t.then, state, vmap, batched, b.op("and", [mask, pred]))
            self.jump(b, t.other, state, vmap, batched, b.op("and", [mask, b.op("not", [pred])]))
            self.goto(b, state, mask, b.op("select", [pred, self.full(b, t.then.target.id, B),
                                                      self.full(b, t.other.target.id, B)]))
        elif isinstance(t, Call):
            callee = prog.module.functions[t.callee]
            depth = state["depth"]
            frame = depth
            if t.cont is not None:  # push: the return address in this frame, the callee in the next
                deep = b.op("and", [mask, b.op("ge", [depth, self.full(b, self.depth_limit, B)])])
                state["overflow"] = b.op("or", [state["overflow"], b.op("reduce_or", [deep], axes=(0,))])
                state["ret"] = b.op("stack_write", [state["ret"], depth, self.full(b, t.cont.id, B), mask])
                frame = b.op("add", [depth, self.full(b, 1, B)])
            for p, a in zip(callee.params, t.args):
                if prog.stores(p):
                    self.store(b, state, p, a, vmap, batched, frame, mask)
            if t.cont is not None:
                state["depth"] = self.where(b, mask, frame, depth)
            self.goto(b, state, mask, self.full(b, prog.entry_blocks[t.callee].id, B))
        elif isinstance(t, Return):
            for i, v in enumerate(t.values):
                slot = ("result", i, v.type)
                state[slot] = self.where(b, mask, self.value(b, vmap, batched, v), state[slot])
            up = b.op("sub", [state["depth"], self.full(b, 1, B)])
            self.goto(b, state, mask, b.op("stack_read", [state["ret"], up]))
            state["depth"] = self.where(b, mask, up, state["depth"])


def build_machine(prog: Program, size: int, max_stack_depth: int, squeeze: bool = False) -> Module:
    """The machine running `prog` on `size` members. Its function returns the entry's
    results (batched; with `squeeze`, size 1 and unbatched), then the overflow flag and
    the per-block counts of steps run and members served."""
    if squeeze and size != 1:
        raise ValueError("squeeze needs a batch of one")
    return _Machine(prog, size, max_stack_depth).build(squeeze)
