"""Cost rules (the partitioning simulator, ppc/partition/simulator.py): what one op costs
in XLA's own accounting (HloCostAnalysis) of the code JAX lowers it to, so predictions can
be held to `cost_analysis()` of the compiled program. A rule maps an op to (flops,
transcendentals). Control flow (regions, calls) is costed by the simulator from its parts.

Where XLA's count has no closed form the rule is an estimate (`estimated`), and reports
name the primitive.
"""
from __future__ import annotations

import math

from ..core import Op


def estimated(rule):
    rule.estimated = True
    return rule


def per_element(flops: int, transcendentals: int):
    """A fixed cost per result element (elementwise ops: e.g. softplus is 4 + 2)."""
    def rule(op: Op):
        n = op.results[0].type.size
        return float(flops * n), float(transcendentals * n)
    rule.per_element = (flops, transcendentals)
    return rule


def free(op: Op):
    """Data movement, constants, bookkeeping: no arithmetic."""
    return 0.0, 0.0


def reduction(op: Op):
    """One application of the combiner per reduced element."""
    return float(op.operands[0].type.size - op.results[0].type.size), 0.0


def dot_general(op: Op):
    """A multiply and an add per contracted pair, except that XLA rewrites a dot one of
    whose sides has only contracting and batch dimensions (matrix-vector, vector-vector)
    as a multiply then a reduction: one add fewer per result element."""
    (xc, yc), (xb, yb) = op.attrs["contract"], op.attrs["batch"]
    x, y = op.operands
    width = math.prod(x.type.shape[d] for d in xc)
    out = op.results[0].type.size
    flops = 2.0 * out * width
    if len(xc) + len(xb) == x.type.rank or len(yc) + len(yb) == y.type.rank:
        flops -= out
    return flops, 0.0


def all_reduce(op: Op):
    """XLA prices the combiner once per result element, whatever the group size."""
    return float(op.results[0].type.size), 0.0


def triangular_solve(op: Op):
    a, b = op.operands[0].type, op.operands[1].type
    return 2.0 * a.shape[-1] * b.size, 0.0


@estimated
def draw(op: Op):
    """One transcendental per element, XLA's price for an RNG op (JAX's threefry costs more)."""
    return 0.0, float(sum(r.type.size for r in op.results))


@estimated
def cumsum(op: Op):
    """Axis length - 1 per element: the reduce-window XLA's CPU pipeline makes of short scans
    (it counts longer ones somewhat lower)."""
    out = op.results[0].type
    return float(out.size * max(0, out.shape[op.attrs["axis"]] - 1)), 0.0


@estimated
def arg_reduce(op: Op):
    """About 9 flops per compared element (a variadic reduce carrying value and index)."""
    return 9.0 * (op.operands[0].type.size - op.results[0].type.size), 0.0


def _matrices(op: Op):
    t = op.operands[0].type
    k = t.shape[-1]
    return (t.size // (k * k) if k else 0), k


@estimated
def cholesky(op: Op):
    """k^3 / 3 flops per k x k matrix, the textbook count (XLA lowers it to a LAPACK or
    cuSOLVER call, or a blocked loop, whose counts have no closed form)."""
    m, k = _matrices(op)
    return m * k ** 3 / 3.0, float(m * k)  # (a square root per column)


@estimated
def lu(op: Op):
    """2 k^3 / 3 flops per k x k matrix, the textbook count of LU with partial pivoting."""
    m, k = _matrices(op)
    return m * 2.0 * k ** 3 / 3.0, 0.0


@estimated
def sort(op: Op):
    """XLA's price for a sort: n * ceil(log2 n) comparisons over the operand's n elements
    (as HloCostAnalysis counts a comparison sort, whatever its axis)."""
    n = op.operands[0].type.size
    return float(n * max(0, math.ceil(math.log2(n)))) if n > 1 else 0.0, 0.0
