"""Declarations of every primitive: shape/dtype rule, JAX emission, numpy fold.

IR ops are strict the way jaxprs are: elementwise operands share one shape and one
dtype (the frontend inserts `broadcast_in_dim` and `convert`), so every later rule
(derivatives, batching, tiling) sees one simple case per primitive.
"""
from __future__ import annotations

import numpy as np

from .registry import ShapeError, declare
from .types import TensorType, is_float, is_int, numpy_dtype

JNP_DTYPE = {"bool": "jnp.bool_", "i8": "jnp.int8", "i16": "jnp.int16", "i32": "jnp.int32",
             "i64": "jnp.int64", "u8": "jnp.uint8", "u32": "jnp.uint32", "u64": "jnp.uint64",
             "f16": "jnp.float16", "f32": "jnp.float32", "f64": "jnp.float64"}


def _tensor(t, what="operand") -> TensorType:
    if not isinstance(t, TensorType):
        raise ShapeError(f"{what} must be an array, got {t}")
    return t


def _same(*types: TensorType) -> TensorType:
    first = _tensor(types[0])
    for t in types[1:]:
        if _tensor(t).shape != first.shape:
            raise ShapeError(f"shapes {first.shape} and {t.shape} differ")
        if t.dtype != first.dtype:
            raise ShapeError(f"dtypes {first.dtype} and {t.dtype} differ")
    return first


def _numeric(t: TensorType, what: str):
    if t.dtype in ("bool", "key"):
        raise ShapeError(f"{what} needs a numeric operand, got {t}")


def _floating(t: TensorType, what: str):
    if not is_float(t.dtype):
        raise ShapeError(f"{what} needs a floating-point operand, got {t}")


def _axis_ok(axis: int, rank: int):
    if not 0 <= axis < rank:
        raise ShapeError(f"axis {axis} out of range for rank {rank}")


# --- constants and tuples -------------------------------------------------------------------

def _emit_constant(_, attrs):
    value, dtype, shape = attrs["value"], attrs["dtype"], attrs["shape"]
    jdt = JNP_DTYPE[dtype]
    if isinstance(value, np.ndarray):
        return f"jnp.asarray({value.tolist()!r}, {jdt})"
    lit = _py_literal(value)
    return f"{jdt}({lit})" if shape == () else f"jnp.full({shape!r}, {lit}, {jdt})"


def _py_literal(v) -> str:
    if isinstance(v, float) and not np.isfinite(v):
        return "jnp.nan" if v != v else ("jnp.inf" if v > 0 else "-jnp.inf")
    return repr(v)


# A constant's value is a scalar (splat over `shape`) or a dense ndarray; shape and dtype
# are attributes so that the emitter sees them; the printer writes them as the result type.
declare("constant", lambda value, shape, dtype: [TensorType(tuple(shape), dtype)], jax=_emit_constant)
declare("tuple_get", lambda t, index: [t.elements[index]], jax="{0}[{index}]")


# --- elementwise -----------------------------------------------------------------------------

def _unary_rule(kind):
    def infer(x):
        x = _tensor(x)
        if kind == "float":
            _floating(x, "this function")
        elif kind == "numeric":
            _numeric(x, "this function")
        elif kind == "integral":
            if not (is_int(x.dtype) or x.dtype == "bool"):
                raise ShapeError(f"bitwise not needs an integer or bool operand, got {x}")
        return [x]
    return infer


UNARY = {
    # name: (kind, jax template, numpy fold)
    "neg": ("numeric", "-{0}", np.negative),
    "abs": ("numeric", "jnp.abs({0})", np.abs),
    "sign": ("numeric", "jnp.sign({0})", np.sign),
    "floor": ("float", "jnp.floor({0})", np.floor),
    "ceil": ("float", "jnp.ceil({0})", np.ceil),
    "round": ("float", "jnp.round({0})", np.round),
    "exp": ("float", "jnp.exp({0})", np.exp),
    "expm1": ("float", "jnp.expm1({0})", np.expm1),
    "log": ("float", "jnp.log({0})", np.log),
    "log1p": ("float", "jnp.log1p({0})", np.log1p),
    "sqrt": ("float", "jnp.sqrt({0})", np.sqrt),
    "rsqrt": ("float", "lax.rsqrt({0})", lambda x: 1 / np.sqrt(x)),
    "sin": ("float", "jnp.sin({0})", np.sin),
    "cos": ("float", "jnp.cos({0})", np.cos),
    "tan": ("float", "jnp.tan({0})", np.tan),
    "asin": ("float", "jnp.arcsin({0})", np.arcsin),
    "acos": ("float", "jnp.arccos({0})", np.arccos),
    "atan": ("float", "jnp.arctan({0})", np.arctan),
    "sinh": ("float", "jnp.sinh({0})", np.sinh),
    "cosh": ("float", "jnp.cosh({0})", np.cosh),
    "tanh": ("float", "jnp.tanh({0})", np.tanh),
    "asinh": ("float", "jnp.arcsinh({0})", np.arcsinh),
    "acosh": ("float", "jnp.arccosh({0})", np.arccosh),
    "atanh": ("float", "jnp.arctanh({0})", np.arctanh),
    "logistic": ("float", "lax.logistic({0})", None),
    "lgamma": ("float", "lax.lgamma({0})", None),
    "digamma": ("float", "lax.digamma({0})", None),
    "erf": ("float", "lax.erf({0})", None),
    "erf_inv": ("float", "lax.erf_inv({0})", None),
    "not": ("integral", "~{0}", np.invert),
}
for _name, (_kind, _jax, _fold) in UNARY.items():
    declare(_name, _unary_rule(_kind), jax=_jax, fold=_fold)


def _is_finite(x):
    _floating(_tensor(x), "isfinite")
    return [x.with_dtype("bool")]


declare("is_finite", _is_finite, jax="jnp.isfinite({0})", fold=np.isfinite)


def _binary_rule(kind):
    def infer(x, y):
        t = _same(x, y)
        if kind == "float":
            _floating(t, "this operation")
        elif kind == "numeric":
            _numeric(t, "this operation")
        elif kind == "integral" and not (is_int(t.dtype) or t.dtype == "bool"):
            raise ShapeError(f"bitwise operations need integer or bool operands, got {t}")
        elif kind == "int":
            if not is_int(t.dtype):
                raise ShapeError(f"shifts need integer operands, got {t}")
        return [t.with_dtype("bool")] if kind == "compare" else [t]
    return infer


BINARY = {
    "add": ("numeric", "{0} + {1}", np.add),
    "sub": ("numeric", "{0} - {1}", np.subtract),
    "mul": ("numeric", "{0} * {1}", np.multiply),
    "div": ("numeric", "{0} / {1}", None),  # float division; ints use floordiv
    "floordiv": ("numeric", "jnp.floor_divide({0}, {1})", None),
    "mod": ("numeric", "jnp.remainder({0}, {1})", None),  # Python's sign convention
    "pow": ("numeric", "jnp.power({0}, {1})", None),
    "max": ("numeric", "jnp.maximum({0}, {1})", np.maximum),
    "min": ("numeric", "jnp.minimum({0}, {1})", np.minimum),
    "atan2": ("float", "jnp.arctan2({0}, {1})", np.arctan2),
    "logaddexp": ("float", "jnp.logaddexp({0}, {1})", np.logaddexp),
    "and": ("integral", "{0} & {1}", np.bitwise_and),
    "or": ("integral", "{0} | {1}", np.bitwise_or),
    "xor": ("integral", "{0} ^ {1}", np.bitwise_xor),
    "shift_left": ("int", "jnp.left_shift({0}, {1})", None),
    "shift_right": ("int", "jnp.right_shift({0}, {1})", None),
    "eq": ("compare", "{0} == {1}", np.equal),
    "ne": ("compare", "{0} != {1}", np.not_equal),
    "lt": ("compare", "{0} < {1}", np.less),
    "le": ("compare", "{0} <= {1}", np.less_equal),
    "gt": ("compare", "{0} > {1}", np.greater),
    "ge": ("compare", "{0} >= {1}", np.greater_equal),
}
for _name, (_kind, _jax, _fold) in BINARY.items():
    declare(_name, _binary_rule(_kind), jax=_jax, fold=_fold)


def _select(pred, on_true, on_false):
    t = _same(on_true, on_false)
    if _tensor(pred).dtype != "bool" or pred.shape != t.shape:
        raise ShapeError(f"select needs a bool[{','.join(map(str, t.shape))}] predicate, got {pred}")
    return [t]


declare("select", _select, jax="jnp.where({0}, {1}, {2})", fold=np.where)


def _convert(x, dtype):
    numpy_dtype(dtype)  # rejects key
    if _tensor(x).dtype == "key":
        raise ShapeError("PRNG keys cannot be converted to numbers")
    return [x.with_dtype(dtype)]


declare("convert", _convert, jax=lambda a, at: f"{a[0]}.astype({JNP_DTYPE[at['dtype']]})",
        fold=lambda x, dtype: x.astype(numpy_dtype(dtype)))


# --- shapes ----------------------------------------------------------------------------------

def _broadcast_in_dim(x, shape, dims):
    x = _tensor(x)
    if len(dims) != x.rank or any(not 0 <= d < len(shape) for d in dims) or list(dims) != sorted(set(dims)):
        raise ShapeError(f"cannot broadcast {x} with dims {dims} into shape {shape}")
    for d, n in zip(dims, x.shape):
        if n not in (1, shape[d]):
            raise ShapeError(f"cannot broadcast {x} to shape {tuple(shape)}")
    return [x.with_shape(shape)]


def _fold_broadcast(x, shape, dims):
    expanded = x.reshape([x.shape[dims.index(i)] if i in dims else 1 for i in range(len(shape))])
    return np.broadcast_to(expanded, shape)


declare("broadcast_in_dim", _broadcast_in_dim,
        jax="lax.broadcast_in_dim({0}, {shape}, {dims})", fold=_fold_broadcast)


def _reshape(x, shape):
    x = _tensor(x)
    if int(np.prod(shape, dtype=np.int64)) != x.size:
        raise ShapeError(f"cannot reshape {x} ({x.size} elements) into shape {tuple(shape)}")
    return [x.with_shape(shape)]


declare("reshape", _reshape, jax="jnp.reshape({0}, {shape})",
        fold=lambda x, shape: np.reshape(x, shape))


def _transpose(x, perm):
    x = _tensor(x)
    if sorted(perm) != list(range(x.rank)):
        raise ShapeError(f"{perm} is not a permutation of the axes of {x}")
    return [x.with_shape(tuple(x.shape[p] for p in perm))]


declare("transpose", _transpose, jax="jnp.transpose({0}, {perm})",
        fold=lambda x, perm: np.transpose(x, perm))


def _slice(x, start, limit, stride):
    x = _tensor(x)
    if not len(start) == len(limit) == len(stride) == x.rank:
        raise ShapeError(f"slice of {x} needs {x.rank} bounds")
    out = []
    for lo, hi, st, n in zip(start, limit, stride, x.shape):
        if not (0 <= lo <= hi <= n and st >= 1):
            raise ShapeError(f"slice [{lo}:{hi}:{st}] out of bounds for axis of size {n}")
        out.append(max(0, -(-(hi - lo) // st)))
    return [x.with_shape(out)]


declare("slice", _slice, jax="lax.slice({0}, {start}, {limit}, {stride})",
        fold=lambda x, start, limit, stride: x[tuple(slice(a, b, s) for a, b, s in zip(start, limit, stride))])


def _index_operands(x, idx, what):
    if len(idx) != x.rank:
        raise ShapeError(f"{what} of {x} needs {x.rank} start indices, got {len(idx)}")
    for i in idx:
        if _tensor(i).shape != () or not is_int(i.dtype):
            raise ShapeError(f"{what} start indices must be integer scalars, got {i}")


def _dynamic_slice(x, *idx, sizes):
    x = _tensor(x)
    _index_operands(x, idx, "dynamic_slice")
    if len(sizes) != x.rank or any(not 0 <= s <= n for s, n in zip(sizes, x.shape)):
        raise ShapeError(f"slice sizes {sizes} do not fit {x}")
    return [x.with_shape(sizes)]


declare("dynamic_slice", _dynamic_slice,
        jax=lambda a, at: f"lax.dynamic_slice({a[0]}, ({', '.join(a[1:])}{',' if len(a) == 2 else ''}), {at['sizes']})")


def _dynamic_update_slice(x, update, *idx):
    x, update = _tensor(x), _tensor(update)
    _index_operands(x, idx, "dynamic_update_slice")
    if update.dtype != x.dtype or update.rank != x.rank or any(u > n for u, n in zip(update.shape, x.shape)):
        raise ShapeError(f"cannot write {update} into {x}")
    return [x]


declare("dynamic_update_slice", _dynamic_update_slice,
        jax=lambda a, at: f"lax.dynamic_update_slice({a[0]}, {a[1]}, ({', '.join(a[2:])}{',' if len(a) == 3 else ''}))")


def _rev(x, axes):
    x = _tensor(x)
    for a in axes:
        _axis_ok(a, x.rank)
    return [x]


declare("rev", _rev, jax="jnp.flip({0}, {axes})", fold=lambda x, axes: np.flip(x, axes))


def _concatenate(*xs, axis):
    xs = [_tensor(x) for x in xs]
    if not xs:
        raise ShapeError("concatenate needs at least one array")
    first = xs[0]
    _axis_ok(axis, first.rank)
    for x in xs[1:]:
        if x.dtype != first.dtype or x.rank != first.rank or any(
                a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis):
            raise ShapeError(f"cannot concatenate {first} and {x} along axis {axis}")
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return [first.with_shape(shape)]


declare("concatenate", _concatenate, jax="jnp.concatenate([{args}], axis={axis})",
        fold=lambda *xs, axis: np.concatenate(xs, axis=axis))


def _iota(shape, dimension, dtype):
    _axis_ok(dimension, len(shape))
    return [TensorType(tuple(shape), dtype)]


declare("iota", _iota,
        jax=lambda a, at: f"lax.broadcasted_iota({JNP_DTYPE[at['dtype']]}, {at['shape']}, {at['dimension']})",
        fold=lambda shape, dimension, dtype: np.broadcast_to(
            np.arange(shape[dimension], dtype=numpy_dtype(dtype)).reshape(
                [-1 if i == dimension else 1 for i in range(len(shape))]), shape))


# --- contractions and reductions -------------------------------------------------------------

def _dot_general(x, y, contract, batch):
    x, y = _tensor(x), _tensor(y)
    _numeric(x, "dot_general")
    if x.dtype != y.dtype:
        raise ShapeError(f"dot_general operands {x} and {y} differ in dtype")
    (xc, yc), (xb, yb) = contract, batch
    if len(xc) != len(yc) or len(xb) != len(yb):
        raise ShapeError("dot_general dimension lists differ in length")
    for a, b in list(zip(xc, yc)) + list(zip(xb, yb)):
        _axis_ok(a, x.rank)
        _axis_ok(b, y.rank)
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


declare("dot_general", _dot_general,
        jax="lax.dot_general({0}, {1}, ({contract}, {batch}))", fold=_fold_dot)


def _reduce_rule(kind):
    def infer(x, axes):
        x = _tensor(x)
        for a in axes:
            _axis_ok(a, x.rank)
        if len(set(axes)) != len(axes):
            raise ShapeError(f"repeated axis in {axes}")
        if kind == "numeric":
            _numeric(x, "this reduction")
        elif kind == "bool" and x.dtype != "bool":
            raise ShapeError(f"any/all reductions here need bool operands, got {x}")
        return [x.with_shape([d for i, d in enumerate(x.shape) if i not in axes])]
    return infer


REDUCE = {
    "reduce_sum": ("numeric", "jnp.sum({0}, axis={axes})", np.sum),
    "reduce_prod": ("numeric", "jnp.prod({0}, axis={axes})", np.prod),
    "reduce_max": ("numeric", "jnp.max({0}, axis={axes})", np.max),
    "reduce_min": ("numeric", "jnp.min({0}, axis={axes})", np.min),
    "reduce_and": ("bool", "jnp.all({0}, axis={axes})", np.all),
    "reduce_or": ("bool", "jnp.any({0}, axis={axes})", np.any),
}
for _name, (_kind, _jax, _np) in REDUCE.items():
    declare(_name, _reduce_rule(_kind), jax=_jax,
            fold=(lambda f: lambda x, axes: np.asarray(f(x, axis=tuple(axes))).astype(x.dtype))(_np))


def _arg_rule(x, axis, index_dtype):
    x = _tensor(x)
    _numeric(x, "argmax/argmin")
    _axis_ok(axis, x.rank)
    return [TensorType(tuple(d for i, d in enumerate(x.shape) if i != axis), index_dtype)]


for _name, _f in (("argmax", "jnp.argmax"), ("argmin", "jnp.argmin")):
    declare(_name, _arg_rule,
            jax=(lambda f: lambda a, at: f"{f}({a[0]}, axis={at['axis']}).astype({JNP_DTYPE[at['index_dtype']]})")(_f))


def _cumulative(x, axis, reverse):
    x = _tensor(x)
    _numeric(x, "cumsum")
    _axis_ok(axis, x.rank)
    return [x]


declare("cumsum", _cumulative, jax="lax.cumsum({0}, axis={axis}, reverse={reverse})")


# --- control flow ----------------------------------------------------------------------------
# Results of if/while/call are fixed by their regions or callee; verifier.py checks them.

declare("if", None, regions=("then", "else"), tuple_result=True,
        jax="lax.cond({0}, {then}, {else})")
# A while with a static `trip_count` (from `for i in range(...)`) runs its body exactly that
# many times; its cond region still states the test, so the attribute is only a promise.
declare("while", None, regions=("cond", "body"), tuple_result=True, jax=lambda a, at: (
    f"lax.fori_loop(0, {at['trip_count']}, lambda _, c: {at['body']}(*c), ({', '.join(a)},))"
    if at.get("trip_count") is not None else
    f"lax.while_loop(lambda c: {at['cond']}(*c)[0], lambda c: {at['body']}(*c), ({', '.join(a)},))"))
declare("call", None, tuple_result=True, jax="{callee}({args})")
declare("yield", None, terminator=True)
declare("return", None, terminator=True)
