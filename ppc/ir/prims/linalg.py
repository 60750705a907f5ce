"""Matrix factorizations: `cholesky` and `lu`, on batches of square matrices [..., k, k].

Everything else of NumPy's linear algebra (solve, inv, det, slogdet, cho_solve) is
composed from these and `triangular_solve` by the frontend (ppc/frontend/linalg.py), so
its derivatives, batching and tiling come from the rules here and there.

cholesky(x) -> L, lower triangular with x = L L^T; it reads x's lower triangle only (as
NumPy's does) and gives NaN where x is not positive definite (as JAX's does).

lu(x) -> (lu, perm): partial pivoting, x[..., perm, :] = L U, with `lu` packing the unit
lower triangular L below the diagonal and U on and above it, and `perm` an int32
permutation of the rows (JAX's `permutation`). A zero pivot stays on U's diagonal and its
column is not scaled (LAPACK's getrf does so), so a singular matrix has a finite factor
with a zero on U's diagonal.

The helpers below build IR through any `op(prim, operands, **attrs)` and
`const(value, type)`, so derivative rules and the frontend share them.
"""
from __future__ import annotations

import numpy as np

from ..registry import ShapeError, declare
from ..types import TensorType
from . import batching, costs, tiling
from .common import floating, tensor


def _square(x, what):
    x = tensor(x)
    floating(x, what)
    if x.rank < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"{what} needs square matrices (an array [..., k, k]), got {x}")
    return x


def _cholesky(x):
    return [_square(x, "cholesky")]


def _lu(x):
    x = _square(x, "lu")
    return [x, TensorType(x.shape[:-1], "i32")]


# --- helpers over any builder ----------------------------------------------------------------

def masked(op, const, x, mask):
    """x [..., k, k] times a constant k x k matrix (a triangle mask, maybe with a scaled
    diagonal), broadcast over the batch axes."""
    t = x.type
    n = t.rank - 2
    m = const(np.asarray(mask, dtype=np.float64), TensorType(t.shape[-2:], t.dtype))
    if n:
        m = op("broadcast_in_dim", [m], shape=t.shape, dims=(n, n + 1))
    return op("mul", [x, m])


def plus_identity(op, const, x):
    t = x.type
    n, k = t.rank - 2, t.shape[-1]
    eye = const(np.eye(k), TensorType((k, k), t.dtype))
    if n:
        eye = op("broadcast_in_dim", [eye], shape=t.shape, dims=(n, n + 1))
    return op("add", [x, eye])


def unit_lower(op, const, lu):
    """The explicit unit lower triangular factor L of a packed LU."""
    k = lu.type.shape[-1]
    return plus_identity(op, const, masked(op, const, lu, np.tril(np.ones((k, k)), -1)))


def permutation_matrix(op, const, perm, dtype):
    """P [..., k, k] with P[i, j] = (perm[i] == j), so P @ x = x[perm]."""
    shape = perm.type.shape + perm.type.shape[-1:]
    n = len(shape) - 2
    rows = op("broadcast_in_dim", [perm], shape=shape, dims=tuple(range(n + 1)))
    cols = op("iota", [], shape=shape, dimension=n + 1, dtype=perm.type.dtype)
    return op("convert", [op("eq", [rows, cols])], dtype=dtype)


def matmul(op, x, y):
    """x @ y for [..., k, m] and [..., m, p] of the same batch axes."""
    n = x.type.rank - 2
    batch = tuple(range(n))
    return op("dot_general", [x, y], contract=((n + 1,), (n,)), batch=(batch, batch))


def swap_last(op, x):
    n = x.type.rank - 2
    return op("transpose", [x], perm=tuple(range(n)) + (n + 1, n))


# --- derivatives -----------------------------------------------------------------------------

def _cholesky_jvp(cx, primals, tangents):
    """With S = L L^T and a symmetric tangent dS: dL = L phi(L^-1 dS L^-T), phi taking
    the lower triangle with the diagonal halved. The tangent is symmetrized first (the
    factor of a symmetric matrix, as jnp.linalg.cholesky differentiates it)."""
    (chol,) = cx.primal()
    (t,) = tangents
    if t is None:
        return [chol], [None]
    k = chol.type.shape[-1]
    half = cx.full(0.5, t.type)
    sym = cx.mul(cx.add(t, swap_last(cx.op, t)), half)
    x = cx.op("triangular_solve", [chol, sym], lower=True, transpose_a=False)  # L^-1 dS
    inner = cx.op("triangular_solve", [chol, swap_last(cx.op, x)], lower=True, transpose_a=False)  # L^-1 dS L^-T
    phi = masked(cx.op, cx.full, inner, np.tril(np.ones((k, k)), -1) + 0.5 * np.eye(k))
    return [chol], [matmul(cx.op, chol, phi)]


def _lu_jvp(cx, primals, tangents):
    """P A = L U, so with F = L^-1 (P dA) U^-1 (L^-1 dL strictly lower, dU U^-1 upper):
    dL = L tril(F, -1) and dU = triu(F) U, packed as dL + dU; the permutation has none."""
    lu, perm = cx.primal()
    (t,) = tangents
    if t is None:
        return [lu, perm], [None, None]
    k = lu.type.shape[-1]
    ones = np.ones((k, k))
    low = unit_lower(cx.op, cx.full, lu)
    p = permutation_matrix(cx.op, cx.full, perm, t.type.dtype)
    x = cx.op("triangular_solve", [low, matmul(cx.op, p, t)], lower=True, transpose_a=False)  # L^-1 P dA
    # F = X U^-1, i.e. F^T = U^-T X^T (the solve reads lu's upper triangle: U)
    f = swap_last(cx.op, cx.op("triangular_solve", [lu, swap_last(cx.op, x)], lower=False, transpose_a=True))
    d_low = matmul(cx.op, low, masked(cx.op, cx.full, f, np.tril(ones, -1)))
    d_up = matmul(cx.op, masked(cx.op, cx.full, f, np.triu(ones)), masked(cx.op, cx.full, lu, np.triu(ones)))
    return [lu, perm], [cx.add(d_low, d_up), None]


declare("cholesky", _cholesky, jvp=_cholesky_jvp, batch=batching.leading_batch, tile=tiling.matrix_batch,
        cost=costs.cholesky, jax="jax.lax.linalg.cholesky({0}, symmetrize_input=False)",
        tf="tf.linalg.cholesky({0})")
declare("lu", _lu, jvp=_lu_jvp, batch=batching.leading_batch, tile=tiling.matrix_batch, cost=costs.lu,
        tuple_result=True, jax="jax.lax.linalg.lu({0})[::2]",
        tf="ppc_tf.lu({0})")
