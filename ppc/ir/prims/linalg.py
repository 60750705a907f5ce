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

eigh(x) -> (w, v): the symmetric eigendecomposition x = V diag(w) V^T, eigenvalues
ascending, eigenvectors as V's columns (their signs are the library's); it reads x's lower
triangle only (as NumPy's eigh with UPLO='L').

svd(x, full_matrices) -> (u, s, vt): x [..., m, n] = U diag(s) Vt, s descending, with
k = min(m, n) columns of U and rows of Vt (full_matrices=True: all m and n of them).

qr(x, full_matrices) -> (q, r): x [..., m, n] = Q R by Householder reflections, Q with
orthonormal columns (k of them, or m with full_matrices=True) and R upper trapezoidal.

Their derivatives are the standard forward-mode formulas (as JAX's), built from
dot_general, triangular_solve and elementwise ops, so they transpose like any linear
program. They assume distinct eigenvalues / singular values (the formulas divide by their
differences) and a full-rank R; the U, Vt of full_matrices=True and the complete Q of a
tall matrix have none (a located error), since their extra columns are not determined by x.

The helpers below build IR through any `op(prim, operands, **attrs)` and
`const(value, type)`, so derivative rules and the frontend share them.
"""
from __future__ import annotations

import numpy as np

from ..diagnostics import CompileError
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


def _lapack(x, what):
    """eigh, svd and qr take float32 and float64 (as LAPACK; NumPy refuses float16 too)."""
    if x.dtype not in ("f32", "f64"):
        raise ShapeError(f"{what} needs float32 or float64 matrices, got {x}")


def _matrix(x, what):
    x = tensor(x)
    floating(x, what)
    _lapack(x, what)
    if x.rank < 2:
        raise ShapeError(f"{what} needs matrices (an array [..., m, n]), got {x}")
    return x


def _eigh(x):
    x = _square(x, "eigh")
    _lapack(x, "eigh")
    return [TensorType(x.shape[:-1], x.dtype), x]


def _svd(x, full_matrices):
    x = _matrix(x, "svd")
    *batch, m, n = x.shape
    batch, k = tuple(batch), min(m, n)
    cols, rows = (m, n) if full_matrices else (k, k)
    return [TensorType(batch + (m, cols), x.dtype), TensorType(batch + (k,), x.dtype),
            TensorType(batch + (rows, n), x.dtype)]


def _qr(x, full_matrices):
    x = _matrix(x, "qr")
    *batch, m, n = x.shape
    batch, k = tuple(batch), (m if full_matrices else min(m, n))
    return [TensorType(batch + (m, k), x.dtype), TensorType(batch + (k, n), x.dtype)]


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


def along_rows(op, v, rows):
    """v [..., k] -> [..., rows, k] with M[i, j] = v[j] (scales column j by v[j] in a mul)."""
    t = v.type
    n = t.rank - 1
    return op("broadcast_in_dim", [v], shape=t.shape[:-1] + (rows,) + t.shape[-1:], dims=tuple(range(n)) + (n + 1,))


def along_cols(op, v, cols):
    """v [..., k] -> [..., k, cols] with M[i, j] = v[i] (scales row i by v[i] in a mul)."""
    t = v.type
    n = t.rank - 1
    return op("broadcast_in_dim", [v], shape=t.shape + (cols,), dims=tuple(range(n + 1)))


def identity_like(op, const, x):
    """The identity [..., k, k] of x's type."""
    t = x.type
    n, k = t.rank - 2, t.shape[-1]
    eye = const(np.eye(k), TensorType((k, k), t.dtype))
    return op("broadcast_in_dim", [eye], shape=t.shape, dims=(n, n + 1)) if n else eye


def diagonal(op, const, x):
    """The diagonal [..., k] of x [..., k, k] (a masked sum: linear in x)."""
    k = x.type.shape[-1]
    return op("reduce_sum", [masked(op, const, x, np.eye(k))], axes=(x.type.rank - 1,))


def last_cols(op, x, start, stop):
    """x[..., :, start:stop]."""
    t = x.type
    return op("slice", [x], start=(0,) * (t.rank - 1) + (start,), limit=t.shape[:-1] + (stop,),
              stride=(1,) * t.rank)


def inverse_gaps(op, const, rows, cols):
    """F [..., k, k] with F[i, j] = 1 / (rows[j] - cols[i]) off the diagonal and 0 on it,
    from rows = v[j] and cols = v[i] broadcast to matrices (the diagonal's zero gap is
    replaced by 1 before dividing, so nothing is inf there)."""
    eye = identity_like(op, const, rows)
    one = const(1.0, rows.type)
    gap = op("add", [op("sub", [rows, cols]), eye])
    return op("sub", [op("div", [one, gap]), eye])


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


def _eigh_jvp(cx, primals, tangents):
    """With the symmetrized tangent dA and P = V^T dA V: dw = diag(P) and
    dV = V (F * P), F[i, j] = 1 / (w[j] - w[i]) off the diagonal (0 on it)."""
    w, v = cx.primal()
    (t,) = tangents
    if t is None:
        return [w, v], [None, None]
    op, k = cx.op, w.type.shape[-1]
    sym = cx.mul(cx.add(t, swap_last(op, t)), cx.full(0.5, t.type))
    p = matmul(op, matmul(op, swap_last(op, v), sym), v)
    f = inverse_gaps(op, cx.full, along_rows(op, w, k), along_cols(op, w, k))
    return [w, v], [diagonal(op, cx.full, p), matmul(op, v, cx.mul(f, p))]


def _no_full_derivative(cx, what):
    raise CompileError(f"{what} has no derivative here: the extra columns are not determined by the matrix",
                       cx.source_op.loc,
                       "differentiate the reduced factorization (full_matrices=False, mode='reduced'), which "
                       "holds the same information")


def _svd_jvp(cx, primals, tangents, full_matrices):
    """JAX's forward-mode SVD rule, real case (x = U S Vt, k = min(m, n), dP = U^T dA V):
    ds = diag(dP); dU = U (F * (dP S + S dP^T)), dV = V (F * (S dP + dP^T S)) with
    F[i, j] = 1 / (s[j]^2 - s[i]^2); plus, for m > n, (I - U U^T) dA V S^-1 in dU and for
    n > m, (I - V V^T) dA^T U S^-1 in dV."""
    u, s, vt = cx.primal()
    (t,) = tangents
    if t is None:
        return [u, s, vt], [None, None, None]
    *_, m, n = t.type.shape
    if full_matrices and m != n:
        _no_full_derivative(cx, "svd with full_matrices=True of a non-square matrix")
    op, k = cx.op, s.type.shape[-1]
    v, ut = swap_last(op, vt), swap_last(op, u)
    dp = matmul(op, matmul(op, ut, t), v)
    s_row, s_col = along_rows(op, s, k), along_cols(op, s, k)
    f = inverse_gaps(op, cx.full, op("mul", [s_row, s_row]), op("mul", [s_col, s_col]))
    dps, sdp = cx.mul(dp, s_row), cx.mul(dp, s_col)
    du = matmul(op, u, cx.mul(f, cx.add(dps, swap_last(op, dps))))
    dv = matmul(op, v, cx.mul(f, cx.add(sdp, swap_last(op, sdp))))
    inv_s = op("div", [cx.full(1.0, s.type), s])
    if m > n:
        dav = matmul(op, t, v)
        du = cx.add(du, cx.mul(cx.sub(dav, matmul(op, u, matmul(op, ut, dav))), along_rows(op, inv_s, m)))
    if n > m:
        datu = matmul(op, swap_last(op, t), u)
        dv = cx.add(dv, cx.mul(cx.sub(datu, matmul(op, v, matmul(op, vt, datu))), along_rows(op, inv_s, n)))
    return [u, s, vt], [du, diagonal(op, cx.full, dp), swap_last(op, dv)]


def _thin_qr_jvp(cx, q, r, t):
    """x = Q R with Q [..., m, n] (m >= n), R [..., n, n]: with X = dx R^-1 and
    C = Q^T X, O = tril(C, -1) - tril(C, -1)^T: dQ = Q (O - C) + X, dR = (C - O) R."""
    op, n = cx.op, r.type.shape[-1]
    # X = dx R^-1, i.e. X^T = R^-T dx^T
    x = swap_last(op, op("triangular_solve", [r, swap_last(op, t)], lower=False, transpose_a=True))
    c = matmul(op, swap_last(op, q), x)
    low = masked(op, cx.full, c, np.tril(np.ones((n, n)), -1))
    o = cx.sub(low, swap_last(op, low))
    return cx.add(matmul(op, q, cx.sub(o, c)), x), matmul(op, cx.sub(c, o), r)


def _qr_jvp(cx, primals, tangents, full_matrices):
    """JAX's forward-mode QR rule, real case: the thin rule for m >= n; for m < n, x = Q [R1 R2]
    with Q R1 the QR of the leading square block x1, so dQ and dR1 come from the thin rule on
    x1, and dR2 = dQ^T x2 + Q^T dx2."""
    q, r = cx.primal()
    (t,) = tangents
    if t is None:
        return [q, r], [None, None]
    (x,) = primals
    *_, m, n = t.type.shape
    if full_matrices and m > n:
        _no_full_derivative(cx, "the complete QR (mode='complete') of a tall matrix")
    if m >= n:
        dq, dr = _thin_qr_jvp(cx, q, r, t)
        return [q, r], [dq, dr]
    op = cx.op
    dq, dr1 = _thin_qr_jvp(cx, q, last_cols(op, r, 0, m), last_cols(op, t, 0, m))
    dr2 = cx.add(matmul(op, swap_last(op, dq), last_cols(op, x, m, n)),
                 matmul(op, swap_last(op, q), last_cols(op, t, m, n)))
    return [q, r], [dq, op("concatenate", [dr1, dr2], axis=t.type.rank - 1)]


# --- costs: textbook flop counts (LAPACK's, or XLA's iterative lowerings, have no closed form)

def _mn(op):
    t = op.operands[0].type
    *_, m, n = t.shape
    return (t.size // (m * n) if m * n else 0), max(m, n), min(m, n)


@costs.estimated
def _eigh_cost(op):
    """9 k^3 per k x k matrix: tridiagonal reduction and the implicit QR iteration with
    eigenvectors (Golub and Van Loan's count)."""
    count, k, _ = _mn(op)
    return count * 9.0 * k ** 3, 0.0


@costs.estimated
def _svd_cost(op):
    """6 p q^2 + 20 q^3 per p x q matrix (p >= q): the R-SVD with U's first q columns and V
    (Golub and Van Loan's count)."""
    count, p, q = _mn(op)
    return count * (6.0 * p * q ** 2 + 20.0 * q ** 3), 0.0


@costs.estimated
def _qr_cost(op):
    """4 q^2 (p - q / 3) per p x q matrix: Householder QR, 2 q^2 (p - q / 3), and as much again
    to form Q."""
    count, p, q = _mn(op)
    return count * 4.0 * q ** 2 * (p - q / 3.0), 0.0


declare("cholesky", _cholesky, jvp=_cholesky_jvp, batch=batching.leading_batch, tile=tiling.matrix_batch,
        cost=costs.cholesky, jax="jax.lax.linalg.cholesky({0}, symmetrize_input=False)",
        tf="tf.linalg.cholesky({0})")
declare("lu", _lu, jvp=_lu_jvp, batch=batching.leading_batch, tile=tiling.matrix_batch, cost=costs.lu,
        tuple_result=True, jax="jax.lax.linalg.lu({0})[::2]",
        tf="ppc_tf.lu({0})")

declare("eigh", _eigh, jvp=_eigh_jvp, batch=batching.leading_batch, tile=tiling.matrix_batch, cost=_eigh_cost,
        tuple_result=True, jax="jax.lax.linalg.eigh({0}, lower=True, symmetrize_input=False)[::-1]",
        tf="ppc_tf.eigh({0})")
declare("svd", _svd, jvp=_svd_jvp, batch=batching.leading_batch, tile=tiling.matrix_batch, cost=_svd_cost,
        tuple_result=True, jax="jax.lax.linalg.svd({0}, full_matrices={full_matrices}, compute_uv=True)",
        tf="ppc_tf.svd({0}, full_matrices={full_matrices})")
declare("qr", _qr, jvp=_qr_jvp, batch=batching.leading_batch, tile=tiling.matrix_batch, cost=_qr_cost,
        tuple_result=True, jax="jax.lax.linalg.qr({0}, full_matrices={full_matrices})",
        tf="tf.linalg.qr({0}, full_matrices={full_matrices})")
