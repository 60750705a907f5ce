"""Structured control flow. Results of if/while/call are fixed by their regions or
callee (verifier.py checks them), so they have no shape rule. Their derivative rules
need the AD passes' machinery (regions are differentiated and transposed recursively),
so each rule hands the op back to the pass through the context `cx`."""
from __future__ import annotations

from ..registry import declare
from . import costs, tiling
from .batching import structured


def _structured_jvp(cx, primals, tangents, **attrs):
    return cx.jvp_structured(primals, tangents)


def _structured_transpose(cx, cts, operands, linear, **attrs):
    return cx.transpose_structured(cts, operands, linear)


# `host=True` control flow runs in host Python on concrete values (local static batching
# of recursion, ppc/passes/batch.py): the same Python on every backend, and a module holding
# any runs eagerly, op by op.
def _host_if(a, at):
    return f"({at['then']}() if {a[0]} else {at['else']}())"


def _host_while(a, at):
    return f"host_while({at['cond']}, {at['body']}, ({', '.join(a)},))"


def _unless_host(host, traced):
    return lambda a, at: (host if at.get("host") else traced)(a, at)


declare("if", None, regions=("then", "else"), tuple_result=True,
        jax=_unless_host(_host_if, lambda a, at: f"lax.cond({a[0]}, {at['then']}, {at['else']})"),
        tf=_unless_host(_host_if, lambda a, at: f"tf.cond({a[0]}, {at['then']}, {at['else']})"),
        jvp=_structured_jvp, transpose=_structured_transpose, batch=structured, tile=tiling.if_)
# A while with a static `trip_count` (from `for i in range(...)`) runs its body exactly that
# many times; its cond region still states the test, so the attribute is only a promise.
declare("while", None, regions=("cond", "body"), tuple_result=True, jax=_unless_host(_host_while, lambda a, at: (
    f"lax.fori_loop(0, {at['trip_count']}, lambda _, c: {at['body']}(*c), ({', '.join(a)},))"
    if at.get("trip_count") is not None else
    f"lax.while_loop(lambda c: {at['cond']}(*c)[0], lambda c: {at['body']}(*c), ({', '.join(a)},))")),
    tf=_unless_host(_host_while, lambda a, at: f"tf.while_loop(lambda *c: {at['cond']}(*c)[0], {at['body']}, ({', '.join(a)},))"),
    jvp=_structured_jvp, transpose=_structured_transpose, batch=structured, tile=tiling.while_)
declare("call", None, tuple_result=True, jax="{callee}({args})", tf="{callee}({args})", jvp=_structured_jvp,
        transpose=_structured_transpose, batch=structured)
# A limit's flag raised where compiled code calls a gradient that records a while loop (or
# inside a recursive function's VJP: limit "max_iterations"), or a program-counter batch
# ("max_stack_depth=N"); passes/flags.py makes every raise a result again before any other
# pass runs
declare("limit_flag", lambda flag, limit: [], effect=True)
declare("yield", None, terminator=True, cost=costs.free)
declare("return", None, terminator=True, cost=costs.free)
