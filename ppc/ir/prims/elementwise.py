"""Elementwise primitives: shape rule, JAX emission, NumPy fold, JVP and transpose rules.

JVP rules see the primal operands, their tangents (None for a symbolic zero) and a
context `cx` (see `registry.Primitive`); they return the primal results (`cx.primal()`)
and one tangent per result. Transpose rules exist only for the primitives that are
linear in some operand.
"""
from __future__ import annotations

import math

import numpy as np

from ..registry import ShapeError, declare
from ..types import is_int, numpy_dtype
from . import batching, costs, tiling
from .common import JNP_DTYPE, TF_DTYPE, floating, numeric, same, tensor


def _unary_rule(kind):
    def infer(x):
        x = tensor(x)
        if kind == "float":
            floating(x, "this function")
        elif kind == "numeric":
            numeric(x, "this function")
        elif kind == "integral":
            if not (is_int(x.dtype) or x.dtype == "bool"):
                raise ShapeError(f"bitwise not needs an integer or bool operand, got {x}")
        return [x]
    return infer


def _tangent(fn):
    """A unary JVP rule from `fn(cx, t, x, out) -> tangent`."""
    def rule(cx, primals, tangents, **attrs):
        (out,) = cx.primal()
        t = tangents[0]
        return [out], [None if t is None else fn(cx, t, primals[0], out)]
    return rule


def _no_tangent(cx, primals, tangents, **attrs):
    """Piecewise-constant or non-float results: the derivative is zero (JAX's convention)."""
    return cx.primal(), [None] * len(cx.out_types)


def _linear_jvp(cx, primals, tangents, **attrs):
    """For primitives linear in every operand: the tangent is the op on the tangents."""
    outs = cx.primal()
    if all(t is None for t in tangents):
        return outs, [None]
    ts = [cx.zeros(ty) if t is None else t for t, ty in zip(tangents, cx.in_types)]
    return outs, [cx.op(cx.prim, ts, **attrs)]


def _sq(cx, v):
    return cx.mul(v, v)


def _one_minus(cx, v):
    return cx.sub(cx.full(1.0, v.type), v)


def _one_plus(cx, v):
    return cx.add(cx.full(1.0, v.type), v)


def _tf_by_dtype(template, unsigned=None, bool_=None):
    """A TF template that differs where TF has no kernel for the operands' dtype (tf.negative,
    tf.abs and tf.sign take no unsigned integers, the ordered comparisons no bools): the
    emitter gives callable templates their operand types."""
    def emit(a, at):
        dt = at["operand_types"][0].dtype
        special = bool_ if dt == "bool" else unsigned if dt.startswith("u") else None
        return (special or template).format(*a)
    return emit


UNARY = {
    # name: (kind, jax template, tf template, numpy fold, jvp rule)
    "abs": ("numeric", "jnp.abs({0})", _tf_by_dtype("tf.abs({0})", unsigned="{0}"), np.abs,
            # (as JAX's: the slope at 0 is +1)
            _tangent(lambda cx, t, x, out: cx.op("select", [cx.op("ge", [x, cx.zeros(x.type)]), t, cx.neg(t)]))),
    "sign": ("numeric", "jnp.sign({0})", _tf_by_dtype("tf.sign({0})", unsigned="tf.cast(tf.not_equal({0}, 0), {0}.dtype)"),
             np.sign, _no_tangent),
    "floor": ("float", "jnp.floor({0})", "tf.floor({0})", np.floor, _no_tangent),
    "ceil": ("float", "jnp.ceil({0})", "tf.math.ceil({0})", np.ceil, _no_tangent),
    "round": ("float", "jnp.round({0})", "tf.round({0})", np.round, _no_tangent),
    "exp": ("float", "jnp.exp({0})", "tf.exp({0})", np.exp, _tangent(lambda cx, t, x, out: cx.mul(t, out))),
    "expm1": ("float", "jnp.expm1({0})", "tf.math.expm1({0})", np.expm1,
            _tangent(lambda cx, t, x, out: cx.mul(t, _one_plus(cx, out)))),
    "log": ("float", "jnp.log({0})", "tf.math.log({0})", np.log, _tangent(lambda cx, t, x, out: cx.div(t, x))),
    "log1p": ("float", "jnp.log1p({0})", "tf.math.log1p({0})", np.log1p,
            _tangent(lambda cx, t, x, out: cx.div(t, _one_plus(cx, x)))),
    "sqrt": ("float", "jnp.sqrt({0})", "tf.sqrt({0})", np.sqrt,
             _tangent(lambda cx, t, x, out: cx.div(t, cx.mul(cx.full(2.0, out.type), out)))),
    "rsqrt": ("float", "lax.rsqrt({0})", "tf.math.rsqrt({0})", lambda x: 1 / np.sqrt(x),
              _tangent(lambda cx, t, x, out: cx.mul(t, cx.div(cx.mul(cx.full(-0.5, out.type), out), x)))),
    "sin": ("float", "jnp.sin({0})", "tf.sin({0})", np.sin,
            _tangent(lambda cx, t, x, out: cx.mul(t, cx.op("cos", [x])))),
    "cos": ("float", "jnp.cos({0})", "tf.cos({0})", np.cos,
            _tangent(lambda cx, t, x, out: cx.neg(cx.mul(t, cx.op("sin", [x]))))),
    "tan": ("float", "jnp.tan({0})", "tf.tan({0})", np.tan,
            _tangent(lambda cx, t, x, out: cx.mul(t, _one_plus(cx, _sq(cx, out))))),
    "asin": ("float", "jnp.arcsin({0})", "tf.asin({0})", np.arcsin,
             _tangent(lambda cx, t, x, out: cx.div(t, cx.op("sqrt", [_one_minus(cx, _sq(cx, x))])))),
    "acos": ("float", "jnp.arccos({0})", "tf.acos({0})", np.arccos,
             _tangent(lambda cx, t, x, out: cx.neg(cx.div(t, cx.op("sqrt", [_one_minus(cx, _sq(cx, x))]))))),
    "atan": ("float", "jnp.arctan({0})", "tf.atan({0})", np.arctan,
            _tangent(lambda cx, t, x, out: cx.div(t, _one_plus(cx, _sq(cx, x))))),
    "sinh": ("float", "jnp.sinh({0})", "tf.sinh({0})", np.sinh,
            _tangent(lambda cx, t, x, out: cx.mul(t, cx.op("cosh", [x])))),
    "cosh": ("float", "jnp.cosh({0})", "tf.cosh({0})", np.cosh,
            _tangent(lambda cx, t, x, out: cx.mul(t, cx.op("sinh", [x])))),
    "tanh": ("float", "jnp.tanh({0})", "tf.tanh({0})", np.tanh,
            _tangent(lambda cx, t, x, out: cx.mul(t, _one_minus(cx, _sq(cx, out))))),
    "asinh": ("float", "jnp.arcsinh({0})", "tf.asinh({0})", np.arcsinh,
              _tangent(lambda cx, t, x, out: cx.div(t, cx.op("sqrt", [_one_plus(cx, _sq(cx, x))])))),
    "acosh": ("float", "jnp.arccosh({0})", "tf.acosh({0})", np.arccosh,
              _tangent(lambda cx, t, x, out: cx.div(t, cx.op("sqrt", [cx.sub(_sq(cx, x), cx.full(1.0, x.type))])))),
    "atanh": ("float", "jnp.arctanh({0})", "tf.atanh({0})", np.arctanh,
            _tangent(lambda cx, t, x, out: cx.div(t, _one_minus(cx, _sq(cx, x))))),
    "logistic": ("float", "lax.logistic({0})", "tf.sigmoid({0})", None,
                 _tangent(lambda cx, t, x, out: cx.mul(t, cx.mul(out, _one_minus(cx, out))))),
    # logaddexp(0, x), which canonicalize rewrites to it: exact for every x without the select
    # jnp.logaddexp needs for equal infinities, a select that kept XLA CPU's fused loop from
    # vectorizing (a batched logistic-regression gradient: 41 ms with it, 16 ms without)
    "softplus": ("float", "jnp.maximum({0}, 0.0) + jnp.log1p(jnp.exp(-jnp.abs({0})))",
                 "tf.maximum({0}, 0.0) + tf.math.log1p(tf.exp(-tf.abs({0})))", lambda x: np.logaddexp(0.0, x),
                 _tangent(lambda cx, t, x, out: cx.mul(t, cx.op("logistic", [x])))),
    "lgamma": ("float", "lax.lgamma({0})", "tf.math.lgamma({0})", None,
            _tangent(lambda cx, t, x, out: cx.mul(t, cx.op("digamma", [x])))),
    "digamma": ("float", "lax.digamma({0})", "tf.math.digamma({0})", None,
                _tangent(lambda cx, t, x, out: cx.mul(t, cx.op("polygamma", [x], m=1)))),
    "erf": ("float", "lax.erf({0})", "tf.math.erf({0})", None, _tangent(lambda cx, t, x, out: cx.mul(
        t, cx.mul(cx.full(2.0 / math.sqrt(math.pi), x.type), cx.op("exp", [cx.neg(_sq(cx, x))]))))),
    "erfc": ("float", "lax.erfc({0})", "tf.math.erfc({0})", None, _tangent(lambda cx, t, x, out: cx.mul(
        t, cx.mul(cx.full(-2.0 / math.sqrt(math.pi), x.type), cx.op("exp", [cx.neg(_sq(cx, x))]))))),
    "erf_inv": ("float", "lax.erf_inv({0})", "tf.math.erfinv({0})", None, _tangent(lambda cx, t, x, out: cx.mul(
        t, cx.mul(cx.full(math.sqrt(math.pi) / 2.0, x.type), cx.op("exp", [_sq(cx, out)]))))),
    "not": ("integral", "~{0}", "~{0}", np.invert, _no_tangent),
}
# (flops, transcendentals) per result element as XLA counts JAX's lowering on CPU (f32;
# integer ops on i32); unlisted elementwise primitives cost one flop per element.
# tests/test_simulator.py re-measures every entry.
XLA_COST = {
    **{p: (0, 1) for p in ("exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tan", "atan",
                           "tanh", "erf", "pow", "atan2")},
    "asin": (5, 2), "acos": (3, 2), "sinh": (10, 3), "cosh": (3, 2), "asinh": (11, 3), "acosh": (7, 4),
    "atanh": (6, 2), "logistic": (3, 1), "softplus": (4, 2), "lgamma": (52, 4), "digamma": (73, 3),
    "erf_inv": (37, 2), "erfc": (60, 1), "floordiv": (13, 0), "mod": (8, 0), "logaddexp": (8, 2),
}


for _name, (_kind, _jax, _tf, _fold, _jvp) in UNARY.items():
    declare(_name, _unary_rule(_kind), jax=_jax, tf=_tf, fold=_fold, jvp=_jvp, batch=batching.elementwise, tile=tiling.elementwise,
            cost=costs.per_element(*XLA_COST.get(_name, (1, 0))))


def _polygamma(x, m):
    if not isinstance(m, int) or isinstance(m, bool) or m < 0:
        raise ShapeError(f"polygamma needs a nonnegative int order m, got {m!r}")
    return _unary_rule("float")(x)


declare("polygamma", _polygamma, jax="lax.polygamma(jnp.full_like({0}, {m}), {0})",
        tf="tf.math.polygamma(tf.constant({m}, {0}.dtype), {0})",
        jvp=lambda cx, primals, tangents, m: (lambda out: (out, [None if tangents[0] is None else cx.mul(
            tangents[0], cx.op("polygamma", [primals[0]], m=m + 1))]))(cx.primal()), batch=batching.elementwise,
        tile=tiling.elementwise, cost=costs.estimated(costs.per_element(*XLA_COST["digamma"])))


def _is_finite(x):
    floating(tensor(x), "isfinite")
    return [x.with_dtype("bool")]


declare("is_finite", _is_finite, jax="jnp.isfinite({0})", tf="tf.math.is_finite({0})", fold=np.isfinite,
        jvp=_no_tangent, batch=batching.elementwise, tile=tiling.elementwise, cost=costs.per_element(1, 0))


# Identity whose derivative is zero: for shifts that cancel mathematically (logsumexp's max).
declare("stop_gradient", _unary_rule("any"), jax="lax.stop_gradient({0})", tf="tf.stop_gradient({0})",
        fold=lambda x: x, jvp=_no_tangent, batch=batching.elementwise, tile=tiling.elementwise,
        cost=costs.per_element(0, 0))


def _neg_t(cx, cts, operands, linear, **attrs):
    return [cx.neg(cts[0])]


declare("neg", _unary_rule("numeric"), jax="-{0}", tf=_tf_by_dtype("-{0}", unsigned="tf.zeros_like({0}) - {0}"), fold=np.negative, jvp=_linear_jvp, transpose=_neg_t,
        batch=batching.elementwise, tile=tiling.elementwise, cost=costs.per_element(1, 0))


def _binary_rule(kind):
    def infer(x, y):
        t = same(x, y)
        if kind == "float":
            floating(t, "this operation")
        elif kind == "numeric":
            numeric(t, "this operation")
        elif kind == "integral" and not (is_int(t.dtype) or t.dtype == "bool"):
            raise ShapeError(f"bitwise operations need integer or bool operands, got {t}")
        elif kind == "int" and not is_int(t.dtype):
            raise ShapeError(f"shifts need integer operands, got {t}")
        return [t.with_dtype("bool")] if kind == "compare" else [t]
    return infer


def _binary(fn):
    """A binary JVP rule from `fn(cx, tx, ty, x, y, out) -> tangent` (tx, ty may be None)."""
    def rule(cx, primals, tangents, **attrs):
        (out,) = cx.primal()
        tx, ty = tangents
        if tx is None and ty is None:
            return [out], [None]
        return [out], [fn(cx, tx, ty, primals[0], primals[1], out)]
    return rule


def _pow_jvp(cx, tx, ty, x, y, out):
    zero = cx.full(0.0, x.type)
    one = cx.full(1.0, x.type)
    dx = None
    if tx is not None:  # y * x**(y-1), zero where y == 0 (so 0**0 has derivative 0)
        dx = cx.mul(tx, cx.op("select", [cx.op("eq", [y, zero]), zero,
                                         cx.mul(y, cx.op("pow", [x, cx.sub(y, one)]))]))
    dy = None
    if ty is not None:  # log(x) * out, with log(0) replaced by log(1)
        safe_x = cx.op("select", [cx.op("eq", [x, zero]), one, x])
        dy = cx.mul(ty, cx.mul(cx.op("log", [safe_x]), out))
    return cx.add(dx, dy)


def _extremum(cmp, anti):
    """max/min: the tangent of the chosen operand; ties split evenly, as JAX does."""
    def fn(cx, tx, ty, x, y, out):
        tx = cx.zeros(x.type) if tx is None else tx
        ty = cx.zeros(y.type) if ty is None else ty
        half = cx.mul(cx.add(tx, ty), cx.full(0.5, x.type))
        return cx.op("select", [cx.op(cmp, [x, y]), tx, cx.op("select", [cx.op(anti, [x, y]), ty, half])])
    return fn


def _add_t(cx, cts, operands, linear, **attrs):
    ct = cts[0]
    return [ct if linear[0] else None, ct if linear[1] else None]


def _sub_t(cx, cts, operands, linear, **attrs):
    ct = cts[0]
    return [ct if linear[0] else None, cx.neg(ct) if linear[1] else None]


def _mul_t(cx, cts, operands, linear, **attrs):
    ct = cts[0]
    if linear[0] and linear[1]:
        raise ValueError("mul of two linear values is not linear")
    return [cx.mul(ct, operands[1]) if linear[0] else None, cx.mul(operands[0], ct) if linear[1] else None]


def _div_t(cx, cts, operands, linear, **attrs):
    if linear[1]:
        raise ValueError("div is linear only in its numerator")
    return [cx.div(cts[0], operands[1]), None]


def _tf_floordiv(a, at):
    """jnp.floor_divide: on floats JAX's (and CPython's) divmod, (x - fmod(x, y)) / y rounded,
    one less where fmod's sign differs from y's (so inf // 2 is nan and 3.7 // -inf is -1,
    where TF's floor(x / y) gives inf and -0); integers keep ppc_tf.floordiv."""
    x, y = a
    rem = f"tf.truncatemod({x}, {y})"
    below = f"tf.cast(tf.not_equal({rem}, 0) & tf.not_equal(tf.sign({y}), tf.sign({rem})), {x}.dtype)"
    return (f"tf.round(tf.where(tf.equal({y}, 0), {x}, {x} - {rem}) / {y} - {below}) if {x}.dtype.is_floating "
            f"else ppc_tf.floordiv({x}, {y})")


# maximum / minimum as XLA defines them (and JAX gives): a NaN in either operand gives NaN.
# TF's tf.maximum/minimum drop a NaN second operand (TF compiles XLA's fast min/max), so these
# select y where it wins or is NaN, else x (a NaN x included); on integers y != y is false.
# max/min as XLA defines them (NaN wins; the sign of a zero as IEEE 754-2019): backends/tf/runtime.py
_TF_MAX = "ppc_tf.maximum({0}, {1})"
_TF_MIN = "ppc_tf.minimum({0}, {1})"
# TF orders no bools: compare them as 0/1 integers, as NumPy and XLA order them
_TF_BOOL_CMP = "tf.{}(tf.cast({{0}}, tf.int8), tf.cast({{1}}, tf.int8))"


BINARY = {
    # name: (kind, jax template, tf template, numpy fold, jvp rule, transpose rule)
    "add": ("numeric", "{0} + {1}", "{0} + {1}", np.add, _binary(lambda cx, tx, ty, x, y, out: cx.add(tx, ty)), _add_t),
    "sub": ("numeric", "{0} - {1}", "{0} - {1}", np.subtract,
            _binary(lambda cx, tx, ty, x, y, out: cx.sub(tx, ty)), _sub_t),
    "mul": ("numeric", "{0} * {1}", "{0} * {1}", np.multiply,
            _binary(lambda cx, tx, ty, x, y, out: cx.add(cx.mul(tx, y), cx.mul(x, ty))), _mul_t),
    # float division (integers use floordiv)
    "div": ("numeric", "{0} / {1}", "{0} / {1}", None,
            _binary(lambda cx, tx, ty, x, y, out: cx.div(cx.sub(tx, cx.mul(ty, out)), y)), _div_t),
    "floordiv": ("numeric", "jnp.floor_divide({0}, {1})", _tf_floordiv, None, _no_tangent, None),
    # Python's sign convention; d/dy (x mod y) = -floor(x / y)
    "mod": ("numeric", "jnp.remainder({0}, {1})", "ppc_tf.floormod({0}, {1})", None,
            _binary(lambda cx, tx, ty, x, y, out: cx.sub(
        tx, cx.mul(ty, cx.op("floor", [cx.op("div", [x, y])])))), None),
    "pow": ("numeric", "jnp.power({0}, {1})", "tf.pow({0}, {1})", None, _binary(_pow_jvp), None),
    "max": ("numeric", "jnp.maximum({0}, {1})", _TF_MAX, np.maximum,
            _binary(_extremum("gt", "lt")), None),
    "min": ("numeric", "jnp.minimum({0}, {1})", _TF_MIN, np.minimum,
            _binary(_extremum("lt", "gt")), None),
    "atan2": ("float", "jnp.arctan2({0}, {1})", "tf.atan2({0}, {1})", np.arctan2,
            _binary(lambda cx, tx, ty, x, y, out: cx.div(
        cx.sub(cx.mul(tx, y), cx.mul(ty, x)), cx.add(cx.mul(x, x), cx.mul(y, y)))), None),
    # d/dx = exp(x - out) = logistic(x - y): in a batched logistic-regression gradient the
    # exp form took 30 ms and logistic 15 ms (float64, XLA CPU: `out` is recomputed inside
    # the exp's loop)
    "logaddexp": ("float", "jnp.logaddexp({0}, {1})", "ppc_tf.logaddexp({0}, {1})", np.logaddexp,
                  _binary(lambda cx, tx, ty, x, y, out: cx.add(cx.mul(tx, cx.op("logistic", [cx.sub(x, y)])),
                                                               cx.mul(ty, cx.op("logistic", [cx.sub(y, x)])))), None),
    "and": ("integral", "{0} & {1}", "{0} & {1}", np.bitwise_and, _no_tangent, None),
    "or": ("integral", "{0} | {1}", "{0} | {1}", np.bitwise_or, _no_tangent, None),
    "xor": ("integral", "{0} ^ {1}", "{0} ^ {1}", np.bitwise_xor, _no_tangent, None),
    "shift_left": ("int", "jnp.left_shift({0}, {1})", "tf.bitwise.left_shift({0}, {1})", None, _no_tangent, None),
    "shift_right": ("int", "jnp.right_shift({0}, {1})", "tf.bitwise.right_shift({0}, {1})", None, _no_tangent, None),
    "eq": ("compare", "{0} == {1}", "tf.equal({0}, {1})", np.equal, _no_tangent, None),
    "ne": ("compare", "{0} != {1}", "tf.not_equal({0}, {1})", np.not_equal, _no_tangent, None),
    "lt": ("compare", "{0} < {1}", _tf_by_dtype("tf.less({0}, {1})", bool_=_TF_BOOL_CMP.format("less")), np.less, _no_tangent, None),
    "le": ("compare", "{0} <= {1}", _tf_by_dtype("tf.less_equal({0}, {1})", bool_=_TF_BOOL_CMP.format("less_equal")), np.less_equal, _no_tangent, None),
    "gt": ("compare", "{0} > {1}", _tf_by_dtype("tf.greater({0}, {1})", bool_=_TF_BOOL_CMP.format("greater")), np.greater, _no_tangent, None),
    "ge": ("compare", "{0} >= {1}", _tf_by_dtype("tf.greater_equal({0}, {1})", bool_=_TF_BOOL_CMP.format("greater_equal")), np.greater_equal, _no_tangent, None),
}
for _name, (_kind, _jax, _tf, _fold, _jvp, _transpose) in BINARY.items():
    declare(_name, _binary_rule(_kind), jax=_jax, tf=_tf, fold=_fold, jvp=_jvp, transpose=_transpose,
            batch=batching.elementwise, tile=tiling.elementwise, cost=costs.per_element(*XLA_COST.get(_name, (1, 0))))


def _select(pred, on_true, on_false):
    t = same(on_true, on_false)
    if tensor(pred).dtype != "bool" or pred.shape != t.shape:
        raise ShapeError(f"select needs a bool[{','.join(map(str, t.shape))}] predicate, got {pred}")
    return [t]


def _select_jvp(cx, primals, tangents, **attrs):
    outs = cx.primal()
    _, ta, tb = tangents
    if ta is None and tb is None:
        return outs, [None]
    ty = cx.out_types[0]
    return outs, [cx.op("select", [primals[0], cx.zeros(ty) if ta is None else ta,
                                   cx.zeros(ty) if tb is None else tb])]


def _select_t(cx, cts, operands, linear, **attrs):
    if linear[0]:
        raise ValueError("select is not linear in its predicate")
    ct, pred = cts[0], operands[0]
    if ct is None:
        return [None, None, None]
    zero = cx.zeros(ct.type)
    return [None, cx.op("select", [pred, ct, zero]) if linear[1] else None,
            cx.op("select", [pred, zero, ct]) if linear[2] else None]


declare("select", _select, jax="jnp.where({0}, {1}, {2})", tf="tf.where({0}, {1}, {2})", fold=np.where,
        jvp=_select_jvp, transpose=_select_t, batch=batching.elementwise,
        tile=tiling.elementwise, cost=costs.per_element(1, 0))


def _convert(x, dtype):
    numpy_dtype(dtype)  # rejects key
    if tensor(x).dtype == "key":
        raise ShapeError("PRNG keys cannot be converted to numbers")
    return [x.with_dtype(dtype)]


def _convert_jvp(cx, primals, tangents, dtype):
    outs = cx.primal()
    t = tangents[0]
    if t is None or not dtype.startswith("f"):
        return outs, [None]
    return outs, [cx.op("convert", [t], dtype=dtype)]


def _convert_t(cx, cts, operands, linear, dtype):
    return [None if cts[0] is None else cx.op("convert", [cts[0]], dtype=cx.in_types[0].dtype)]


declare("convert", _convert, jax=lambda a, at: f"{a[0]}.astype({JNP_DTYPE[at['dtype']]})",
        tf=lambda a, at: f"tf.cast({a[0]}, {TF_DTYPE[at['dtype']]})",
        fold=lambda x, dtype: x.astype(numpy_dtype(dtype)), jvp=_convert_jvp, transpose=_convert_t,
        batch=batching.elementwise, tile=tiling.elementwise, cost=costs.per_element(1, 0))

