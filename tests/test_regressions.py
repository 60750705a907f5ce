"""Programs that once compiled wrongly stay fixed."""
import numpy as np
import pytest

import ppc

import data.regressions as R

from programs import assert_tree_close


@pytest.mark.parametrize("fn,args", [
    (R.rebinds_in_later_loop, (np.array([0.3, -0.2]), np.float64(0.7))),
    (R.nested_conditional_expressions, (np.float64(2.0),)),
    (R.nested_conditional_expressions, (np.float64(1.0),)),
    (R.nested_conditional_expressions, (np.float64(-1.0),)),
    (R.predicate_folds_to_constant, (np.array([0.0, 2.0]),)),
])
def test_matches_eager(fn, args):
    assert_tree_close(ppc.compile(fn)(*args), fn(*args), check_dtype=True)


def test_rebinding_in_a_loop_that_may_not_run_is_refused_when_used():
    with pytest.raises(ppc.CompileError, match="may run no iterations rebinds it to another shape"):
        ppc.compile(R.rebinds_in_dynamic_loop)(np.ones(3), 2)


# -- enumerate and zip nested ------------------------------------------------------------

def enumerate_zip(v, w):
    t = 0.0
    for i, (a, b) in enumerate(zip(v, w)):
        t = t + i * a * b
    return t


def zip_enumerate(v, w):
    t = 0.0
    for (i, a), b in zip(enumerate(v, 1), w):
        t = t + i * a * b
    return t


def zip_range(v, w):
    t = 0.0
    for k, a in zip(range(3, 9, 2), v):
        t = t + k * a
    return t


def zip_traced_range(v, n):
    t = 0.0
    for k, a in zip(range(n, 0, -1), v):
        t = t + k * a
    return t


def enumerate_traced_range(v, n):
    t = 0.0
    for i, k in enumerate(range(1, n)):
        t = t + i * k + v[k % 3]
    return t


def zip_tuple_and_array(v, w):
    t = 0.0
    for s, (i, a) in zip((2.0, 3.0), enumerate(w)):
        t = t + s * i * a
    return t


def zip_enumerates_with_break(v, w):
    t = 0.0
    for (i, a), (j, b) in zip(enumerate(v), enumerate(w, 5)):
        if a > 2.5:
            break
        t = t + i * a + j * b
    return t


def comprehension_over_zip(v, w):
    return np.stack([a * b + i for i, (a, b) in enumerate(zip(v, w))])


def tuple_of_zip(v, w):
    pairs = tuple(zip(v, w))
    return pairs[1][0] + pairs[2][1]


V3, W3 = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
ITERATION = [(enumerate_zip, (V3, W3)), (zip_enumerate, (V3, W3)), (zip_range, (V3, W3)),
             (zip_traced_range, (V3, 2)), (zip_traced_range, (V3, 5)), (zip_traced_range, (V3, -1)),
             (enumerate_traced_range, (V3, 4)), (enumerate_traced_range, (V3, 0)),
             (zip_tuple_and_array, (V3, W3)), (zip_enumerates_with_break, (V3, W3)),
             (comprehension_over_zip, (V3, W3)), (tuple_of_zip, (V3, W3))]


@pytest.mark.parametrize("fn,args", ITERATION, ids=[f"{c[0].__name__}-{c[1][1]!s:.8}" for c in ITERATION])
def test_enumerate_and_zip_nest(fn, args):
    """Before: enumerate and zip worked over arrays alone, not inside each other or next
    to a range ('cannot iterate over Enumerate <... object at 0x...>')."""
    assert_tree_close(ppc.compile(fn)(*args), fn(*args))


# -- `and` / `or` on traced values -------------------------------------------------------

def and_value(x, y):
    return x > 0 and y * 2.0


def or_value(x, y):
    return x or y + 1


def and_then_helper(x):
    return x > 0 and and_helper(x) > 1.0


def and_helper(x):
    return x * 2.0


AND_OR = [(and_value, (np.float64(1.0), np.float64(3.0))), (and_value, (np.float64(-1.0), np.float64(3.0))),
          (or_value, (np.int64(0), np.int64(4))), (or_value, (np.int64(7), np.int64(4))),
          (and_then_helper, (np.float64(0.7),)), (and_then_helper, (np.float64(0.2),)),
          (and_then_helper, (np.float64(-1.0),))]


@pytest.mark.parametrize("fn,args", AND_OR)
def test_and_or_give_an_operand_as_python_does(fn, args):
    """`a and b` is `b if a else a` (a number, not a truth value, where b is a number), and
    the later operand runs only where it is reached."""
    assert_tree_close(ppc.compile(fn)(*args), fn(*args))


# -- lambdas -------------------------------------------------------------------------------

MODELS = {
    "std": lambda: ppc.Normal(0.0, 1.0, name="z"),
}
PAIR = (lambda x: x + 1.0, lambda x, k=2.0: x * k)
MULTILINE = (lambda x:
             x * 2.0
             + 1.0)
square = lambda x: x * x  # noqa: E731


def nested_lambdas(a):
    return lambda x: (lambda y: y + a)(x) * a


def calls_a_global_lambda(x):
    return square(x) + 1.0


def test_a_lambda_model_in_a_dict():
    """Before: its source (one line of the dict) was parsed alone: a SyntaxError from ast."""
    import jax
    draw = ppc.sample(MODELS["std"], jax.random.key(0))
    assert set(draw) == {"z"} and np.shape(draw["z"]) == ()
    assert float(ppc.log_joint(MODELS["std"])(z=0.0)) == pytest.approx(-0.5 * np.log(2 * np.pi))


@pytest.mark.parametrize("fn", [PAIR[0], PAIR[1], MULTILINE, nested_lambdas(3.0), calls_a_global_lambda,
                                lambda x: x - 1.0],
                         ids=["first", "second", "multiline", "nested", "called", "inline"])
def test_lambdas_compile(fn):
    """A lambda is found in its file by its line, parameters and instruction spans."""
    x = np.array([0.5, 2.0])
    assert_tree_close(ppc.compile(fn)(x), fn(x))


@pytest.mark.parametrize("i", [-7, -6, -1, 0, 5, 6, 10])
def test_update_at_traced_index_out_of_range_is_dropped(i):
    """As JAX's: a traced index outside the array (after the wrap of negatives) drops the
    update. It once clamped, overwriting the first or last element."""
    import jax
    x, m = np.arange(6.0), np.zeros((2, 3))
    assert_tree_close(ppc.compile(R.update_at_traced_index)(x, i),
                      tuple(np.asarray(o) for o in jax.jit(R.update_at_traced_index)(x, i)))
    assert_tree_close(ppc.compile(R.update_row_tail_at_traced_index)(m, i),
                      np.asarray(jax.jit(R.update_row_tail_at_traced_index)(m, i)))


@pytest.mark.parametrize("strategy", ["local_static", "program_counter"])
def test_update_at_traced_index_out_of_range_batched(strategy):
    import jax
    idx = np.array([-7, -1, 0, 5, 6, 10])
    xs = np.arange(36.0).reshape(6, 6)
    got = ppc.autobatch(R.update_at_traced_index, strategy=strategy)(xs, idx)
    for k in range(6):
        assert_tree_close(tuple(np.asarray(g)[k] for g in got),
                          tuple(np.asarray(o) for o in jax.jit(R.update_at_traced_index)(xs[k], idx[k])))


def test_xlogy_at_zero_keeps_its_derivative_in_x():
    """d/dx xlogy(x, y) is log y at x = 0 too (JAX's, and central differences'); a select
    on x == 0 once cut the tangent to 0. Values at the edges as JAX's."""
    import jax
    import jax.scipy.special as jsp
    x, y = np.array([0.0, 1.0, 2.5, 0.0]), np.array([2.0, 3.0, 0.5, 0.5])
    got = ppc.grad(R.xlogy_sum, argnums=(0, 1))(x, y)
    want = jax.grad(lambda a, b: jax.numpy.sum(jsp.xlogy(a, b)), argnums=(0, 1))(x, y)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12)
    h = 1e-6
    fd = (R.xlogy_sum(x + h * np.eye(4)[0], y) - R.xlogy_sum(x - h * np.eye(4)[0], y)) / (2 * h)
    assert float(np.asarray(got[0])[0]) == pytest.approx(fd, rel=1e-6)
    xs = np.array([0.0, 1.0, -1.0, 2.5, 0.0, 0.0, 0.0, 0.0, 3.0])
    ys = np.array([0.0, 0.0, 2.0, 0.5, -1.0, np.inf, np.nan, 2.0, np.inf])
    np.testing.assert_array_equal(ppc.compile(R.xlogy_values)(xs, ys), np.asarray(jax.jit(jsp.xlogy)(xs, ys)))


def test_slopes_at_kinks_follow_jax_and_builtins_follow_python():
    """abs' (0) = 1 and relu'(0) = 0, as JAX's (ppc gave 0 and a max's split 0.5); builtin
    min/max keep Python's choice: the first of equal values (its gradient goes there
    alone) and a NaN only where Python's comparisons keep it."""
    import jax
    jnp = jax.numpy
    zero = np.zeros(3)
    np.testing.assert_array_equal(ppc.grad(R.abs_sum)(zero), np.asarray(jax.grad(lambda x: jnp.sum(jnp.abs(x)))(zero)))
    np.testing.assert_array_equal(ppc.grad(R.relu_sum)(zero),
                                  np.asarray(jax.grad(lambda x: jnp.sum(jax.nn.relu(x)))(zero)))
    x = np.array([np.nan, -np.inf, 0.0, -2.0, 3.0, np.inf])
    np.testing.assert_array_equal(ppc.compile(R.relu_values)(x), np.asarray(jax.nn.relu(x)))
    for a, b in [(1.0, np.nan), (np.nan, 1.0), (2.0, 2.0), (-1.0, 3.0)]:
        got = ppc.compile(R.builtin_min_max)(np.float64(a), np.float64(b))
        np.testing.assert_array_equal(np.asarray(got, float), np.asarray(R.builtin_min_max(a, b), float))
    np.testing.assert_array_equal(ppc.grad(R.builtin_min_of_pair)(np.array([1.0, 1.0])), [1.0, 0.0])


def test_call_errors_name_the_argument():
    """jvp checks tangents against primals (a wrong shape failed inside generated code, a
    wrong dtype was taken); a static argument that cannot be hashed, and keyword arguments
    to a batched function, are clear errors (were bare TypeErrors)."""
    def double(a):
        return a * 2.0
    with pytest.raises(ValueError, match=r"jvp: tangent 0 has shape \(3,\), but its primal has shape \(2,\)"):
        ppc.jvp(double, (np.ones(2),), (np.ones(3),))
    with pytest.raises(ValueError, match="jvp: tangent 0 has dtype float64, but its primal has dtype float32"):
        ppc.jvp(double, (np.ones(2, np.float32),), (np.ones(2),))
    out, tangent = ppc.jvp(double, (np.ones(2, np.float32),), (np.ones(2, np.float32),))
    assert np.asarray(tangent).dtype == np.float32 and list(np.asarray(tangent)) == [2.0, 2.0]

    def scaled(a, b):
        return a * len(b)
    f = ppc.compile(scaled, static_argnums=(1,))
    assert float(f(1.5, (1, 2))) == 3.0
    with pytest.raises(TypeError, match="argument 1 is static .* must be hashable.* got list"):
        f(1.0, [1, 2])
    with pytest.raises(TypeError, match="takes its arguments by position .* keyword argument 'b'"):
        ppc.autobatch(double)(np.ones((2, 3)), b=1.0)


def sum_sin_squared(x):
    return np.sum(np.sin(x) ** 2)


def test_compiling_a_derived_function_keeps_its_transform():
    """ppc.compile(ppc.grad(h)) returned h itself (the transform silently dropped); now the
    derived function, which is compiled already; a change of backend is refused."""
    x = np.array([0.3, 1.0, 2.0])
    g = ppc.grad(sum_sin_squared)
    assert ppc.compile(g) is g
    np.testing.assert_allclose(ppc.compile(g)(x), np.sin(2 * x), rtol=1e-12)
    with pytest.raises(ValueError, match="cannot change its backend"):
        ppc.compile(g, backend="tf")


def regression_model(x):
    w = ppc.Normal(np.zeros(3), 1.0, name="w")
    return ppc.Normal(x @ w, 1.0, name="y")


def test_transforming_log_joint_is_refused_clearly():
    """log_joint(model) takes values by name from Python: compiling, differentiating or
    partitioning it failed with an error located inside ppc's own source."""
    from ppc.partition import Mesh, apply, tile
    lj = ppc.log_joint(regression_model)
    message = r"log_joint_regression_model \(ppc.log_joint\) takes latent values by name .*log_density_fn"
    for transform in (ppc.compile, ppc.grad, lambda f: apply(f, [tile("x", 0, "batch")], Mesh({"batch": 1}))):
        with pytest.raises(TypeError, match=message):
            transform(lj)


def weighted_squares(a, b):
    return np.sum(a * b ** 2)


def test_negative_argnums_count_from_the_end():
    """As JAX's argnums (ppc refused them as out of range)."""
    import jax
    a, b = np.arange(3.0), np.full(3, 2.0)
    want = jax.grad(lambda a, b: jax.numpy.sum(a * b ** 2), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(ppc.grad(weighted_squares, argnums=-1)(a, b), np.asarray(want[1]))
    for g, w in zip(ppc.grad(weighted_squares, argnums=(-2, -1))(a, b), want):
        np.testing.assert_array_equal(g, np.asarray(w))
    np.testing.assert_array_equal(ppc.hessian(weighted_squares, argnums=-1)(a, b), np.diag(2 * a))
    with pytest.raises(ValueError, match="argnums -3 is out of range for 2 positional arguments"):
        ppc.grad(weighted_squares, argnums=-3)(a, b)


# -- array constants holding infinities or NaN --------------------------------------------

def plus_non_finite(x):
    return x + np.array([np.inf, 1.0, np.nan, -np.inf]), np.where(x > 0, np.array([np.inf, -np.inf, 0.0, 2.0]), x)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_array_constants_with_infinities_and_nan(backend):
    # (the JAX source named `inf` unqualified: NameError when it ran)
    x = np.array([1.0, -2.0, 3.0, 0.5])
    assert_tree_close(ppc.compile(plus_non_finite, backend=backend)(x), plus_non_finite(x))
