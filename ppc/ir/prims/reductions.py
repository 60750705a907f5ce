"""Contractions, reductions and scans."""
from __future__ import annotations

import numpy as np

from ..registry import ShapeError, declare
from ..types import TensorType
from . import batching, costs, tiling
from .common import JNP_DTYPE, TF_DTYPE, axis_ok, numeric, tensor


def _no_tangent(cx, primals, tangents, **attrs):
    return cx.primal(), [None] * len(cx.out_types)


# --- dot_general ---------------------------------------------------------------------------

def _dot_general(x, y, contract, batch):
    x, y = tensor(x), tensor(y)
    numeric(x, "dot_general")
    if x.dtype != y.dtype:
        raise ShapeError(f"dot_general operands {x} and {y} differ in dtype")
    (xc, yc), (xb, yb) = contract, batch
    if len(xc) != len(yc) or len(xb) != len(yb):
        raise ShapeError("dot_general dimension lists differ in length")
    for a, b in list(zip(xc, yc)) + list(zip(xb, yb)):
        axis_ok(a, x.rank)
        axis_ok(b, y.rank)
        if x.shape[a] != y.shape[b]:
            raise ShapeError(f"cannot contract {x} axis {a} with {y} axis {b}: sizes "
                             f"{x.shape[a]} and {y.shape[b]} differ")
    free_x = [d for i, d in enumerate(x.shape) if i not in xc and i not in xb]
    free_y = [d for i, d in enumerate(y.shape) if i not in yc and i not in yb]
    return [x.with_shape([x.shape[i] for i in xb] + free_x + free_y)]


def _fold_dot(x, y, contract, batch):
    (xc, yc), (xb, yb) = contract, batch
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    sx = [next(letters) for _ in range(x.ndim)]
    sy = [next(letters) for _ in range(y.ndim)]
    for a, b in zip(list(xc) + list(xb), list(yc) + list(yb)):
        sy[b] = sx[a]
    out = [sx[i] for i in xb] + [s for i, s in enumerate(sx) if i not in xc and i not in xb] + \
          [s for i, s in enumerate(sy) if i not in yc and i not in yb]
    return np.einsum(f"{''.join(sx)},{''.join(sy)}->{''.join(out)}", x, y)


def _dot_jvp(cx, primals, tangents, contract, batch):
    outs = cx.primal()
    (x, y), (tx, ty) = primals, tangents
    a = None if tx is None else cx.op("dot_general", [tx, y], contract=contract, batch=batch)
    b = None if ty is None else cx.op("dot_general", [x, ty], contract=contract, batch=batch)
    return outs, [cx.add(a, b)]


def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield tuple(range(start, start + len(x)))
        start += len(x)


def _dot_transpose_lhs(cx, ct, x_type, y, contract, batch, swap_ans=False):
    """The cotangent of the left operand of dot_general (JAX's formulation)."""
    (xc, yc), (xb, yb) = contract, batch
    x_kept = [i for i in range(x_type.rank) if i not in xc and i not in xb]
    y_kept = [i for i in range(y.type.rank) if i not in yc and i not in yb]
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(xb, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(xb, x_kept, y_kept)
    out = cx.op("dot_general", [ct, y], contract=(ans_y, tuple(y_kept)), batch=(ans_batch, tuple(yb)))
    xc_by_y = [xc[i] for i in np.argsort(yc)]
    perm = tuple(int(i) for i in np.argsort(list(xb) + x_kept + xc_by_y))
    return cx.op("transpose", [out], perm=perm) if perm != tuple(range(len(perm))) else out


def _dot_t(cx, cts, operands, linear, contract, batch):
    if linear[0] and linear[1]:
        raise ValueError("dot_general of two linear values is not linear")
    ct = cts[0]
    if linear[0]:
        return [_dot_transpose_lhs(cx, ct, cx.in_types[0], operands[1], contract, batch), None]
    (xc, yc), (xb, yb) = contract, batch
    return [None, _dot_transpose_lhs(cx, ct, cx.in_types[1], operands[0], (yc, xc), (yb, xb), swap_ans=True)]


declare("dot_general", _dot_general, jax="lax.dot_general({0}, {1}, ({contract}, {batch}))", fold=_fold_dot,
        tf="ppc_tf.dot_general({0}, {1}, ({contract}, {batch}))",
        jvp=_dot_jvp, transpose=_dot_t, batch=batching.dot_general, tile=tiling.dot_general,
        cost=costs.dot_general)


# --- reductions ----------------------------------------------------------------------------

def _reduce_rule(kind):
    def infer(x, axes):
        x = tensor(x)
        for a in axes:
            axis_ok(a, x.rank)
        if len(set(axes)) != len(axes):
            raise ShapeError(f"repeated axis in {axes}")
        if kind == "numeric":
            numeric(x, "this reduction")
        elif kind == "bool" and x.dtype != "bool":
            raise ShapeError(f"any/all reductions here need bool operands, got {x}")
        return [x.with_shape([d for i, d in enumerate(x.shape) if i not in axes])]
    return infer


def _kept(axes, rank):
    return tuple(i for i in range(rank) if i not in axes)


def _sum_t(cx, cts, operands, linear, axes):
    x_type = cx.in_types[0]
    return [cx.op("broadcast_in_dim", [cts[0]], shape=x_type.shape, dims=_kept(axes, x_type.rank))]


def _sum_jvp(cx, primals, tangents, axes):
    outs = cx.primal()
    t = tangents[0]
    return outs, [None if t is None else cx.op("reduce_sum", [t], axes=axes)]


def _extremum_jvp(cx, primals, tangents, axes):
    """The tangent at the maximising (minimising) positions, averaged over ties, as JAX does."""
    (out,) = cx.primal()
    t = tangents[0]
    if t is None:
        return [out], [None]
    x = primals[0]
    back = cx.op("broadcast_in_dim", [out], shape=x.type.shape, dims=_kept(axes, x.type.rank))
    mask = cx.op("convert", [cx.op("eq", [x, back])], dtype=x.type.dtype)
    count = cx.op("reduce_sum", [mask], axes=axes)
    return [out], [cx.div(cx.op("reduce_sum", [cx.mul(t, mask)], axes=axes), count)]


def _prod_jvp(cx, primals, tangents, axes):
    """d prod(x) = sum_i t_i * prod_{j != i} x_j, computed without dividing by x (exact
    at zeros): the reduced axes are flattened to one of size n, and an n-by-n mask
    replaces x_i by 1 on the diagonal. An empty product is the constant 1: no tangent."""
    (out,) = cx.primal()
    t = tangents[0]
    x = primals[0]
    n = int(np.prod([x.type.shape[a] for a in axes], dtype=np.int64))
    if t is None or n == 0:
        return [out], [None]
    kept = _kept(axes, x.type.rank)
    kshape = tuple(x.type.shape[i] for i in kept)

    def flat(v):
        v = cx.op("transpose", [v], perm=kept + tuple(axes)) if kept + tuple(axes) != tuple(range(v.type.rank)) else v
        return cx.op("reshape", [v], shape=kshape + (n,))
    xf, tf = flat(x), flat(t)
    square = kshape + (n, n)
    rows = cx.op("broadcast_in_dim", [xf], shape=square, dims=tuple(range(len(kshape))) + (len(kshape) + 1,))
    eye = cx.b.constant(np.eye(n, dtype=bool), TensorType((n, n), "bool"))
    diag = cx.op("broadcast_in_dim", [eye], shape=square, dims=(len(kshape), len(kshape) + 1))
    others = cx.op("select", [diag, cx.full(1.0, rows.type), rows])
    partial = cx.op("reduce_prod", [others], axes=(len(kshape) + 1,))
    return [out], [cx.op("reduce_sum", [cx.mul(tf, partial)], axes=(len(kshape),))]


def _tf_reduce(fn):
    return lambda a, at: f"{fn}({a[0]}, axis={list(at['axes'])})"


def _tf_arg(fn):
    """argmax/argmin as XLA defines them (and JAX gives): the first NaN where there is one,
    which TF's skip; else the first extremum."""
    def emit(a, at):
        x, axis, dtype = a[0], at["axis"], TF_DTYPE[at["index_dtype"]]
        plain = f"{fn}({x}, axis={axis})"
        nan = f"tf.math.is_nan({x})"
        return (f"tf.cast(tf.where(tf.reduce_any({nan}, axis={axis}), tf.math.argmax(tf.cast({nan}, tf.int8), "
                f"axis={axis}), {plain}) if {x}.dtype.is_floating else {plain}, {dtype})")
    return emit


REDUCE = {
    "reduce_sum": ("numeric", "jnp.sum({0}, axis={axes}, promote_integers=False)", _tf_reduce("tf.reduce_sum"), np.sum, _sum_jvp, _sum_t),
    "reduce_prod": ("numeric", "jnp.prod({0}, axis={axes}, promote_integers=False)", _tf_reduce("tf.reduce_prod"), np.prod, _prod_jvp, None),
    "reduce_max": ("numeric", "jnp.max({0}, axis={axes})", _tf_reduce("ppc_tf.reduce_max"), np.max, _extremum_jvp, None),
    "reduce_min": ("numeric", "jnp.min({0}, axis={axes})", _tf_reduce("ppc_tf.reduce_min"), np.min, _extremum_jvp, None),
    "reduce_and": ("bool", "jnp.all({0}, axis={axes})", _tf_reduce("tf.reduce_all"), np.all, _no_tangent, None),
    "reduce_or": ("bool", "jnp.any({0}, axis={axes})", _tf_reduce("tf.reduce_any"), np.any, _no_tangent, None),
}
# how devices combine partial reductions of a tiled axis (a product is not split)
COMBINE = {"reduce_sum": "sum", "reduce_max": "max", "reduce_min": "min", "reduce_and": "and", "reduce_or": "or"}
for _name, (_kind, _jax, _tf, _np, _jvp, _tr) in REDUCE.items():
    declare(_name, _reduce_rule(_kind), jax=_jax, tf=_tf, jvp=_jvp, transpose=_tr, batch=batching.shifted_axes("axes"),
            tile=tiling.reduction(COMBINE.get(_name)), cost=costs.reduction,
            fold=(lambda f: lambda x, axes: np.asarray(f(x, axis=tuple(axes))).astype(x.dtype))(_np))


def _arg_rule(x, axis, index_dtype):
    x = tensor(x)
    numeric(x, "argmax/argmin")
    axis_ok(axis, x.rank)
    return [TensorType(tuple(d for i, d in enumerate(x.shape) if i != axis), index_dtype)]


for _name, _f in (("argmax", "jnp.argmax"), ("argmin", "jnp.argmin")):
    declare(_name, _arg_rule, jvp=_no_tangent, batch=batching.shifted_axes("axis"), tile=tiling.along_axis,
            cost=costs.arg_reduce,
            jax=(lambda f: lambda a, at: f"{f}({a[0]}, axis={at['axis']}).astype({JNP_DTYPE[at['index_dtype']]})")(_f),
            tf=_tf_arg(_f.replace("jnp.", "tf.math.")))


def _cumulative(x, axis, reverse):
    x = tensor(x)
    numeric(x, "cumsum")
    axis_ok(axis, x.rank)
    return [x]


declare("cumsum", _cumulative, jax="lax.cumsum({0}, axis={axis}, reverse={reverse})",
        tf="ppc_tf.cumsum({0}, axis={axis}, reverse={reverse})", batch=batching.shifted_axes("axis"),
        tile=tiling.same_shape_except("axis"), cost=costs.cumsum,
        jvp=lambda cx, p, t, axis, reverse: (cx.primal(), [
            None if t[0] is None else cx.op("cumsum", [t[0]], axis=axis, reverse=reverse)]),
        transpose=lambda cx, cts, ops, lin, axis, reverse: [cx.op("cumsum", [cts[0]], axis=axis, reverse=not reverse)])


# --- triangular solve ----------------------------------------------------------------------

def _triangular_solve(a, b, lower, transpose_a):
    """a: [..., k, k], leading axes a batch of matrices; b: [k] against one matrix, or
    [..., k, m] with a's batch axes. (Batches of vectors are batches of one column: JAX
    is deprecating its reading of them as vectors.)"""
    a, b = tensor(a), tensor(b)
    if (a.rank < 2 or a.shape[-1] != a.shape[-2] or b.rank not in ((1, 2) if a.rank == 2 else (a.rank,))
            or b.shape[:a.rank - 2] != a.shape[:-2] or b.shape[a.rank - 2] != a.shape[-1] or a.dtype != b.dtype):
        raise ShapeError(f"triangular_solve needs square matrices and right-hand sides of matching rows and "
                         f"batch, got {a} and {b}")
    return [b]


def _solve_jvp(cx, primals, tangents, lower, transpose_a):
    """x = A^-1 b, so dx = A^-1 (db - dA x) (with A transposed when transpose_a). The
    solve reads one triangle of A, so only that triangle of dA counts."""
    (x,) = cx.primal()
    a, (ta, tb) = primals[0], tangents
    rhs = tb
    if ta is not None:
        n, k = a.type.rank - 2, a.type.shape[-1]  # batch axes, size
        ones = np.ones((k, k))
        mask = cx.full(np.tril(ones) if lower else np.triu(ones), TensorType((k, k), a.type.dtype))
        ta = cx.mul(ta, cx.op("broadcast_in_dim", [mask], shape=a.type.shape, dims=(n, n + 1)) if n else mask)
        da = cx.op("transpose", [ta], perm=tuple(range(n)) + (n + 1, n)) if transpose_a else ta
        batch = tuple(range(n))
        rhs = cx.sub(rhs, cx.op("dot_general", [da, x], contract=((n + 1,), (n,)), batch=(batch, batch)))
    if rhs is None:
        return [x], [None]
    return [x], [cx.op("triangular_solve", [a, rhs], lower=lower, transpose_a=transpose_a)]


def _solve_t(cx, cts, operands, linear, lower, transpose_a):
    if linear[0]:
        raise ValueError("triangular_solve is linear only in its right-hand side")
    return [None, cx.op("triangular_solve", [operands[0], cts[0]], lower=lower, transpose_a=not transpose_a)]


declare("triangular_solve", _triangular_solve, jvp=_solve_jvp, transpose=_solve_t, batch=batching.triangular_solve,
        tile=tiling.triangular_solve, cost=costs.triangular_solve,
        jax="jax.scipy.linalg.solve_triangular({0}, {1}, lower={lower}, trans={transpose_a:d})",
        tf="ppc_tf.triangular_solve({0}, {1}, lower={lower}, transpose_a={transpose_a})")
