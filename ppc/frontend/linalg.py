"""np.linalg / jnp.linalg / scipy.linalg / jax.scipy.linalg: cholesky, solve, inv, det,
slogdet, cho_factor, cho_solve, on batches of square matrices [..., k, k].

Two primitives factor (ppc/ir/prims/linalg.py: `cholesky`, `lu`); the rest is composed
here from them, `triangular_solve` and ordinary array ops, so derivatives, batching and
tiling follow from those primitives' rules:

  solve(a, b) = U^-1 L^-1 (P b)       (P a = L U; P b as a one-hot matrix product)
  inv(a)      = solve(a, I) = U^-1 L^-1 P
  det(a)      = sign(P) * prod(diag U)
  slogdet(a)  = (sign(P) * prod(sign(diag U)), sum(log|diag U|))

Integers become float64, as in NumPy. Right-hand sides are read as NumPy 2 and JAX read
them: `b` is a vector only when it is 1-d, else a batch of matrices [..., k, m]; batch axes
broadcast. Nothing is checked at run time: a singular matrix gives inf/NaN from solve and
inv (NumPy raises LinAlgError), det 0 and slogdet (0, -inf) (as NumPy); a matrix that is not
positive definite gives NaN from cholesky (NumPy raises), as JAX does.
"""
from __future__ import annotations

import numpy as np

from ..ir.prims import linalg as L
from .numpy_api import register
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
