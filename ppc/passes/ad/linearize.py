"""Linearize: partial evaluation of a JVP program into a primal program and a linear one.

In f_jvp(p, t) the values that depend on the tangents t are unknown until t is given;
everything else is known from p alone. Known ops go to `f_primal(p) -> (outs, residuals)`
and unknown ops to `f_lin(residuals, t) -> touts`; every known value an unknown op reads
crosses over as a residual. The linear program contains only ops linear in t (that is
how JVP rules are written) plus bookkeeping on residuals (loop counters, stack reads).

Residuals defined inside control flow are lifted out scope by scope:
- out of an `if` branch: the known `if` yields it (zeros from the other branch);
- out of a loop body: the known loop writes it, per iteration, into a stack (an array
  with a leading iteration axis) and the linear loop reads iteration j back; a value the
  same in every iteration is instead recomputed in the linear loop from its inputs. A loop with
  a static trip count gets a stack of exactly that size; other loops get `max_iterations`
  slots, and running past them raises an error instead of giving a wrong derivative.

A call of a recursive function's JVP stays a call on both sides (see recursion.py),
recorded on a tape or recomputed.
"""
from __future__ import annotations

import numpy as np

from ...ir import Builder, CompileError, Function, Op, Region, TensorType, Value, clone_region
from .algebra import dependents, free_values

DEFAULT_MAX_ITERATIONS = 1024


class _Scope:
    """A region being split: `known` and `linear` are the builders of its two halves."""

    def __init__(self, pe: "Linearize", parent, known: Builder, linear: Builder):
        self.pe, self.parent = pe, parent
        self.known, self.linear = known, linear
        self.lifted: dict[Value, Value] = {}

    def lift(self, v: Value) -> Value:
        """The linear program's view of known value v, defined in this scope."""
        if v not in self.lifted:
            self.lifted[v] = self._lift(v)
        return self.lifted[v]

    def export(self, flag: Value) -> Value:
        """A known bool defined here, carried (or-ed) up to the function's top level."""
        raise NotImplementedError


class _Top(_Scope):
    def __init__(self, pe, known, linear):
        super().__init__(pe, None, known, linear)
        self.residuals: list[tuple[Value, Value]] = []  # (known value, linear parameter)

    def _lift(self, v):
        p = Value(v.type, v.hint)
        self.residuals.append((v, p))
        return p

    def export(self, flag):
        return flag


class _Branch(_Scope):
    """One branch of a known `if`: values escape as extra results of that `if`."""

    def __init__(self, pe, parent, known, linear):
        super().__init__(pe, parent, known, linear)
        self.escapes: list[tuple[Value, Value]] = []  # (value in this branch, if result)
        self.sibling: _Branch | None = None

    def escape(self, v: Value) -> Value:
        r = Value(v.type, v.hint)
        self.escapes.append((v, r))
        self.pe.scope_of[r] = self.parent
        return r

    def _lift(self, v):
        return self.parent.lift(self.escape(v))

    def export(self, flag):
        return self.parent.export(self.escape(flag))


class _Loop(_Scope):
    """A loop body: values leave through per-iteration stacks (reads in the linear loop),
    flags through an or-accumulator."""

    def __init__(self, pe, parent, known, linear, counter: Value, j: Value, slots: int):
        super().__init__(pe, parent, known, linear)
        self.counter, self.j, self.slots = counter, j, slots
        self.stacks: list[tuple[Value, Value, Value]] = []  # (value, stack param, stack result)
        self.flags: list[tuple[Value, Value, Value]] = []  # (flag, acc param, acc result)

    def _lift(self, v):
        if self.invariant(v):
            return self.rematerialize(v)
        t = v.type
        stack_t = TensorType((self.slots,) + t.shape, t.dtype)
        param, result = Value(stack_t, f"{v.hint}_stack" if v.hint else "stack"), Value(stack_t, v.hint)
        self.stacks.append((v, param, result))
        self.pe.scope_of[result] = self.parent
        outer = self.parent.lift(result)
        zero = self.linear.constant(0, TensorType((), self.j.type.dtype))
        row = self.linear.op("dynamic_slice", [outer, self.j] + [zero] * len(t.shape), sizes=(1,) + t.shape)
        return self.linear.op("reshape", [row], v.hint, shape=t.shape)

    def invariant(self, v: Value) -> bool:
        """Whether v is the same in every iteration (computed from outside values only)."""
        if v in self.known.region.params:
            return False
        op = self.pe.def_op.get(v)
        if op is None or op.regions:
            return False
        return all(self.pe.scope_of.get(u) is not self or self.invariant(u) for u in op.operands)

    def rematerialize(self, v: Value) -> Value:
        """A loop-invariant value is recomputed in the linear loop from its (outside)
        inputs rather than recorded once per iteration."""
        op = self.pe.def_op[v]
        operands = []
        for u in op.operands:
            const = self.pe.constants.get(u)
            if const is not None:
                operands.append(self.linear.constant(const.attrs["value"], u.type))
            else:
                operands.append(self.pe.scope_of[u].lift(u))
        results = self.linear.op_n(op.prim, operands, v.hint, **op.attrs)
        return results[op.results.index(v)]

    def export(self, flag):
        param, result = Value(flag.type, "overflow"), Value(flag.type, "overflow")
        self.flags.append((flag, param, result))
        self.pe.scope_of[result] = self.parent
        return self.parent.export(result)


class Linearize:
    """`recursion` (a recursion.Recursion) splits calls of recursive functions."""

    def __init__(self, fn: Function, n_known: int, n_out: int, max_iterations: int = DEFAULT_MAX_ITERATIONS,
                 recursion=None):
        self.fn, self.n_known, self.n_out, self.max_iterations = fn, n_known, n_out, max_iterations
        self.recursion = recursion
        self.unknown = dependents(fn.body, set(fn.params[n_known:]), recursion and recursion.arity)
        self.kmap: dict[Value, Value] = {}
        self.lmap: dict[Value, Value] = {}
        self.scope_of: dict[Value, _Scope] = {}
        self.def_op: dict[Value, Op] = {}  # known value -> the op defining it
        self.flags: list[Value] = []

    # -- values across the split
    def known(self, v: Value) -> Value:
        return self.kmap[v]

    def linear(self, v: Value, scope: _Scope) -> Value:
        """v as the linear program sees it in `scope`: itself if unknown, else a residual
        (constants are simply re-created)."""
        if v in self.unknown:
            return self.lmap[v]
        k = self.kmap[v]
        const = self.constants.get(k)
        if const is not None:
            return scope.linear.constant(const.attrs["value"], k.type, k.hint)
        return self.scope_of[k].lift(k)

    def define_known(self, old: Value, new: Value, scope: _Scope):
        self.kmap[old] = new
        self.scope_of[new] = scope

    # -- the walk
    def run(self, primal_name: str, linear_name: str) -> tuple[Function, Function, int]:
        """(`primal_name(p) -> (outs..., residuals..., overflow)`, `linear_name(residuals...,
        t) -> touts`, the number of residuals)."""
        fn = self.fn
        primal_body, linear_body = Region(), Region()
        top = _Top(self, Builder(primal_body), Builder(linear_body))
        self.constants: dict[Value, Op] = {}
        for p in fn.params[:self.n_known]:
            new = Value(p.type, p.hint)
            primal_body.params.append(new)
            self.define_known(p, new, top)
        tangent_params = []
        for p in fn.params[self.n_known:]:
            new = Value(p.type, p.hint)
            tangent_params.append(new)
            self.lmap[p] = new
        self.ops(fn.body, top)
        ret = fn.body.ops[-1]
        n_out = self.n_out
        known_outs = ret.operands[:n_out]
        if any(v in self.unknown for v in known_outs):
            raise CompileError("internal: the JVP program's primal results depend on tangents")
        touts = [self.linear(v, top) for v in ret.operands[n_out:]]
        top.linear.append(Op("return", touts, {}, []))
        overflow = self.any_flag(top)
        outs = [self.known(v) for v in known_outs] + [k for k, _ in top.residuals] + [overflow]
        top.known.append(Op("return", outs, {}, []))
        linear_body.params = [p for _, p in top.residuals] + tangent_params
        primal = Function(primal_name, primal_body, [v.type for v in outs])
        linear = Function(linear_name, linear_body, [v.type for v in touts])
        return primal, linear, len(top.residuals)

    def any_flag(self, top: _Top) -> Value:
        out = top.known.constant(False, TensorType((), "bool"), "overflow")
        for f in self.flags:
            out = top.known.op("or", [out, f], "overflow")
        return out

    def ops(self, region: Region, scope: _Scope):
        for op in region.ops[:-1]:
            scope.known.loc = scope.linear.loc = op.loc
            unknown_results = any(r in self.unknown for r in op.results)
            reads_unknown = any(v in self.unknown for v in op.operands) or any(
                v in self.unknown for r in op.regions for v in free_values(r))
            if not unknown_results and not reads_unknown:
                self.copy_known(op, scope)
            elif not unknown_results:  # canonicalize removes such dead tangent code first
                raise CompileError(f"internal: '{op.prim}' reads tangents it does not use "
                                   "(run canonicalize before linearize)", op.loc)
            elif op.prim == "if":
                self.split_if(op, scope)
            elif op.prim == "while":
                self.split_while(op, scope)
            elif op.prim == "call":
                self.split_call(op, scope)
            else:
                operands = [self.linear(v, scope) for v in op.operands]
                results = [Value(r.type, r.hint) for r in op.results]
                scope.linear.append(Op(op.prim, operands, op.attrs, results, [], op.loc))
                self.lmap.update(zip(op.results, results))

    def copy_known(self, op: Op, scope: _Scope):
        mapping = dict(self.kmap)
        regions = [clone_region(r, mapping) for r in op.regions]
        results = [Value(r.type, r.hint) for r in op.results]
        new = Op(op.prim, [self.kmap[v] for v in op.operands], op.attrs, results, regions, op.loc)
        scope.known.append(new)
        for old, r in zip(op.results, results):
            self.define_known(old, r, scope)
            self.def_op[r] = new
        if op.prim == "constant":
            self.constants[results[0]] = new

    def split_call(self, op: Op, scope: _Scope):
        """A call of a recursive function's JVP: the primal side calls the original function,
        the linear side calls the JVP again with the primal arguments as residuals (its
        transpose calls the function's VJP; see recursion.py)."""
        callee = op.attrs["callee"]
        arity = self.recursion.arity(callee) if self.recursion else None
        if arity is None:
            raise CompileError(f"internal (linearize): a call of '{callee}' reads tangents, but it is no JVP of a "
                               "recursive function", op.loc)
        n_params, n_out = arity
        outs = [Value(r.type, r.hint) for r in op.results[:n_out]]
        if self.recursion.tape:  # (the callee records its residuals; the linear side reads them back)
            rec = self.recursion.recorded(callee)
            index = Value(TensorType((), "i64"), "call")
            scope.known.append(Op("call", [self.known(v) for v in op.operands[:n_params]], {"callee": rec.fwd},
                                  outs + [index], [], op.loc))
            for old, new in zip(op.results, outs):
                self.define_known(old, new, scope)
            self.scope_of[index] = scope
            results = [Value(r.type, r.hint) for r in op.results[n_out:]]
            tangents = [self.linear(v, scope) for v in op.operands[n_params:]]
            scope.linear.append(Op("call", [scope.lift(index)] + tangents, {"callee": rec.lin}, results, [], op.loc))
            self.lmap.update(zip(op.results[n_out:], results))
            return
        scope.known.append(Op("call", [self.known(v) for v in op.operands[:n_params]],
                              {"callee": self.recursion.original(callee)}, outs, [], op.loc))
        for old, new in zip(op.results, outs):
            self.define_known(old, new, scope)
        results = [Value(r.type, r.hint) for r in op.results]
        scope.linear.append(Op("call", [self.linear(v, scope) for v in op.operands], op.attrs, results, [], op.loc))
        self.lmap.update(zip(op.results[n_out:], results[n_out:]))

    def split_if(self, op: Op, scope: _Scope):
        if op.operands[0] in self.unknown:
            raise CompileError("internal: an `if` predicate depends on tangents", op.loc)
        branches = []
        for region in op.regions:
            br = _Branch(self, scope, Builder(Region(), op.loc), Builder(Region(), op.loc))
            self.ops(region, br)
            branches.append(br)
        branches[0].sibling, branches[1].sibling = branches[1], branches[0]
        unknown = [r in self.unknown for r in op.results]
        # the linear `if` (its yields may lift further residuals, so it is built first)
        pred = self.linear(op.operands[0], scope)
        lin_results = [Value(r.type, r.hint) for r, u in zip(op.results, unknown) if u]
        for region, br in zip(op.regions, branches):
            ys = [self.linear(y, br) for y, u in zip(region.ops[-1].operands, unknown) if u]
            br.linear.append(Op("yield", ys, {}, []))
        # the known `if`: known results, then every value that escapes either branch
        escapes = [(br, v, r) for br in branches for v, r in br.escapes]
        known_results = [Value(r.type, r.hint) for r, u in zip(op.results, unknown) if not u]
        for region, br in zip(op.regions, branches):
            ys = [self.known(y) for y, u in zip(region.ops[-1].operands, unknown) if not u]
            ys += [v if owner is br else br.known.constant(0 if v.type.dtype != "bool" else False, v.type)
                   for owner, v, _ in escapes]
            br.known.append(Op("yield", ys, {}, []))
        all_known = known_results + [r for _, _, r in escapes]
        if all_known:
            scope.known.append(Op("if", [self.known(op.operands[0])], {}, all_known,
                                  [br.known.region for br in branches], op.loc))
        for old, new in zip([r for r, u in zip(op.results, unknown) if not u], known_results):
            self.define_known(old, new, scope)
        scope.linear.append(Op("if", [pred], {}, lin_results, [br.linear.region for br in branches], op.loc))
        self.lmap.update(zip([r for r, u in zip(op.results, unknown) if u], lin_results))

    def static_bound(self, op: Op) -> int | None:
        """At most how many iterations a loop without a trip count runs, when its condition
        says so: `lt %i, C` (and-ed with anything: a `for` loop over a static range() that
        `break`s or `return`s) on a counter starting at a constant and stepping by a positive
        constant. None when it cannot tell."""
        cond, body = op.regions

        def const(v, ops):
            for d in ops:
                if v in d.results:
                    return d.attrs["value"] if d.prim == "constant" else None
            c = self.constants.get(self.kmap.get(v))
            return None if c is None else c.attrs["value"]

        def integer(x):
            x = np.asarray(x) if x is not None else None
            return int(x) if x is not None and x.shape == () and x.dtype.kind in "iu" else None

        def tests(t):
            for d in cond.ops:
                if t in d.results:
                    if d.prim == "and":
                        return [c for u in d.operands for c in tests(u)]
                    if d.prim == "lt" and d.operands[0] in cond.params:
                        return [(cond.params.index(d.operands[0]), integer(const(d.operands[1], cond.ops)))]
            return []
        best = None
        for k, bound in tests(cond.ops[-1].operands[0]):
            nxt = body.ops[-1].operands[k]
            step = None
            for d in body.ops:
                if nxt in d.results and d.prim == "add" and body.params[k] in d.operands:
                    other = [u for u in d.operands if u is not body.params[k]]
                    step = integer(const(other[0], body.ops)) if len(other) == 1 else None
            start = integer(const(op.operands[k], ()))
            if bound is None or step is None or step <= 0 or start is None:
                continue
            n = max(0, -(-(bound - start) // step))
            best = n if best is None else min(best, n)
        return best

    def split_while(self, op: Op, scope: _Scope):
        cond, body = op.regions
        unknown = [p in self.unknown for p in body.params]
        if any(v in self.unknown for inner in cond.ops for v in inner.operands):
            raise CompileError("internal: a loop condition depends on tangents", op.loc)
        trip = op.attrs.get("trip_count")
        # (in programs with recursion, a loop with a static bound needs no overflow flag,
        # which a recursive VJP would have to raise: see recursion.py)
        bounded = self.static_bound(op) if trip is None and self.recursion and self.recursion.recursive else None
        slots = trip if trip is not None else bounded if bounded is not None else self.max_iterations
        idx = "i64"
        counter, j = Value(TensorType((), idx), "k"), Value(TensorType((), idx), "j")
        known_params = [Value(p.type, p.hint) for p, u in zip(body.params, unknown) if not u]
        lin_params = [Value(p.type, p.hint) for p, u in zip(body.params, unknown) if u]
        loop = _Loop(self, scope, Builder(Region(known_params + [counter]), op.loc),
                     Builder(Region([j] + lin_params), op.loc), counter, j, slots)
        for p, new, in zip([p for p, u in zip(body.params, unknown) if not u], known_params):
            self.define_known(p, new, loop)
        self.lmap.update(zip([p for p, u in zip(body.params, unknown) if u], lin_params))
        self.ops(body, loop)
        ys = body.ops[-1].operands
        # linear body: j + 1 and the tangent yields
        one = loop.linear.constant(1, counter.type)
        lin_ys = [self.linear(y, loop) for y, u in zip(ys, unknown) if u]
        loop.linear.append(Op("yield", [loop.linear.op("add", [j, one], "j")] + lin_ys, {}, []))
        # known body: its yields, the counter, the stacks and flags
        kb = loop.known
        known_ys = [self.known(y) for y, u in zip(ys, unknown) if not u]
        next_k = kb.op("add", [counter, kb.constant(1, counter.type)], "k")
        zero = kb.constant(0, counter.type)
        stack_ys = []
        for v, param, _ in loop.stacks:
            kb.region.params.append(param)
            row = kb.op("reshape", [v], v.hint, shape=(1,) + v.type.shape)
            stack_ys.append(kb.op("dynamic_update_slice", [param, row, counter] + [zero] * len(v.type.shape),
                                  param.hint))
        flag_ys = []
        for flag, param, _ in loop.flags:
            kb.region.params.append(param)
            flag_ys.append(kb.op("or", [param, flag], "overflow"))
        kb.append(Op("yield", known_ys + [next_k] + stack_ys + flag_ys, {}, []))
        # known loop
        cmap = dict(self.kmap)
        cparams = [Value(p.type, p.hint) for p in cond.params]
        cmap.update(zip(cond.params, cparams))
        new_cond = clone_region(Region([], cond.ops), cmap)
        known_cparams = [c for c, u in zip(cparams, unknown) if not u]
        if any(c in {v for inner in new_cond.ops for v in inner.operands}
               for c, u in zip(cparams, unknown) if u):
            raise CompileError("internal: a loop condition reads a tangent", op.loc)
        new_cond.params = known_cparams + [Value(counter.type, "k")] + \
            [Value(p.type, p.hint) for _, p, _ in loop.stacks] + [Value(p.type, p.hint) for _, p, _ in loop.flags]
        if trip is None and bounded is None:
            # the recording loop stops one iteration past its slots, where the overflow flag
            # is set: a loop that would never end (a latent at inf) ends as a loop-limit error
            cb = Builder(new_cond, op.loc)
            last = new_cond.ops.pop()
            room = cb.op("le", [new_cond.params[len(known_cparams)], cb.constant(slots, counter.type)])
            cb.append(Op("yield", [cb.op("and", [last.operands[0], room])], {}, []))
        sb = scope.known
        inits = [self.known(v) for v, u in zip(op.operands, unknown) if not u]
        inits += [sb.constant(0, counter.type)]
        inits += [sb.constant(0, p.type) for _, p, _ in loop.stacks]
        inits += [sb.constant(False, p.type) for _, p, _ in loop.flags]
        known_results = [Value(r.type, r.hint) for r, u in zip(op.results, unknown) if not u]
        count = Value(counter.type, "count")
        results = known_results + [count] + [r for _, _, r in loop.stacks] + [r for _, _, r in loop.flags]
        sb.append(Op("while", inits, op.attrs, results, [new_cond, kb.region], op.loc))
        for old, new in zip([r for r, u in zip(op.results, unknown) if not u], known_results):
            self.define_known(old, new, scope)
        self.scope_of[count] = scope
        if trip is None and bounded is None:
            over = sb.op("gt", [count, sb.constant(slots, counter.type)], "overflow")
            self.flags.append(scope.export(over))
        # linear loop: j from 0 while j < count
        lb = scope.linear
        lin_attrs = op.attrs
        if trip is not None:
            bound = lb.constant(trip, counter.type)
        elif bounded is not None:  # `slots` iterations, those past the count doing nothing: a
            # static trip count, which the transposed loop keeps (its own derivative needs it)
            _guard(loop.linear.region, scope.lift(count))
            bound, lin_attrs = lb.constant(slots, counter.type), {**op.attrs, "trip_count": slots}
        else:
            bound = scope.lift(count)
        lcond = Region([Value(counter.type, "j")] + [Value(p.type, p.hint) for p in lin_params])
        lcond.ops.append(Op("lt", [lcond.params[0], bound], {}, [Value(TensorType((), "bool"))]))
        lcond.ops.append(Op("yield", [lcond.ops[0].results[0]], {}, []))
        lin_inits = [lb.constant(0, counter.type)] + [self.linear(v, scope) for v, u in zip(op.operands, unknown) if u]
        lin_results = [Value(counter.type, "j")] + [Value(r.type, r.hint) for r, u in zip(op.results, unknown) if u]
        lb.append(Op("while", lin_inits, lin_attrs, lin_results, [lcond, loop.linear.region], op.loc))
        self.lmap.update(zip([r for r, u in zip(op.results, unknown) if u], lin_results[1:]))


def _guard(body: Region, count: Value):
    """Make a linear loop body `(j, values...) { ...; yield j + 1, values'... }` do its
    work only while j < count, passing its values through after that."""
    j, ret = body.params[0], body.ops[-1]
    step = next(o for o in body.ops if ret.operands[0] in o.results)
    keep = {step} | {o for o in body.ops if o.prim == "constant" and any(r in step.operands for r in o.results)}
    then = Region([], [o for o in body.ops[:-1] if o not in keep] + [Op("yield", ret.operands[1:], {}, [])])
    passing = Region([], [Op("yield", body.params[1:], {}, [])])
    pred = Value(TensorType((), "bool"))
    results = [Value(v.type, v.hint) for v in ret.operands[1:]]
    body.ops = [o for o in body.ops if o in keep] + [
        Op("lt", [j, count], {}, [pred]), Op("if", [pred], {}, results, [then, passing], loc=ret.loc),
        Op("yield", [ret.operands[0]] + results, {}, [], loc=ret.loc)]
