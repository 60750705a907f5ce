"""Tiling rules (partitioning, ppc/partition): how a tiling flows through one op.

A rule maps an op to its *factors*, in the spirit of Shardy's sharding rules: a factor is
a set of (value, dim) pairs that must be tiled alike for the op to run tile by tile. A
pass-through factor may also name result dims, and a tiled one tiles those results the
same way (the batch dims of a matmul, every dim of an elementwise op). A contracted
factor (`reduce` set) names operand dims only: tiled, each device combines its tiles into
a partial result that the devices must then reduce (`reduce` says how: sum, max, min). A
dim in no factor must be whole on every device (a sort axis, a reversed axis, a random
draw). Values in regions (loop-carried values, branch results) join their op's factors,
so control flow is just more factors.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import Op, Value
from ..types import TensorType

Member = tuple[Value, int]


@dataclass(frozen=True, eq=False)
class Factor:
    members: tuple[Member, ...]
    reduce: str | None = None  # None: pass-through; else how partial results combine


def _rank(v: Value) -> int:
    return v.type.rank if isinstance(v.type, TensorType) else -1


def _factor(members, reduce=None) -> Factor:
    return Factor(tuple(members), reduce)


def replicated(op: Op) -> list[Factor]:
    """Every dim whole: the op runs on full values (random draws, opaque ops)."""
    return []


def elementwise(op: Op) -> list[Factor]:
    """Dim d of every operand and result of the result's rank is one factor."""
    rank = _rank(op.results[0])
    vs = [v for v in op.operands + op.results if _rank(v) == rank]
    return [_factor((v, d) for v in vs) for d in range(rank)]


def free_result(op: Op) -> list[Factor]:
    """A value made from nothing tiled (a splat constant, zeros): any tile is made locally."""
    if op.prim == "constant" and isinstance(op.attrs["value"], np.ndarray) and op.attrs["value"].ndim:
        return []  # an array constant is cut by its users
    out = op.results[0]
    return [_factor([(out, d)]) for d in range(_rank(out))]


def dot_general(op: Op) -> list[Factor]:
    x, y = op.operands
    out = op.results[0]
    (xc, yc), (xb, yb) = op.attrs["contract"], op.attrs["batch"]
    factors = [_factor([(x, a), (y, b), (out, i)]) for i, (a, b) in enumerate(zip(xb, yb))]
    i = len(xb)
    for v, skip in ((x, set(xc) | set(xb)), (y, set(yc) | set(yb))):
        for d in range(_rank(v)):
            if d not in skip:
                factors.append(_factor([(v, d), (out, i)]))
                i += 1
    factors += [_factor([(x, a), (y, b)], reduce="sum") for a, b in zip(xc, yc)]
    return factors


def _kept_and_out(x: Value, out: Value, dropped) -> list[Factor]:
    kept = [d for d in range(_rank(x)) if d not in dropped]
    return [_factor([(x, d), (out, i)]) for i, d in enumerate(kept)]


def reduction(combine: str | None):
    """Kept dims pass through; reduced dims are contracted by `combine` (None: must be whole)."""
    def rule(op: Op) -> list[Factor]:
        x, out = op.operands[0], op.results[0]
        axes = op.attrs["axes"]
        factors = _kept_and_out(x, out, axes)
        if combine is not None:
            factors += [_factor([(x, a)], reduce=combine) for a in axes]
        return factors
    return rule


def along_axis(op: Op) -> list[Factor]:
    """argmax/argmin: the searched axis is whole, the rest pass through."""
    return _kept_and_out(op.operands[0], op.results[0], {op.attrs["axis"]})


def same_shape_except(attr: str):
    """Ops whose result keeps the operand's shape; dims named by `attr` must be whole
    (cumsum's axis, rev's axes)."""
    def rule(op: Op) -> list[Factor]:
        whole = op.attrs[attr]
        whole = {whole} if isinstance(whole, int) else set(whole)
        x, out = op.operands[0], op.results[0]
        return [_factor([(x, d), (out, d)]) for d in range(_rank(x)) if d not in whole]
    return rule


def unchanged_dims(op: Op) -> list[Factor]:
    """slice, pad, concatenate, dynamic_slice, dynamic_update_slice: a dim that every
    array operand and the result have at one size passes through; the cut dims stay whole."""
    out = op.results[0]
    arrays = [v for v in op.operands if _rank(v) == _rank(out)]
    return [_factor([(v, d) for v in arrays] + [(out, d)]) for d in range(_rank(out))
            if all(v.type.shape[d] == out.type.shape[d] for v in arrays)]


def transpose(op: Op) -> list[Factor]:
    x, out = op.operands[0], op.results[0]
    return [_factor([(x, p), (out, i)]) for i, p in enumerate(op.attrs["perm"])]


def broadcast_in_dim(op: Op) -> list[Factor]:
    """Operand dims pass to their result dims (unless broadcast from size 1); new result
    dims are made locally, so a tiling of them stays on the result. New dims come first:
    where an axis cuts both kinds (a tie, `np.outer(v, v)`), cutting a new dim costs only
    gathering the operand, which is smaller than the result it would otherwise move."""
    x, out = op.operands[0], op.results[0]
    dims = op.attrs["dims"]
    factors = [_factor([(out, d)]) for d in range(_rank(out)) if d not in dims]
    factors += [_factor([(x, i), (out, d)]) for i, d in enumerate(dims) if x.type.shape[i] == out.type.shape[d]]
    return factors


def reshape(op: Op) -> list[Factor]:
    """Groups of operand dims and result dims with equal products; in each, the major-most
    dims correspond (a tile of the major dim of a merge or split is a contiguous block).
    Size-1 dims hold no data and are skipped, so `x[None]` and `x[:, None]` keep x's cuts."""
    x, out = op.operands[0], op.results[0]
    xd = [d for d, n in enumerate(x.type.shape) if n != 1]
    yd = [d for d, n in enumerate(out.type.shape) if n != 1]
    xs, ys = [x.type.shape[d] for d in xd], [out.type.shape[d] for d in yd]
    if 0 in xs:
        return []  # no data, nothing to cut (and no group's products ever meet)
    factors, i, j = [], 0, 0
    while i < len(xs) and j < len(ys):
        gi, gj, pi, pj = i, j, xs[i], ys[j]
        while pi != pj:
            if pi < pj:
                i += 1
                pi *= xs[i]
            else:
                j += 1
                pj *= ys[j]
        if xs[gi] % ys[gj] == 0 or ys[gj] % xs[gi] == 0:
            factors.append(_factor([(x, xd[gi]), (out, yd[gj])]))
        i, j = i + 1, j + 1
    return factors


def triangular_solve(op: Op) -> list[Factor]:
    """Batch axes and the right-hand sides (columns of b) pass through; each matrix is whole."""
    a, b = op.operands
    out = op.results[0]
    n = _rank(a) - 2
    factors = [_factor([(a, d), (b, d), (out, d)]) for d in range(n)]
    return factors + ([_factor([(b, n + 1), (out, n + 1)])] if _rank(b) == _rank(a) else [])


def iota(op: Op) -> list[Factor]:
    out = op.results[0]
    return [_factor([(out, d)]) for d in range(_rank(out)) if d != op.attrs["dimension"]]


def _carried(values_lists) -> list[Factor]:
    """One factor per dim of each position, across lists of values in lockstep."""
    factors = []
    for vs in zip(*values_lists):
        factors += [_factor((v, d) for v in vs) for d in range(_rank(vs[0]))]
    return factors


def if_(op: Op) -> list[Factor]:
    """Each branch's yielded values and the results are tiled alike."""
    return _carried([op.results] + [r.terminator.operands for r in op.regions])


def while_(op: Op) -> list[Factor]:
    """Loop-carried values are tiled alike at entry, in both regions, at the body's yield
    and in the results; the condition's verdict is a scalar."""
    cond, body = op.regions
    return _carried([op.operands, op.results, cond.params, body.params, body.terminator.operands])


def matrix_batch(op: Op) -> list[Factor]:
    """Ops on batches of matrices [..., k, k] (cholesky, lu): the batch axes pass through to
    every result (lu's permutation [..., k] too); each matrix is whole."""
    x = op.operands[0]
    return [_factor([(x, d)] + [(r, d) for r in op.results]) for d in range(_rank(x) - 2)]


def sort(op: Op) -> list[Factor]:
    """sort: the sorted axis is whole; every other dim tiles the operand and both results alike."""
    x = op.operands[0]
    axis = op.attrs["axis"]
    return [_factor([(x, d)] + [(r, d) for r in op.results]) for d in range(_rank(x)) if d != axis]
