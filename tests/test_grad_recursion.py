"""Reverse mode through recursion (ppc/passes/ad/recursion.py): ppc.grad, value_and_grad
and hessian of recursive functions, checked against jax.grad of the same recursion run by
Python, finite differences, and per-member loops when batched; generated programs by
hypothesis; the limits (a `while` loop inside the recursion, the stack depth) as errors."""
import linecache

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppc


def power_series(x, n):
    if n <= 0:
        return x
    return x * power_series(x, n - 1) + 1.0


def tree(x, d):
    if d <= 0:
        return np.sin(x)
    return tree(x * 0.9, d - 1) * tree(x + 0.1, d - 2) + x


def tree_jax(x, d):
    if d <= 0:
        return jnp.sin(x)
    return tree_jax(x * 0.9, d - 1) * tree_jax(x + 0.1, d - 2) + x


def walk(w, x, n):
    if n == 0:
        return np.sum(w * x)
    return walk(w, np.tanh(w * x), n - 1) + 0.5 * np.sum(x ** 2)


def walk_jax(w, x, n):
    if n == 0:
        return jnp.sum(w * x)
    return walk_jax(w, jnp.tanh(w * x), n - 1) + 0.5 * jnp.sum(x ** 2)


def even(x, n):
    if n == 0:
        return x
    return odd(x * x, n - 1) + 1.0


def odd(x, n):
    if n == 0:
        return np.cos(x)
    return even(x * 0.5, n - 1) * x


def even_jax(x, n):
    if n == 0:
        return x
    return odd_jax(x * x, n - 1) + 1.0


def odd_jax(x, n):
    if n == 0:
        return jnp.cos(x)
    return even_jax(x * 0.5, n - 1) * x


def test_power_series_against_its_closed_form():
    # power_series(x, 3) = x^4 + x^2 + x + 1, derivative 4x^3 + 2x + 1
    assert float(ppc.grad(power_series)(2.0, 3)) == pytest.approx(37.0)
    # power_series(x, n) = x^(n+1) + x^(n-1) + ... + x + 1: at x = 0.5, n = 60 the derivative is 1/(1-x)^2
    assert float(ppc.grad(power_series)(0.5, 60)) == pytest.approx(4.0)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_tree_recursion_matches_jax_grad(backend):
    f = ppc.compile(tree, backend=backend)
    for x, d in [(0.7, 5), (-0.3, 0), (1.2, 3)]:
        assert float(ppc.grad(f)(x, d)) == pytest.approx(float(jax.grad(tree_jax)(x, d)), rel=1e-12)
    value, g = ppc.value_and_grad(f)(0.7, 5)
    assert float(value) == pytest.approx(tree(0.7, 5), rel=1e-12)
    assert float(g) == pytest.approx(float(jax.grad(tree_jax)(0.7, 5)), rel=1e-12)


def test_arrays_and_several_argnums():
    w, x = np.linspace(-1, 1, 5), np.linspace(0.2, 0.9, 5)
    got = ppc.grad(walk, argnums=(0, 1))(w, x, 4)
    want = jax.grad(walk_jax, argnums=(0, 1))(w, x, 4)
    for g, v in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(v), rtol=1e-12, atol=1e-14)


def test_mutual_recursion():
    for n in range(6):
        assert float(ppc.grad(even)(0.8, n)) == pytest.approx(float(jax.grad(even_jax)(0.8, n)), rel=1e-12)


def test_second_derivatives():
    # grad of grad: reverse mode through the VJPs the first grad built, themselves recursive
    assert float(ppc.grad(ppc.grad(tree))(0.7, 4)) == pytest.approx(
        float(jax.grad(jax.grad(tree_jax))(0.7, 4)), rel=1e-10)
    v = np.array([0.3, 0.5])
    got = ppc.hessian(lambda v, d: tree(v[0], d) * tree(v[1], d))(v, 3)
    want = jax.hessian(lambda v, d: tree_jax(v[0], d) * tree_jax(v[1], d))(jnp.asarray(v), 3)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10)


def test_from_compiled_code_inside_a_loop():
    @ppc.compile
    def outer(x):
        s = 0.0
        for i in range(3):
            s = s + ppc.grad(tree)(x + i, 3)
        return s
    want = sum(float(jax.grad(tree_jax)(0.4 + i, 3)) for i in range(3))
    assert float(outer(0.4)) == pytest.approx(want, rel=1e-12)


def recursion_in_a_loop(x, limit):
    """A recursive call inside a loop with a run-time trip count: the loop's stacks record
    each iteration's call arguments, and each gets its VJP on the way back."""
    total, k = 0.0, 0
    while k < limit and total < 50.0:
        total = total + tree(x + 0.1 * k, k)
        k += 1
    return total


def test_recursion_called_in_a_while_loop_against_finite_differences():
    x, eps = 0.35, 1e-6
    fd = (recursion_in_a_loop(x + eps, 5) - recursion_in_a_loop(x - eps, 5)) / (2 * eps)
    assert float(ppc.grad(recursion_in_a_loop)(x, 5)) == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("strategy", ["program_counter", "local_static"])
def test_batched_gradients_equal_per_member_ones(strategy):
    xs, ds = np.linspace(0.1, 1.0, 6), np.array([0, 1, 2, 3, 4, 5])
    got = ppc.autobatch(ppc.grad(tree), strategy=strategy)(xs, ds)
    want = [float(jax.grad(tree_jax)(x, int(d))) for x, d in zip(xs, ds)]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def test_the_gradient_reaches_the_same_depth_as_the_function():
    f = ppc.compile(power_series, max_stack_depth=40)
    assert float(ppc.grad(f)(0.5, 39)) == pytest.approx(float(jax.grad(lambda x: sum(x ** k for k in range(40)))(0.5)))
    with pytest.raises(ppc.StackOverflowError, match="max_stack_depth=40"):
        ppc.grad(f)(0.5, 40)


def for_in_recursion(x, n):
    if n == 0:
        return x
    s = 0.0
    for i in range(3):
        s = s + np.sin(x * i)
    return for_in_recursion(s, n - 1) * 0.5


def for_in_recursion_jax(x, n):
    if n == 0:
        return x
    s = 0.0
    for i in range(3):
        s = s + jnp.sin(x * i)
    return for_in_recursion_jax(s, n - 1) * 0.5


def while_in_recursion(x, n):
    if n == 0:
        return x
    while x > 1.0:
        x = x * 0.5
    return while_in_recursion(x + 1.0, n - 1) * x


def while_in_recursion_jax(x, n):
    if n == 0:
        return x
    while x > 1.0:
        x = x * 0.5
    return while_in_recursion_jax(x + 1.0, n - 1) * x


def test_loops_inside_the_recursion():
    assert float(ppc.grad(for_in_recursion)(0.4, 3)) == pytest.approx(
        float(jax.grad(for_in_recursion_jax)(0.4, 3)), rel=1e-12)
    # a `while` on a traced value inside the recursion (once refused): recorded with
    # max_iterations slots in each VJP, whose overflow flags reach the result (passes/flags.py)
    for x, n in [(3.0, 3), (0.4, 2), (7.5, 1)]:
        assert float(ppc.grad(while_in_recursion)(x, n)) == pytest.approx(
            float(jax.grad(while_in_recursion_jax)(x, n)), rel=1e-12)
    got = ppc.autobatch(ppc.grad(while_in_recursion))(np.array([3.0, 0.4]), np.array([3, 2]))
    np.testing.assert_allclose(got, [float(jax.grad(while_in_recursion_jax)(3.0, 3)),
                                     float(jax.grad(while_in_recursion_jax)(0.4, 2))], rtol=1e-12)
    out, vjp_fn = ppc.vjp(while_in_recursion, 3.0, 3)
    assert float(vjp_fn(1.0)[0]) == float(vjp_fn(1.0)[0]) == pytest.approx(
        float(jax.grad(while_in_recursion_jax)(3.0, 3)), rel=1e-12)
    h = ppc.hessian(lambda v: while_in_recursion(v[0], 2))(np.array([3.0]))
    np.testing.assert_allclose(h, jax.hessian(lambda v: while_in_recursion_jax(v[0], 2))(jnp.array([3.0])))
    # a loop past its recorded iterations, deep in the recursion, is an error, not a wrong gradient
    for f in (ppc.grad(while_in_recursion, max_iterations=2),
              ppc.compile(lambda x: ppc.grad(while_in_recursion, max_iterations=2)(x, 3))):
        with pytest.raises(ppc.LoopLimitError):
            f(3000.0, 3) if f.__name__.startswith("grad") else f(3000.0)


def test_vjp_linearize_and_linear_transpose():
    """Their primal, linear and transposed programs recurse, so each runs on the machine."""
    want = float(jax.grad(tree_jax)(0.7, 4))
    out, vjp_fn = ppc.vjp(tree, 0.7, 4)
    assert float(out) == pytest.approx(tree(0.7, 4), rel=1e-12)
    assert float(vjp_fn(2.0)[0]) == pytest.approx(2 * want, rel=1e-12) and vjp_fn(2.0)[1] is None
    out, f_lin = ppc.linearize(tree, 0.7, 4)
    assert float(f_lin(3.0)) == pytest.approx(3 * want, rel=1e-12)
    assert float(ppc.linear_transpose(f_lin)(1.5)[0]) == pytest.approx(1.5 * want, rel=1e-12)
    with pytest.raises(ppc.StackOverflowError, match="max_stack_depth=3"):
        ppc.vjp(ppc.compile(tree, max_stack_depth=3), 0.7, 5)


# -- generated programs -----------------------------------------------------------------

BASES = ["x", "x * 2.0 + 1.0", "np.sin(x)", "x * x - 0.5"]
STEPS = ["x * 0.5", "x + 1.0", "np.cos(x)", "x - 0.25"]
COMBINE = ["{a} + {b}", "{a} * 0.5 - {b}", "np.maximum({a}, {b})", "{a} * {b}"]


def make_program(base, step1, step2, combine, cut, dec2, numpy):
    src = f"""
import {numpy} as np

def rec(n, x):
    if n <= {cut}:
        return {base}
    a = rec(n - 1, {step1})
    if a > 0.0:
        c = rec(n - {dec2}, {step2})
    else:
        c = a * 0.5
    return {combine.format(a='a', b='c')}
"""
    name = f"<generated {abs(hash(src))}>"
    linecache.cache[name] = (len(src), None, src.splitlines(True), "")
    ns = {}
    exec(compile(src, name, "exec"), ns)
    return ns["rec"]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BASES), st.sampled_from(STEPS), st.sampled_from(STEPS), st.sampled_from(COMBINE),
       st.integers(0, 1), st.integers(1, 2), st.integers(0, 6), st.floats(-2, 2).map(lambda v: round(v, 6)))
def test_generated_recursive_programs_against_jax_grad(base, step1, step2, combine, cut, dec2, n, x):
    ours = make_program(base, step1, step2, combine, cut, dec2, "numpy")
    theirs = make_program(base, step1, step2, combine, cut, dec2, "jax.numpy")
    got = ppc.grad(ours, argnums=1)(n, x)
    want = jax.grad(theirs, argnums=1)(n, x)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-9, atol=1e-12)


# -- reverse mode's own program names ---------------------------------------------------

def scale_twice(x, n):
    return scale_twice_vjp(x, n) * 2.0


def scale_twice_vjp(x, n):
    if n <= 0:
        return x
    return scale_twice_vjp(x * x, n - 1) + 1.0


def squares_jax(x, n):
    if n <= 0:
        return x
    return squares_jax(x * x, n - 1) + 1.0


def halve_primal(x, n):
    return halve_primal_primal(x, n) * 0.5


def halve_primal_primal(x, n):
    if n <= 0:
        return x
    return halve_primal_primal(x * x, n - 1) + 1.0


def twice_lin(x, n):
    return twice_lin_lin_t(x, n) * 2.0


def twice_lin_lin_t(x, n):
    if n <= 0:
        return x
    return twice_lin_lin_t(x * x, n - 1) + 1.0


def test_recursive_callees_named_like_the_entrys_programs():
    """The recursive functions travel with the entry's primal, linear, transposed and VJP
    programs, so those take names clear of theirs (`f` calling a recursive `f_vjp` got the
    gradient of the wrong program, `f` calling `f_primal` crashed in the machine)."""
    want = float(jax.grad(squares_jax)(0.6, 3))
    assert float(ppc.grad(scale_twice)(0.6, 3)) == pytest.approx(2 * want, rel=1e-12)
    assert float(ppc.grad(halve_primal)(0.6, 3)) == pytest.approx(0.5 * want, rel=1e-12)
    assert float(ppc.grad(twice_lin)(0.6, 3)) == pytest.approx(2 * want, rel=1e-12)
    value, g = ppc.value_and_grad(scale_twice)(0.6, 3)
    assert float(value) == pytest.approx(2 * squares_jax(0.6, 3)) and float(g) == pytest.approx(2 * want, rel=1e-12)
    out, vjp_fn = ppc.vjp(scale_twice, 0.6, 3)
    assert float(vjp_fn(1.0)[0]) == pytest.approx(2 * want, rel=1e-12)


def early_exit(x, n):
    """A `for` loop over a static range() that leaves early (`return`, `break`) has no trip
    count, but at most its range's length of iterations: stacks of that size serve it."""
    if n <= 0:
        return x
    for i in range(1, 9, 2):
        if x > i * 0.25:
            return early_exit(x - 0.4, n - 1) * x
        x = np.sin(x) * 1.1
        if x < -0.5:
            break
    return x + 1.0


def early_exit_jax(x, n):
    if n <= 0:
        return x
    for i in range(1, 9, 2):
        if x > i * 0.25:
            return early_exit_jax(x - 0.4, n - 1) * x
        x = jnp.sin(x) * 1.1
        if x < -0.5:
            break
    return x + 1.0


def traced_range_in_recursion(x, n):
    if n <= 0:
        return x
    for i in range(n):
        x = np.sin(x) + 0.5
    return traced_range_in_recursion(x, n - 1) * x


def test_loops_that_leave_early_inside_the_recursion():
    xs, ns = [0.9, 2.3, -0.7], [3, 2, 1]
    want = [float(jax.grad(early_exit_jax)(x, n)) for x, n in zip(xs, ns)]
    for x, n, w in zip(xs, ns, want):
        assert float(ppc.grad(early_exit)(x, n)) == pytest.approx(w, rel=1e-12)
    for strategy in ["program_counter", "local_static"]:
        got = ppc.autobatch(ppc.grad(early_exit), strategy=strategy)(np.array(xs), np.array(ns))
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    # grad of grad: the linear loop runs the range's length, idle past the count, so its
    # transpose has a static trip count too
    for x in [0.9]:
        assert float(ppc.grad(ppc.grad(early_exit))(x, 2)) == pytest.approx(
            float(jax.grad(jax.grad(early_exit_jax))(x, 2)), rel=1e-10)
    # a range() of a traced bound: recorded with max_iterations slots, as a while loop
    eps = 1e-6
    fd = (traced_range_in_recursion(0.3 + eps, 2) - traced_range_in_recursion(0.3 - eps, 2)) / (2 * eps)
    assert float(ppc.grad(traced_range_in_recursion)(0.3, 2)) == pytest.approx(fd, rel=1e-6)


def doublings(x, n):
    """How many doublings take x past 1: an integer from a float, so no tangent."""
    if x > 1.0 or n > 50:
        return n
    return doublings(x * 2.0, n + 1)


def scaled_by_doublings(x):
    return x * doublings(x, 0)


def above(x, n):
    if n <= 0:
        return x > 0.5, n
    return above(x * 1.5, n - 1)


def gated(x, n):
    """The recursion's float result only decides a branch: its tangent is dead."""
    k = 0.0
    if n > 1:
        if power_series(x, n) > 2.0:
            k = 1.0
    flag, m = above(x, n)
    if flag:
        k = k + m
    return x * k


def test_recursions_whose_tangents_nobody_reads():
    # (each reached linearize as a call reading tangents and giving none: an internal error)
    assert float(ppc.grad(scaled_by_doublings)(0.1)) == pytest.approx(4.0)
    assert float(ppc.grad(scaled_by_doublings)(0.3)) == pytest.approx(2.0)
    for x, n in [(0.9, 3), (0.2, 3), (0.3, 1), (0.6, 0)]:
        k = float(power_series(x, n) > 2.0) if n > 1 else 0.0
        flag, m = above(x, n)
        assert float(ppc.grad(gated)(x, n)) == pytest.approx(k + (m if flag else 0.0))
    got = ppc.autobatch(ppc.grad(gated))(np.array([0.9, 0.2, 0.3]), np.array([3, 3, 1]))
    np.testing.assert_allclose(np.asarray(got), [float(ppc.grad(gated)(x, n)) for x, n in [(0.9, 3), (0.2, 3), (0.3, 1)]])


def pair_walk(p, n):
    x, y = p
    if n <= 0:
        return x * y
    return pair_walk((y, x * 0.5 + y), n - 1) + np.cos(x)


def pair_walk_jax(p, n):
    x, y = p
    if n <= 0:
        return x * y
    return pair_walk_jax((y, x * 0.5 + y), n - 1) + jnp.cos(x)


def pair_walk_of(x, n):
    return pair_walk((x, x * 2.0), n)


def test_gradient_of_a_tuple_argument_of_a_recursion():
    # (crashed in pc/blocks.py: the machine took the tuple-typed gradient as one register)
    want = jax.grad(pair_walk_jax)((0.3, 0.7), 3)
    got = ppc.grad(pair_walk)((0.3, 0.7), 3)
    np.testing.assert_allclose([float(g) for g in got], [float(w) for w in want], rtol=1e-12)
    value, got = ppc.value_and_grad(pair_walk)((0.3, 0.7), 3)
    np.testing.assert_allclose([float(g) for g in got], [float(w) for w in want], rtol=1e-12)
    batched = ppc.autobatch(ppc.grad(pair_walk))((np.array([0.3, 0.5]), np.array([0.7, 0.7])), np.array([3, 3]))
    np.testing.assert_allclose(np.asarray(batched[0])[0], float(want[0]), rtol=1e-12)


def test_a_tuple_passed_inside_the_program_to_a_recursion():
    got = float(ppc.grad(pair_walk_of)(0.3, 3))
    want = float(jax.grad(lambda x, n: pair_walk_jax((x, x * 2.0), n))(0.3, 3))
    assert got == pytest.approx(want, rel=1e-12)
