"""jax.lax's structured control flow in compiled code: `fori_loop`, `while_loop`, `cond`,
`switch`, `scan` and `map`.

Each is lowered as the Python that JAX's documentation gives as its meaning, through the
same loops and branches as Python's own `for`, `while` and `if` (`Lowerer.loop`,
`Lowerer.conditional`): the functions passed are called like any other (nested `def`s and
lambdas inline, module-level functions specialize), carried values keep their types
across iterations, and derivatives, both batching strategies, partitioning and both
backends follow from the loop and branch ops. `fori_loop` with bounds known at compile
time, and `scan`, get a static trip count, as `for i in range(n)` does.
"""
from __future__ import annotations

import gast

from ..ir import Region
from .arrays import describe
from .numpy_api import _static, _write, register
from .values import BOTTOM, Dyn, contains_bottom

_NONE = object()


def _call(lw, fn, *args):
    return lw.call(fn, list(args), {}, None)


def _slot(lw, what: str) -> str:
    """A fresh name for a value the loop carries (the user's code cannot spell it)."""
    lw.loops += 1
    return f"<{what}#{lw.loops}>"


def _static_int(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


@register("lax.fori_loop")
def _fori_loop(lw, lower, upper, body_fun, init_val, *, unroll=None):
    """for i in range(lower, upper): val = body_fun(i, val)."""
    lo, hi = _static_int(lower), _static_int(upper)
    if lo is not None and hi is not None and hi <= lo:
        return init_val
    i, val = _slot(lw, "fori_i"), _slot(lw, "fori_val")
    lw.env[i], lw.env[val] = lower, init_val

    def body():
        cur = lw.env[i]
        lw.env[val] = _call(lw, body_fun, cur, lw.env[val])
        lw.env[i] = lw.binop(gast.Add(), cur, 1)
    lw.loop({i, val}, [], lambda: lw.compare(gast.Lt(), lw.env[i], upper), body,
            trip_count=hi - lo if lo is not None and hi is not None else None)
    lw.env.pop(i)
    return lw.env.pop(val)


@register("lax.while_loop")
def _while_loop(lw, cond_fun, body_fun, init_val):
    """while cond_fun(val): val = body_fun(val)."""
    val = _slot(lw, "while_val")
    lw.env[val] = init_val

    def body():
        lw.env[val] = _call(lw, body_fun, lw.env[val])
    lw.loop({val}, [], lambda: _call(lw, cond_fun, lw.env[val]), body)
    return lw.env.pop(val)


@register("lax.cond")
def _cond(lw, pred, true_fun, false_fun, *operands, operand=_NONE):
    """true_fun(*operands) if pred else false_fun(*operands); both branches are lowered,
    their results joined as an `if`'s."""
    if operand is not _NONE:  # (the old form: cond(pred, true_fun, false_fun, operand=x))
        if operands:
            lw.error("lax.cond takes its operands positionally or as operand=, not both")
        operands = (operand,)
    if isinstance(pred, Dyn) and pred.shape != ():
        lw.error(f"lax.cond needs a scalar predicate, got an array of shape {pred.shape}",
                 "use jnp.where for elementwise choices")
    test = lw.truth(pred)
    if isinstance(test, bool):
        return _call(lw, true_fun if test else false_fun, *operands)
    return lw.conditional(test, lambda: _call(lw, true_fun, *operands), lambda: _call(lw, false_fun, *operands))


@register("lax.switch")
def _switch(lw, index, branches, *operands):
    """branches[clamp(index, 0, len(branches) - 1)](*operands), as a chain of `if`s."""
    if not isinstance(branches, (tuple, list)) or not branches:
        lw.error(f"lax.switch needs a non-empty tuple or list of functions, got {describe(branches)}")
    n = len(branches)
    k = _static_int(index)
    if k is not None:
        return _call(lw, branches[min(max(k, 0), n - 1)], *operands)
    if isinstance(index, Dyn) and (index.shape != () or not index.dtype.startswith(("i", "u"))):
        lw.error(f"lax.switch needs a scalar integer index, got {describe(index)}")

    def pick(j):
        if j == n - 1:
            return _call(lw, branches[j], *operands)
        test = lw.elementwise("le", index, j, result_kind="bool")  # (below 0 takes the first)
        return lw.conditional(test, lambda: _call(lw, branches[j], *operands), lambda: pick(j + 1))
    return pick(0)


def _leaves(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in _leaves(t)]
    return [] if tree is None else [tree]


def _map(fn, *trees):
    """fn over the leaves of trees of one structure (None leaves stay None)."""
    first = trees[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_map(fn, *parts) for parts in zip(*trees))
    return None if first is None else fn(*trees)


@register("lax.scan")
def _scan(lw, f, init, xs=None, length=None, reverse=False, unroll=1, _split_transpose=False):
    """carry, y = f(carry, x) for each x along xs' leading axis: (the last carry, the ys
    stacked)."""
    def step(carry, x):
        out = _call(lw, f, carry, x)
        if out is not BOTTOM and (not isinstance(out, (tuple, list)) or len(out) != 2):
            lw.error(f"the function lax.scan calls must return a pair (carry, y), got {describe(out)}")
        return (BOTTOM, BOTTOM) if out is BOTTOM else out
    return _scanned(lw, step, init, xs, length, reverse)


@register("lax.map")
def _lax_map(lw, f, xs, *, batch_size=None):
    """f(x) for each x along xs' leading axis, stacked: a scan that carries nothing."""
    if batch_size is not None:
        lw.error("lax.map with batch_size= is not supported in compiled code", "leave batch_size out")
    return _scanned(lw, lambda carry, x: (carry, _call(lw, f, x)), None, xs, None, False)[1]


def _scanned(lw, step, init, xs, length, reverse):
    """The loop of a scan of `step(carry, x) -> (carry, y)`, counting k from 0 to the
    static length n, reading row k of xs (n - 1 - k reversed) and writing y there."""
    reverse = bool(_static(lw, reverse, "lax.scan's reverse="))
    xs = _map(lw.to_dyn, xs)
    sizes = {a.shape[0] if a.shape else None for a in _leaves(xs)}
    if None in sizes:
        lw.error("lax.scan over a 0-d array: xs must have a leading axis to scan over")
    if length is not None:
        sizes.add(lw.static_int(length, "lax.scan's length="))
    if len(sizes) != 1:
        lw.error(f"lax.scan needs one length for xs and length=, got {sorted(sizes) or 'none'}",
                 "pass xs with one leading size, or length= when xs is None")
    (n,) = sizes
    if n == 0:
        lw.error("lax.scan over zero rows is not supported in compiled code", "scan at least one row")

    def row(k):
        return k if not reverse else lw.binop(gast.Sub(), n - 1, k)

    # the ys' types, from one step lowered into a region nothing keeps
    before, loc = dict(lw.env), lw.loc
    with lw.in_region(Region()):
        _, y0 = step(init, _map(lambda a: lw.index(a, row(0)), xs))
    lw.env, lw.loc = before, loc
    if contains_bottom(y0):
        return BOTTOM, BOTTOM
    y0 = _map(lw.to_dyn, y0)
    c, ys, i = _slot(lw, "scan_carry"), _slot(lw, "scan_ys"), _slot(lw, "scan_k")
    lw.env[c], lw.env[i] = init, 0
    lw.env[ys] = _map(lambda y: lw.const(0, y.dtype, (n,) + y.shape, y.weak), y0)

    def body():
        k = lw.env[i]
        carry, y = step(lw.env[c], _map(lambda a: lw.index(a, row(k)), xs))
        lw.env[ys] = _map(lambda acc, v: _write(lw, acc, row(k), lw.to_dyn(v, acc.dtype)), lw.env[ys], y)
        lw.env[c] = carry
        lw.env[i] = lw.binop(gast.Add(), k, 1)
    lw.loop({c, ys, i}, [], lambda: lw.compare(gast.Lt(), lw.env[i], n), body, trip_count=n)
    lw.env.pop(i)
    return lw.env.pop(c), lw.env.pop(ys)
