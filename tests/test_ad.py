"""Automatic differentiation: forward mode against central differences and jax.jvp,
reverse mode against jax.grad, the transpose identity <t, vjp(c)> = <jvp(t), c>,
second order, control flow (including loops jax.grad refuses), and the rule registry."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppc
from ppc.ir import REGISTRY, Builder, CompileError, Function, Module, Op, Region, TensorType, Value, declare
from ppc.passes.ad import jvp_module

import data.ad_programs as P
from programs import PROGRAMS, load, random_args

# --------------------------------------------------------------------------------- registry

LINEAR = {"add", "sub", "neg", "mul", "div", "select", "convert", "broadcast_in_dim", "reshape", "transpose",
          "slice", "pad", "rev", "dynamic_slice", "dynamic_update_slice", "concatenate", "reduce_sum", "cumsum",
          "dot_general", "tuple_get", "make_tuple", "triangular_solve", "if", "while", "take", "scatter_add",
          "scatter", "call"}


def test_every_primitive_has_a_jvp_rule():
    # random variables (effect ops) are rewritten into densities or draws before AD; the
    # program-counter machine's own ops (internal) and the collectives of a partitioned program
    # exist only after every user-level pass: a strategy partitions a program already differentiated
    missing = [n for n, p in REGISTRY.items()
               if not p.terminator and not p.effect and not p.internal and not p.collective and p.jvp is None]
    assert not missing, f"primitives without a JVP rule: {missing}"


def test_linear_primitives_have_transpose_rules():
    missing = [n for n in LINEAR if REGISTRY[n].transpose is None]
    assert not missing, f"linear primitives without a transpose rule: {missing}"
    extra = [n for n, p in REGISTRY.items() if p.transpose is not None and n not in LINEAR]
    assert not extra, f"transpose rules on primitives not listed as linear: {extra}"


def test_missing_rule_names_primitive_and_stage():
    declare("test_nojvp", lambda x: [x], jax="{0}")
    try:
        x = Value(TensorType((), "f32"), "x")
        body = Region([x])
        y = Builder(body).op("test_nojvp", [x])
        body.ops.append(Op("return", [y], {}, []))
        with pytest.raises(CompileError, match="primitive 'test_nojvp' has no jvp rule"):
            jvp_module(Module([Function("f", body, [x.type])]))
    finally:
        del REGISTRY["test_nojvp"]


# --------------------------------------------------------------------- golden programs

def f64(v):
    if isinstance(v, (tuple, list)):
        return type(v)(f64(x) for x in v)
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return v.astype(np.float64)
    return v


def is_float(v):
    if isinstance(v, (tuple, list)):
        return all(is_float(x) for x in v)
    return isinstance(v, float) or (isinstance(v, np.ndarray) and v.dtype.kind == "f")


def random_like(v, rng):
    if isinstance(v, (tuple, list)):
        return type(v)(random_like(x, rng) for x in v)
    if isinstance(v, float):
        return float(rng.normal())
    return rng.normal(size=np.shape(v))


def axpy(a, t, s):
    if isinstance(a, (tuple, list)):
        return type(a)(axpy(x, y, s) for x, y in zip(a, t))
    return a + s * t if is_float(a) else a


def leaves(tree):
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in leaves(t)]
    return [tree]


DIFFERENTIABLE = [n for n in PROGRAMS if any(is_float(a) for a in random_args(load(n)))]
# casts deliberately rounds through float32: its derivatives are exact, but central
# differences at eps=1e-6 drown in float32 rounding, and inner products agree to float32 precision
# windows holds an infinity (to check that batching moves values exactly), where central
# differences are inf - inf
FD_UNSUITABLE = {"casts", "windows"}
IDENTITY_RTOL = {"casts": 1e-6}


def program_and_args(name, backend="jax"):
    mod = load(name)
    args = [f64(a) for a in random_args(mod, 3)]
    return ppc.compile(mod.main, backend=backend), args


@pytest.mark.parametrize("name", [n for n in DIFFERENTIABLE if n not in FD_UNSUITABLE])
def test_jvp_matches_central_differences(name, backend):
    f, args = program_and_args(name, backend)
    rng = np.random.default_rng(0)
    tangents = [random_like(a, rng) if is_float(a) else a for a in args]
    out, tout = ppc.jvp(f, args, tangents)
    compiled = f
    eps = 1e-6
    plus = compiled(*[axpy(a, t, eps) for a, t in zip(args, tangents)])
    minus = compiled(*[axpy(a, t, -eps) for a, t in zip(args, tangents)])
    for got, p, m in zip(leaves(tout), leaves(plus), leaves(minus)):
        if got is None:
            continue
        fd = (np.asarray(p) - np.asarray(m)) / (2 * eps)
        np.testing.assert_allclose(np.asarray(got), fd, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_vjp_is_the_transpose_of_jvp(name, backend):
    f, args = program_and_args(name, backend)
    rng = np.random.default_rng(1)
    tangents = [random_like(a, rng) if is_float(a) else a for a in args]
    out, vjp_fn = ppc.vjp(f, *args)
    _, tout = ppc.jvp(f, args, tangents)
    cts = [rng.normal(size=np.shape(o)) if t is not None else None for o, t in zip(leaves(out), leaves(tout))]
    ct_tree = cts[0] if not isinstance(out, (tuple, list)) else _rebuild(out, iter(cts))
    grads = vjp_fn(ct_tree)
    lhs = sum(np.vdot(np.asarray(g), np.asarray(t)) for gt, tt in zip(grads, tangents) if gt is not None
              for g, t in zip(leaves(gt), leaves(tt)))
    rhs = sum(np.vdot(np.asarray(t), c) for t, c in zip(leaves(tout), cts) if t is not None)
    tol = IDENTITY_RTOL.get(name, 1e-9)
    np.testing.assert_allclose(lhs, rhs, rtol=tol, atol=tol)


def _rebuild(tree, it):
    if isinstance(tree, (tuple, list)):
        return type(tree)(_rebuild(t, it) for t in tree)
    return next(it)


# ---------------------------------------------------------------- reverse mode vs jax.grad

rng = np.random.default_rng(7)
X4 = rng.normal(size=4)
Y4 = rng.normal(size=4)
M4 = rng.normal(size=(4, 4))


@pytest.mark.parametrize("ours,theirs,args,argnums", [
    (P.branchy, P.branchy_jax, (X4,), 0),
    (P.branchy, P.branchy_jax, (-np.abs(X4),), 0),
    (P.static_loop, P.static_loop_jax, (X4, 0.7), (0, 1)),
    (P.mixed_ops, P.mixed_ops_jax, (X4, Y4), (0, 1)),
    (P.quad_form, P.quad_form_jax, (X4, M4), (0, 1)),
], ids=["branch_then", "branch_else", "static_loop", "mixed_ops", "quad_form"])
def test_grad_matches_jax(ours, theirs, args, argnums, backend):
    got = ppc.grad(ppc.compile(ours, backend=backend), argnums=argnums)(*args)
    want = jax.grad(theirs, argnums=argnums)(*args)
    for g, w in zip(leaves(got), leaves(want)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-10, atol=1e-12)


def fd_grad(f, x, eps=1e-6):
    x = np.asarray(x, np.float64)
    out = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        out.flat[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return out


def test_reverse_through_dynamic_range():
    got = ppc.grad(P.dynamic_range)(X4, 5)
    want = jax.grad(P.dynamic_range_jax)(X4, 5)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_reverse_through_break():
    x = np.array([0.5, 1.5, -2.0, 3.0])
    np.testing.assert_allclose(ppc.grad(P.early_exit)(x), [0.75, 6.75, 0.0, 0.0])


def test_reverse_through_data_dependent_while():
    """jax.grad refuses reverse mode through lax.while_loop; ppc records the iterations."""
    for a in (2.0, 9.0, 30.0):
        got = ppc.grad(P.newton_sqrt)(np.float64(a))
        np.testing.assert_allclose(got, 0.5 / np.sqrt(a), rtol=1e-8)


def test_while_loop_past_max_iterations_is_an_error():
    with pytest.raises(ppc.LoopLimitError, match="max_iterations"):
        ppc.grad(P.newton_sqrt, max_iterations=2)(np.float64(1e6))


def test_jax_refuses_what_ppc_does():
    def newton_jax(a):
        return jax.lax.while_loop(lambda x: jnp.abs(x * x - a) > 1e-10, lambda x: 0.5 * (x + a / x), a)
    with pytest.raises(ValueError, match="Reverse-mode differentiation does not work"):
        jax.grad(newton_jax)(2.0)


# ------------------------------------------------------------------ API and composition

def test_value_and_grad_and_has_aux():
    w = np.array([1.0, -2.0])
    (value, aux), g = ppc.value_and_grad(P.with_aux, has_aux=True)(w)
    assert value == 5.0
    np.testing.assert_allclose(aux, 2 * w)
    np.testing.assert_allclose(g, 2 * w)
    g2, aux2 = ppc.grad(P.with_aux, has_aux=True)(w)
    np.testing.assert_allclose(g2, 2 * w)
    v, g3 = ppc.value_and_grad(P.scalar_poly)(np.float64(0.5))
    assert np.isclose(v, P.scalar_poly(0.5))
    assert np.isclose(g3, 4 * 0.125 - 6 * 0.5 + np.cos(0.5))


def test_grad_of_tuple_argument():
    p = (np.array([1.0, 2.0]), np.array([0.5, -1.0]))
    x = np.array([0.3, 0.7])
    got = ppc.grad(P.pair_loss)(p, x)
    want = jax.grad(lambda p, x: jnp.sum((p[0] * x + p[1]) ** 2))(p, x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w)


def test_second_order():
    x = np.float64(0.7)
    d2 = ppc.grad(ppc.grad(P.scalar_poly))(x)
    assert np.isclose(d2, 12 * x ** 2 - 6 - np.sin(x))
    d3 = ppc.grad(ppc.grad(ppc.grad(P.scalar_poly)))(x)
    assert np.isclose(d3, 24 * x - np.cos(x))


def test_hessian_matches_jax():
    got = ppc.hessian(P.quad_form)(X4, M4)
    want = jax.hessian(P.quad_form_jax)(X4, M4)
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_jvp_of_grad():
    t = np.ones(4)
    _, got = ppc.jvp(ppc.grad(P.quad_form), (X4, M4), (t, np.zeros_like(M4)))
    _, want = jax.jvp(lambda x: jax.grad(P.quad_form_jax)(x, M4), (X4,), (t,))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_jvp_matches_jax():
    out, tout = ppc.jvp(P.mixed_ops, (X4, Y4), (Y4, X4))
    want_out, want_t = jax.jvp(P.mixed_ops_jax, (X4, Y4), (Y4, X4))
    np.testing.assert_allclose(out, want_out)
    np.testing.assert_allclose(tout, want_t, rtol=1e-10)


def test_derivatives_through_digamma_and_gammaln():
    # digamma's derivative is polygamma(1, x), whose own derivative is polygamma(2, x)
    import jax.scipy.special as jsp
    from scipy.special import digamma, gammaln
    a = np.array([0.7, 1.5, 2.5, 4.0])
    assert np.isclose(ppc.grad(lambda x: digamma(x))(2.5), jax.grad(jsp.digamma)(2.5), rtol=1e-12)
    out, t = ppc.jvp(lambda x: digamma(x), (a,), (np.ones(4),))
    want_out, want_t = jax.jvp(jsp.digamma, (a,), (jnp.ones(4),))
    np.testing.assert_allclose(out, want_out, rtol=1e-12)
    np.testing.assert_allclose(t, want_t, rtol=1e-12)
    assert np.isclose(ppc.grad(ppc.grad(lambda x: digamma(x)))(2.5),
                      jax.grad(jax.grad(jsp.digamma))(2.5), rtol=1e-10)
    np.testing.assert_allclose(ppc.hessian(lambda x: np.sum(gammaln(x)))(a),
                               jax.hessian(lambda x: jnp.sum(jsp.gammaln(x)))(a), rtol=1e-10)
    np.testing.assert_allclose(ppc.grad(lambda x: np.sum(digamma(x) * x))(a),
                               jax.grad(lambda x: jnp.sum(jsp.digamma(x) * x))(a), rtol=1e-10)


def test_grad_inside_compiled_code():
    import tests_ad_helpers as H
    w = np.array([0.1, -0.2, 0.3])
    x = np.random.default_rng(0).normal(size=(5, 3))
    got = ppc.compile(H.sgd)(w, x)
    want = w
    for _ in range(5):
        want = want - 0.1 * np.asarray(ppc.grad(H.loss)(want, x))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def _tanh_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


def _tanh_loss_jax(w, x):
    return jnp.sum(jnp.tanh(x @ w) ** 2)


_sin_loss = lambda w, x: np.sum(np.sin(x @ w))  # noqa: E731


def test_grad_written_inline_in_compiled_code():
    """ppc.grad(loss) made inside compiled code (not bound at module level first) runs
    on the host at compile time, as do value_and_grad and hessian."""
    w = np.array([0.1, -0.2, 0.3])
    x = np.random.default_rng(1).normal(size=(5, 3))

    def step(w, x):
        return w - 0.1 * ppc.grad(_tanh_loss)(w, x)
    want = w - 0.1 * jax.grad(_tanh_loss_jax)(w, x)
    np.testing.assert_allclose(ppc.compile(step)(w, x), want, rtol=1e-12)
    np.testing.assert_allclose(ppc.compile(lambda w, x: w - 0.1 * ppc.grad(_tanh_loss)(w, x))(w, x), want,
                               rtol=1e-12)
    np.testing.assert_allclose(ppc.compile(lambda w, x: ppc.grad(_sin_loss)(w, x))(w, x),
                               jax.grad(lambda w, x: jnp.sum(jnp.sin(x @ w)))(w, x), rtol=1e-12)

    def both(w, x):
        v, (gw, gx) = ppc.value_and_grad(_tanh_loss, argnums=(0, 1))(w, x)
        return v, gw, gx, ppc.hessian(_tanh_loss)(w, x)
    v, gw, gx, h = ppc.compile(both)(w, x)
    jv, (jgw, jgx) = jax.value_and_grad(_tanh_loss_jax, argnums=(0, 1))(w, x)
    np.testing.assert_allclose(v, jv, rtol=1e-12)
    np.testing.assert_allclose(gw, jgw, rtol=1e-12)
    np.testing.assert_allclose(gx, jgx, rtol=1e-12)
    np.testing.assert_allclose(h, jax.hessian(_tanh_loss_jax)(w, x), rtol=1e-10)

    def grad_norm(w, x):  # second order through an inline grad
        return np.sum(ppc.grad(_tanh_loss)(w, x) ** 2)
    np.testing.assert_allclose(ppc.grad(grad_norm)(w, x),
                               jax.grad(lambda w, x: jnp.sum(jax.grad(_tanh_loss_jax)(w, x) ** 2))(w, x), rtol=1e-10)


def test_transforms_inside_compiled_code_need_static_arguments():
    w, x = np.ones(3), np.ones((2, 3))

    def traced_argnums(w, x):
        return ppc.grad(_tanh_loss, argnums=x.shape[0] - np.int64(2))(w, x)

    def forward(w, x):
        return ppc.jvp(_tanh_loss, (w, x), (w, x))[1]
    with pytest.raises(CompileError, match="ppc.grad inside compiled code needs arguments known at compile time"):
        ppc.compile(traced_argnums)(w, x)
    with pytest.raises(CompileError, match="ppc.jvp is not supported inside compiled code"):
        ppc.compile(forward)(w, x)


def test_linearize_and_linear_transpose():
    out, f_lin = ppc.linearize(P.mixed_ops, X4, Y4)
    _, want = jax.jvp(P.mixed_ops_jax, (X4, Y4), (Y4, X4))
    np.testing.assert_allclose(out, P.mixed_ops(X4, Y4))
    np.testing.assert_allclose(f_lin(Y4, X4), want, rtol=1e-10)
    ct = ppc.linear_transpose(f_lin)(np.float64(1.0))
    g = jax.grad(P.mixed_ops_jax, argnums=(0, 1))(X4, Y4)
    np.testing.assert_allclose(ct[0], g[0], rtol=1e-10)
    np.testing.assert_allclose(ct[1], g[1], rtol=1e-10)


def test_linear_transpose_of_a_python_function():
    x, y = np.arange(3.0), np.ones(3)
    ct_x, ct_y = ppc.linear_transpose(P.linear_fn, x, y)(np.array([1.0, 2.0, 3.0]), np.float64(1.0))
    # <ct, f(t)> = <f^T(ct), t> for a random t
    tx, ty = np.random.default_rng(0).normal(size=(2, 3))
    a, s = P.linear_fn(tx, ty)
    assert np.isclose(np.dot([1.0, 2.0, 3.0], a) + s, np.dot(ct_x, tx) + np.dot(ct_y, ty))


def test_grad_errors():
    with pytest.raises(CompileError, match=r"grad of 'vector_out' needs a function returning a float scalar; "
                                           r"it returns f64\[4\]") as e:
        ppc.grad(P.vector_out)(X4)
    assert e.value.loc is not None and e.value.loc.file == P.__file__  # at its return
    with pytest.raises(CompileError, match="only float arrays"):
        ppc.grad(P.int_arg, argnums=1)(X4, np.int64(2))


def test_float32_gradients():
    x32 = X4.astype(np.float32)
    got = ppc.grad(P.branchy)(x32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, jax.grad(P.branchy_jax)(x32), rtol=2e-3)


def test_hessian_is_a_compiled_program():
    h = ppc.hessian(P.quad_form)
    assert isinstance(h, ppc.Compiled)
    assert "while" in str(h.canonical_ir(X4, M4))  # one loop over basis directions, not a host loop


SCALAR_GOLDEN = ["logistic_regression", "mlp", "nested_loops"]


@pytest.mark.parametrize("name", SCALAR_GOLDEN)
def test_hessian_vector_products_on_golden_programs(name, backend):
    """Second order: jvp(grad f) along v equals central differences of grad f."""
    f, args = program_and_args(name, backend)
    float_pos = [i for i, a in enumerate(args) if is_float(a)]
    g = ppc.grad(f, argnums=tuple(float_pos))
    rng = np.random.default_rng(2)
    v = [random_like(args[i], rng) if i in float_pos else args[i] for i in range(len(args))]
    _, hv = ppc.jvp(g, args, v)
    eps = 1e-5
    plus = g(*[axpy(a, t, eps) if i in float_pos else a for i, (a, t) in enumerate(zip(args, v))])
    minus = g(*[axpy(a, t, -eps) if i in float_pos else a for i, (a, t) in enumerate(zip(args, v))])
    for got, p, m in zip(leaves(hv), leaves(plus), leaves(minus)):
        np.testing.assert_allclose(np.asarray(got), (np.asarray(p) - np.asarray(m)) / (2 * eps), rtol=1e-5, atol=1e-6)
