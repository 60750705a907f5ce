"""np.linalg / jnp.linalg / scipy.linalg / jax.scipy.linalg: cholesky, solve, inv, det,
slogdet, cho_factor, cho_solve, on batches of square matrices [..., k, k]; eigh, eigvalsh,
svd, svdvals, qr, pinv, cond, matrix_power and the spectral matrix norms (ord=2, -2, 'nuc').

Two primitives factor (ppc/ir/prims/linalg.py: `cholesky`, `lu`); the rest is composed
here from them, `triangular_solve` and ordinary array ops, so derivatives, batching and
tiling follow from those primitives' rules:

  solve(a, b) = U^-1 L^-1 (P b)       (P a = L U; P b as a one-hot matrix product)
  inv(a)      = solve(a, I) = U^-1 L^-1 P
  det(a)      = sign(P) * prod(diag U)
  slogdet(a)  = (sign(P) * prod(sign(diag U)), sum(log|diag U|))

The decompositions are primitives too (`eigh`, `svd`, `qr`); pinv, cond, svdvals and the
spectral norms are composed from `svd`, matrix_power from matmul (and inv for n < 0). Their
results are plain tuples in NumPy's order (EighResult (w, v), SVDResult (U, S, Vh),
QRResult (Q, R)), without the field names. Eigenvector and singular-vector signs are the
backend library's. Derivatives assume distinct eigenvalues / singular values and full rank
(as JAX's: repeated ones give inf/NaN); the extra columns of full_matrices=True and of the
complete QR of a tall matrix have none (a located error). np.linalg.norm is numpy_more's;
its ord=2, -2 and 'nuc' on matrices come from `singular_value_norm` here.

Integers become float64, as in NumPy. Right-hand sides are read as NumPy 2 and JAX read
them: `b` is a vector only when it is 1-d, else a batch of matrices [..., k, m]; batch axes
broadcast. Nothing is checked at run time: a singular matrix gives inf/NaN from solve and
inv (NumPy raises LinAlgError), det 0 and slogdet (0, -inf) (as NumPy); a matrix that is not
positive definite gives NaN from cholesky (NumPy raises), as JAX does.
"""
from __future__ import annotations

import numpy as np

from ..ir import ShapeError
from ..ir.prims import linalg as L
from .numpy_api import _static, matmul, register
from .values import Dyn


def _ops(lw):
    return (lambda prim, xs, **attrs: lw.emit(prim, list(xs), **attrs),
            lambda value, t: lw.const(value, t.dtype, t.shape).value)


def _matrix(lw, a, what):
    (x,), _ = lw.coerce_dtypes([a])
    if len(x.shape) < 2 or x.shape[-1] != x.shape[-2]:
        lw.error(f"{what} needs square matrices (an array of shape (..., k, k)), got shape {x.shape}")
    return x


def _transpose_last(lw, x: Dyn) -> Dyn:
    n = len(x.shape) - 2
    return lw.transpose(x, tuple(range(n)) + (n + 1, n))


def _lu(lw, x: Dyn):
    lu, perm = lw.builder.op_n("lu", [x.value], "lu")
    lw.fresh.update((lu, perm))
    return lu, perm


def _batch_to(lw, v, batch):
    """v [..., k, m] broadcast to batch + its last two axes (a no-op where it is already)."""
    d = v if isinstance(v, Dyn) else Dyn(v)
    return lw.broadcast_to(d, tuple(batch) + d.shape[-2:]).value


def _rhs(lw, a_batch, b: Dyn, what):
    """b as matrices [batch..., k, m] for systems whose matrices have batch axes `a_batch`:
    (b, batch, undo) where undo(x) gives the solution b's shape (a vector again)."""
    vector = len(b.shape) == 1
    if vector:
        batch = tuple(a_batch)
        col = lw.reshape(b, (b.shape[0], 1))
        col = lw.broadcast_to(col, batch + col.shape)
        return col, batch, lambda x: lw.reshape(Dyn(x), batch + (b.shape[0],))
    if len(b.shape) < 2:
        lw.error(f"{what}: the right-hand side must be at least 1-d")
    batch = lw.broadcast_shapes(tuple(a_batch), b.shape[:-2])
    return lw.broadcast_to(b, batch + b.shape[-2:]), batch, lambda x: Dyn(x)


def _check_rows(lw, k, b: Dyn, a_shape, what):
    rows = b.shape[0] if len(b.shape) == 1 else (b.shape[-2] if len(b.shape) >= 2 else None)
    if rows != k:
        lw.error(f"{what}: matrices of shape {a_shape} and a right-hand side of shape {b.shape} do not align",
                 "a batch of vectors b is a batch of columns: b[..., None] (NumPy 2 and JAX read b as a "
                 "vector only when it is 1-d)" if len(b.shape) == len(a_shape) - 1 else None)


def _lu_solve(lw, lu, perm, b: Dyn, what) -> Dyn:
    """x with a x = b, from a's packed LU and permutation."""
    op, const = _ops(lw)
    a_batch, k = lu.type.shape[:-2], lu.type.shape[-1]
    _check_rows(lw, k, b, lu.type.shape, what)
    rhs, batch, undo = _rhs(lw, a_batch, b, what)
    p = L.permutation_matrix(op, const, perm, lu.type.dtype)
    low = L.unit_lower(op, const, lu)
    if not a_batch and batch:
        # one matrix, many right-hand sides: they become columns of one system
        n = len(batch)
        cols = lw.transpose(rhs, (n,) + tuple(range(n)) + (n + 1,))
        flat = lw.reshape(cols, (k, -1))
        x = _lu_apply(op, p, low, lu, flat.value)
        back = lw.reshape(Dyn(x), (k,) + batch + rhs.shape[-1:])
        return undo(lw.transpose(back, tuple(range(1, n + 1)) + (0, n + 1)).value)
    p, low, up = (_batch_to(lw, v, batch) for v in (p, low, lu))
    return undo(_lu_apply(op, p, low, up, rhs.value))


def _lu_apply(op, p, low, up, rhs):
    y = op("triangular_solve", [low, L.matmul(op, p, rhs)], lower=True, transpose_a=False)
    return op("triangular_solve", [up, y], lower=False, transpose_a=False)


def _diagonal(lw, x: Dyn) -> Dyn:
    """The diagonal of each matrix [..., k, k] -> [..., k]: the flattened matrix read at
    stride k + 1."""
    k = x.shape[-1]
    flat = lw.reshape(x, x.shape[:-2] + (k * k,))
    n = len(flat.shape) - 1
    v = lw.emit("slice", [flat.value], start=(0,) * (n + 1), limit=flat.shape[:-1] + (k * k,),
                stride=(1,) * n + (k + 1,))
    return Dyn(v)


def _perm_sign(lw, perm, dtype) -> Dyn:
    """(-1) ** (the permutation's inversions): the product of -1 over pairs i < j with
    perm[i] > perm[j]."""
    p = Dyn(perm)
    k = p.shape[-1]
    later = lw.elementwise("gt", lw.reshape(p, p.shape + (1,)), lw.reshape(p, p.shape[:-1] + (1, k)),
                           result_kind="bool")
    upper = lw.const(np.triu(np.ones((k, k), bool), 1), "bool", (k, k))
    flips = lw.elementwise("and", later, upper, result_kind="bool")
    shape = flips.shape
    signs = lw.select(flips, lw.const(-1, dtype, shape), lw.const(1, dtype, shape))
    return lw.reduce("reduce_prod", signs, (-2, -1))


# ------------------------------------------------------------------- factorizations

def _cholesky_lower(lw, a, what):
    x = _matrix(lw, a, what)
    return Dyn(lw.emit("cholesky", [x.value]))


@register("np.linalg.cholesky", "jnp.linalg.cholesky")
def _np_cholesky(lw, a, *, upper=False, symmetrize_input=True):
    """The lower factor (upper=True: its transpose). Reads the lower triangle, as NumPy's
    does; derivatives treat the matrix as symmetric, as jnp.linalg.cholesky's do."""
    c = _cholesky_lower(lw, a, "cholesky")
    return _transpose_last(lw, c) if _static_bool(lw, upper, "upper") else c


@register("sl.cholesky", "jsl.cholesky")
def _sl_cholesky(lw, a, lower=False, overwrite_a=False, check_finite=True):
    c = _cholesky_lower(lw, a, "cholesky")
    return c if _static_bool(lw, lower, "lower") else _transpose_last(lw, c)


@register("sl.cho_factor", "jsl.cho_factor")
def _cho_factor(lw, a, lower=False, overwrite_a=False, check_finite=True):
    """(c, lower) as SciPy and JAX give it; c's other triangle holds zeros here."""
    lower = _static_bool(lw, lower, "lower")
    c = _cholesky_lower(lw, a, "cho_factor")
    return (c if lower else _transpose_last(lw, c)), lower


@register("sl.cho_solve", "jsl.cho_solve")
def _cho_solve(lw, c_and_lower, b, overwrite_b=False, check_finite=True):
    if not isinstance(c_and_lower, (tuple, list)) or len(c_and_lower) != 2:
        lw.error("cho_solve needs (c, lower), as cho_factor returns it")
    c, lower = c_and_lower
    lower = _static_bool(lw, lower, "lower")
    (c, b), _ = lw.coerce_dtypes([c, b])
    if len(c.shape) < 2 or c.shape[-1] != c.shape[-2]:
        lw.error(f"cho_solve needs square factors (shape (..., k, k)), got shape {c.shape}")
    k = c.shape[-1]
    _check_rows(lw, k, b, c.shape, "cho_solve")
    rhs, batch, undo = _rhs(lw, c.shape[:-2], b, "cho_solve")
    cv = _batch_to(lw, c, batch)
    # lower: L L^T x = b; upper: U^T U x = b
    y = lw.emit("triangular_solve", [cv, rhs.value], lower=lower, transpose_a=not lower)
    x = lw.emit("triangular_solve", [cv, y], lower=lower, transpose_a=lower)
    return undo(x)


# ------------------------------------------------------------------- solve, inv, det

@register("np.linalg.solve", "jnp.linalg.solve")
def _solve(lw, a, b):
    (x, b), _ = lw.coerce_dtypes([a, b])
    if len(x.shape) < 2 or x.shape[-1] != x.shape[-2]:
        lw.error(f"solve needs square matrices (an array of shape (..., k, k)), got shape {x.shape}")
    lu, perm = _lu(lw, x)
    return _lu_solve(lw, lu, perm, b, "solve")


@register("np.linalg.inv", "jnp.linalg.inv")
def _inv(lw, a):
    x = _matrix(lw, a, "inv")
    lu, perm = _lu(lw, x)
    return Dyn(_inv_apply(*_ops(lw), lu, perm, x.dtype))


def _inv_apply(op, const, lu, perm, dtype):
    p = L.permutation_matrix(op, const, perm, dtype)
    y = op("triangular_solve", [L.unit_lower(op, const, lu), p], lower=True, transpose_a=False)
    return op("triangular_solve", [lu, y], lower=False, transpose_a=False)


@register("np.linalg.det", "jnp.linalg.det")
def _det(lw, a):
    x = _matrix(lw, a, "det")
    lu, perm = _lu(lw, x)
    d = _diagonal(lw, Dyn(lu))
    return lw.elementwise("mul", _perm_sign(lw, perm, x.dtype), lw.reduce("reduce_prod", d, -1))


@register("np.linalg.slogdet", "jnp.linalg.slogdet")
def _slogdet(lw, a, *, method=None):
    """(sign, logabsdet), a tuple (NumPy's SlogdetResult has the same order)."""
    x = _matrix(lw, a, "slogdet")
    lu, perm = _lu(lw, x)
    d = _diagonal(lw, Dyn(lu))
    sign = lw.elementwise("mul", _perm_sign(lw, perm, x.dtype),
                          lw.reduce("reduce_prod", lw.elementwise("sign", d), -1))
    logabs = lw.reduce("reduce_sum", lw.elementwise("log", lw.elementwise("abs", d)), -1)
    return sign, logabs


def _static_bool(lw, v, what):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return bool(v)
    lw.error(f"{what}= must be a bool known at compile time")


# ------------------------------------------------------------------- eigh, svd, qr

def _emit_n(lw, prim, operands, **attrs):
    """A primitive's results (several), a shape rule's complaint located at the call."""
    try:
        outs = lw.builder.op_n(prim, [d.value for d in operands], prim, **attrs)
    except ShapeError as e:
        lw.error(str(e))
    lw.fresh.update(outs)
    return [Dyn(v) for v in outs]


def _rect(lw, a, what):
    (x,), _ = lw.coerce_dtypes([a])
    if len(x.shape) < 2:
        lw.error(f"{what} needs matrices (an array of shape (..., m, n)), got shape {x.shape}")
    return x


def _static_choice(lw, v, what, choices):
    """A string option known at compile time, one of `choices`."""
    if isinstance(v, Dyn):
        lw.error(f"{what}= must be known at compile time")
    if not isinstance(v, str) or v not in choices:
        lw.error(f"{what}={v!r} is not supported in compiled code",
                 f"{what} may be one of {', '.join(map(repr, choices))}")
    return v


def _eigh_of(lw, a, what, lower=True, symmetrize=False):
    x = _matrix(lw, a, what)
    if symmetrize:  # (jnp's symmetrize_input: the derivatives are those of a symmetric matrix anyway)
        x = lw.elementwise("mul", lw.elementwise("add", x, _transpose_last(lw, x)), lw.const(0.5, x.dtype))
    elif not lower:  # the upper triangle is the lower one of the transpose
        x = _transpose_last(lw, x)
    w, v = _emit_n(lw, "eigh", [x])
    return w, v


@register("np.linalg.eigh")
def _np_eigh(lw, a, UPLO="L"):
    """(eigenvalues ascending, eigenvectors as columns): NumPy's EighResult order, as a plain
    tuple. Reads the UPLO triangle only, as NumPy does."""
    return _eigh_of(lw, a, "eigh", lower=_static_choice(lw, UPLO, "UPLO", ("L", "U")) == "L")


@register("np.linalg.eigvalsh")
def _np_eigvalsh(lw, a, UPLO="L"):
    return _eigh_of(lw, a, "eigvalsh", lower=_static_choice(lw, UPLO, "UPLO", ("L", "U")) == "L")[0]


@register("jnp.linalg.eigh")
def _jnp_eigh(lw, a, UPLO=None, symmetrize_input=True):
    uplo = _static_choice(lw, "L" if UPLO is None else UPLO, "UPLO", ("L", "U"))
    return _eigh_of(lw, a, "eigh", lower=uplo == "L", symmetrize=_static_bool(lw, symmetrize_input, "symmetrize_input"))


@register("jnp.linalg.eigvalsh")
def _jnp_eigvalsh(lw, a, UPLO="L", *, symmetrize_input=True):
    uplo = _static_choice(lw, "L" if UPLO is None else UPLO, "UPLO", ("L", "U"))
    return _eigh_of(lw, a, "eigvalsh", lower=uplo == "L",
                    symmetrize=_static_bool(lw, symmetrize_input, "symmetrize_input"))[0]


def _sl_eigh_of(lw, a, b, lower, type, subsets, what, symmetrize=False):
    if b is not None:
        lw.error(f"{what} of a generalized problem (b=) is not supported in compiled code",
                 "with b = L L^T positive definite: eigh(solve_triangular(L, solve_triangular(L, a, lower=True).T, "
                 "lower=True)) has the same eigenvalues")
    if type != 1 or any(x is not None for x in subsets):
        lw.error(f"{what}: type=, subset_by_index=, subset_by_value= and eigvals= are not supported in compiled code",
                 "slice the eigenvalues, which come ascending")
    return _eigh_of(lw, a, what, lower=_static_bool(lw, lower, "lower"), symmetrize=symmetrize)


@register("sl.eigh")
def _sl_eigh(lw, a, b=None, *, lower=True, eigvals_only=False, overwrite_a=False, overwrite_b=False, type=1,
             check_finite=True, subset_by_index=None, subset_by_value=None, driver=None):
    """SciPy's: reads the `lower` triangle."""
    w, v = _sl_eigh_of(lw, a, b, lower, type, (subset_by_index, subset_by_value), "eigh")
    return w if _static_bool(lw, eigvals_only, "eigvals_only") else (w, v)


@register("jsl.eigh")
def _jsl_eigh(lw, a, b=None, lower=True, eigvals_only=False, overwrite_a=False, overwrite_b=False, turbo=True,
              eigvals=None, type=1, check_finite=True):
    """JAX's: symmetrizes the matrix first, (a + a^T) / 2, as jax.scipy.linalg.eigh does."""
    w, v = _sl_eigh_of(lw, a, b, lower, type, (eigvals,), "eigh", symmetrize=True)
    return w if _static_bool(lw, eigvals_only, "eigvals_only") else (w, v)


@register("sl.eigvalsh")
def _sl_eigvalsh(lw, a, b=None, *, lower=True, overwrite_a=False, overwrite_b=False, type=1, check_finite=True,
                 subset_by_index=None, subset_by_value=None, driver=None):
    return _sl_eigh_of(lw, a, b, lower, type, (subset_by_index, subset_by_value), "eigvalsh")[0]


def _svd_of(lw, a, what, full_matrices):
    """(u, s, vt) of the float matrices a [..., m, n]."""
    x = _rect(lw, a, what)
    return _emit_n(lw, "svd", [x], full_matrices=bool(full_matrices and x.shape[-1] != x.shape[-2]))


def _svd_api(lw, a, full_matrices, compute_uv):
    """(U, s, Vh), NumPy's SVDResult order (a plain tuple), or s alone."""
    full = _static_bool(lw, full_matrices, "full_matrices")
    if not _static_bool(lw, compute_uv, "compute_uv"):
        return _svd_of(lw, a, "svd", False)[1]
    return tuple(_svd_of(lw, a, "svd", full))


@register("np.linalg.svd", "jnp.linalg.svd")
def _np_svd(lw, a, full_matrices=True, compute_uv=True, hermitian=False, subset_by_index=None):
    """hermitian=True computes the general SVD (the same factorization, up to the signs of
    singular vectors, which are the library's anyway)."""
    _static_bool(lw, hermitian, "hermitian")
    if subset_by_index is not None:
        lw.error("svd with subset_by_index= is not supported in compiled code", "slice the result")
    return _svd_api(lw, a, full_matrices, compute_uv)


@register("sl.svd", "jsl.svd")
def _sl_svd(lw, a, full_matrices=True, compute_uv=True, overwrite_a=False, check_finite=True, lapack_driver="gesdd"):
    return _svd_api(lw, a, full_matrices, compute_uv)


@register("np.linalg.svdvals", "jnp.linalg.svdvals")
def _svdvals(lw, x):
    return _svd_of(lw, x, "svdvals", False)[1]


@register("np.linalg.qr", "jnp.linalg.qr")
def _np_qr(lw, a, mode="reduced"):
    """(Q, R) (NumPy's QRResult order, a plain tuple), or R alone for mode='r'."""
    mode = _static_choice(lw, mode, "mode", ("reduced", "complete", "r"))
    x = _rect(lw, a, "qr")
    q, r = _emit_n(lw, "qr", [x], full_matrices=mode == "complete" and x.shape[-2] > x.shape[-1])
    return r if mode == "r" else (q, r)


@register("sl.qr", "jsl.qr")
def _sl_qr(lw, a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True):
    """SciPy's modes: 'full' (the complete Q), 'economic' (the reduced one), 'r' ((R,) of
    the full factorization, a 1-tuple as SciPy gives it)."""
    if _static_bool(lw, pivoting, "pivoting"):
        lw.error("qr with pivoting=True is not supported in compiled code")
    mode = _static_choice(lw, mode, "mode", ("full", "economic", "r"))
    x = _rect(lw, a, "qr")
    q, r = _emit_n(lw, "qr", [x], full_matrices=mode != "economic" and x.shape[-2] > x.shape[-1])
    return (r,) if mode == "r" else (q, r)


# ------------------------------------------------------------------- from the SVD

def singular_value_norm(lw, x: Dyn, ord, axes, keepdims):
    """The matrix norms of singular values over the two axes `axes` (rows, columns): ord=2
    (the largest), -2 (the smallest), 'nuc' (their sum)."""
    rank = len(x.shape)
    r, c = axes
    rest = tuple(i for i in range(rank) if i not in (r, c))
    m = lw.transpose(x, rest + (r, c))
    s = _svd_of(lw, m, "norm", False)[1]
    prim = {2: "reduce_max", -2: "reduce_min", "nuc": "reduce_sum"}[ord]
    out = lw.reduce(prim, s, -1)
    if keepdims:
        out = lw.reshape(out, tuple(1 if i in (r, c) else n for i, n in enumerate(x.shape)))
    return out


def _pinv_of(lw, a, rtol, eps_factor):
    """V diag(1/s) U^T over the singular values above rtol * the largest (the rest: 0);
    rtol None: eps_factor * max(m, n) * the dtype's eps."""
    x = _rect(lw, a, "pinv")
    u, s, vt = _svd_of(lw, x, "pinv", False)
    if rtol is None:
        eps = float(np.finfo(np.float32 if x.dtype == "f32" else np.float64).eps)
        rtol = eps_factor * max(x.shape[-2:]) * eps
    rtol = lw.to_dyn(rtol, x.dtype)
    if rtol.shape:  # (one per matrix)
        rtol = lw.reshape(rtol, rtol.shape + (1,))
    cutoff = lw.elementwise("mul", rtol, lw.reduce("reduce_max", s, -1, keepdims=True))
    large = lw.elementwise("gt", s, cutoff, result_kind="bool")
    one, zero = lw.const(1.0, x.dtype, s.shape), lw.const(0.0, x.dtype, s.shape)
    # 1/s where it is kept and 0 elsewhere, dividing by 1 there (so derivatives stay finite)
    inv = lw.select(large, lw.elementwise("div", one, lw.select(large, s, one)), zero)
    scaled = lw.elementwise("mul", lw.reshape(inv, inv.shape + (1,)), _transpose_last(lw, u))  # diag(1/s) U^T
    return matmul(lw, _transpose_last(lw, vt), scaled)


_NO_VALUE = object()


@register("np.linalg.pinv")
def _np_pinv(lw, a, rcond=None, hermitian=False, *, rtol=_NO_VALUE):
    """NumPy's cutoffs: rcond (default 1e-15), or rtol (None: max(m, n) * eps)."""
    _static_bool(lw, hermitian, "hermitian")
    if rcond is not None and rtol is not _NO_VALUE:
        lw.error("pinv: rcond= and rtol= cannot both be set")
    if rcond is not None:
        return _pinv_of(lw, a, rcond, 1)
    return _pinv_of(lw, a, 1e-15 if rtol is _NO_VALUE else rtol, 1)


@register("jnp.linalg.pinv")
def _jnp_pinv(lw, a, rtol=None, hermitian=False, *, rcond=None):
    """JAX's cutoff: rtol (or rcond), default 10 * max(m, n) * eps."""
    _static_bool(lw, hermitian, "hermitian")
    if rcond is not None and rtol is not None:
        lw.error("pinv: rcond= and rtol= cannot both be set")
    given = rtol if rtol is not None else rcond
    return _pinv_of(lw, a, given, 10)


@register("np.linalg.cond", "jnp.linalg.cond")
def _cond(lw, x, p=None):
    """p None, 2, -2: the ratio of extreme singular values; 'fro', 'nuc', 1, -1, inf, -inf:
    norm(x, p) * norm(inv(x), p) (square matrices). No check at run time: a singular matrix
    gives inf or NaN."""
    p = _static(lw, p, "p")
    if p is None or (p in (2, -2) and not isinstance(p, (bool, str))):
        s = _svd_of(lw, x, "cond", False)[1]
        big, small = lw.reduce("reduce_max", s, -1), lw.reduce("reduce_min", s, -1)
        return lw.elementwise("div", *((big, small) if p in (None, 2) else (small, big)))
    m = _matrix(lw, x, "cond")
    inv = _inv(lw, m)
    from .numpy_more import _norm  # (numpy_more imports this module's functions lazily too)
    return lw.elementwise("mul", _norm(lw, m, p, (-2, -1)), _norm(lw, inv, p, (-2, -1)))


@register("np.linalg.matrix_power", "jnp.linalg.matrix_power")
def _matrix_power(lw, a, n):
    """a @ a @ ... (n times, by repeated squaring, as NumPy), the identity for n = 0, and
    inv(a) ** -n for n < 0; integer matrices stay integer for n >= 0 (as NumPy)."""
    n = lw.static_int(n, "matrix_power's exponent n")
    x = lw.to_dyn(a)
    if len(x.shape) < 2 or x.shape[-1] != x.shape[-2]:
        lw.error(f"matrix_power needs square matrices (an array of shape (..., k, k)), got shape {x.shape}")
    if n == 0:
        k = x.shape[-1]
        return lw.broadcast_to(lw.const(np.eye(k), x.dtype, (k, k)), x.shape)
    if n < 0:
        x, n = _inv(lw, x), -n
    result, square = None, x
    while n:
        if n & 1:
            result = square if result is None else matmul(lw, result, square)
        n >>= 1
        if n:
            square = matmul(lw, square, square)
    return result
