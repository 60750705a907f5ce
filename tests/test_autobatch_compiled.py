"""Batched functions called from compiled code: a program-counter batch runs its machine
inside the caller's program, and its stack-overflow flag (like a gradient's loop-limit
flag) is threaded out to the caller's result and checked there (passes/flags.py).
Checked against per-member Python runs of the same source."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ppc


def fib(n):
    if n < 2:
        return 1
    return fib(n - 1) + fib(n - 2)


def power(x, n):
    if n == 0:
        return 1.0
    return x * power(x, n - 1)


def walk(state, n):
    a, b = state
    if n == 0:
        return a + b
    return walk((a * 2.0, b), n - 1)


def grows(x):
    while x < 10.0:
        x = x * 1.5
    return x


grows_grad = ppc.grad(grows, max_iterations=4)


def descend(x, n):
    if n == 0:
        return grows_grad(x)
    return descend(x, n - 1)


FIB = ppc.autobatch(fib, max_stack_depth=8)
POWER = ppc.autobatch(power, max_stack_depth=16)
WALK = ppc.autobatch(walk)
DESCEND = ppc.autobatch(descend, max_stack_depth=4)


@ppc.compile
def twice_fib(ns):
    return FIB(ns) * 2


@ppc.compile
def fib_in_loop(ns, reps):
    total = ns * 0
    for i in range(reps):
        total = total + FIB(ns + i)
    return total


@ppc.compile
def fib_in_branch(ns, go):
    if go > 0:
        out = FIB(ns)
    else:
        out = ns
    return out


def test_fib_batch_inside_compiled_code_equals_python():
    ns = np.array([0, 1, 5, 6, 7])
    np.testing.assert_array_equal(twice_fib(ns), [2 * fib(int(n)) for n in ns])
    np.testing.assert_array_equal(fib_in_loop(np.array([1, 2, 3]), 3), [6, 10, 16])
    np.testing.assert_array_equal(fib_in_branch(np.array([4, 6]), 1), [5, 13])
    np.testing.assert_array_equal(fib_in_branch(np.array([4, 6]), 0), [4, 6])


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=1, max_size=12))
def test_fib_batch_inside_compiled_code_equals_python_generated(ns):
    np.testing.assert_array_equal(twice_fib(np.array(ns)), [2 * fib(n) for n in ns])


@pytest.mark.parametrize("call", [lambda: twice_fib(np.array([5, 12])),
                                  lambda: fib_in_loop(np.array([1, 2, 3]), 9),
                                  lambda: fib_in_branch(np.array([4, 11]), 1)],
                         ids=["call", "loop", "branch"])
def test_a_stack_overflow_inside_compiled_code_is_an_error_naming_max_stack_depth(call):
    with pytest.raises(ppc.StackOverflowError, match="max_stack_depth=8"):
        call()


def test_an_untaken_branch_raises_nothing():
    # the batch in the branch not taken never runs, so its stack cannot overflow
    np.testing.assert_array_equal(fib_in_branch(np.array([4, 50]), 0), [4, 50])


def test_stack_and_loop_limits_are_told_apart():
    @ppc.compile
    def both(x, n):
        return DESCEND(x, n)

    x, n = np.array([5.0, 8.0]), np.array([1, 2])
    np.testing.assert_allclose(both(x, n), [1.5 ** 2, 1.5])
    with pytest.raises(ppc.LoopLimitError, match="max_iterations"):
        both(np.array([0.01, 8.0]), n)
    with pytest.raises(ppc.StackOverflowError, match="max_stack_depth=4"):
        both(x, np.array([1, 9]))
    with pytest.raises(ppc.StackOverflowError):  # (both raised: the stack is reported)
        both(np.array([0.01, 8.0]), np.array([1, 9]))


def test_float_recursion_with_shared_and_tuple_arguments():
    @ppc.compile
    def total(xs, ns):
        return np.sum(POWER(xs, ns))

    xs, ns = np.array([1.5, 2.0, 0.5]), np.array([2, 3, 4])
    np.testing.assert_allclose(total(xs, ns), np.sum(xs ** ns))

    @ppc.compile
    def shared(ns):  # (x shared by every member, size 1)
        return POWER(np.array([3.0]), ns)

    np.testing.assert_allclose(shared(np.array([0, 2, 3])), [1.0, 9.0, 27.0])

    @ppc.compile
    def walked(a, b, n):
        return WALK((a, b), n)

    np.testing.assert_allclose(walked(np.array([1.0, 2.0]), np.array([10.0]), np.array([1, 2])), [12.0, 18.0])


@pytest.mark.parametrize("strategy", ["local_static", "program_counter"])
def test_shared_size_one_arguments_from_compiled_code(strategy):
    batched = ppc.autobatch(lambda x, s: x * s, strategy=strategy)

    @ppc.compile
    def scale(xs, s):
        return batched(xs, s)

    np.testing.assert_allclose(scale(np.array([1.0, 2.0]), np.array([3.0])), [3.0, 6.0])
    np.testing.assert_allclose(scale(np.array([1.0, 2.0]), 3.0), [3.0, 6.0])


def test_a_recursive_caller_runs_a_machine_inside_its_machine():
    def outer(xs, ns, k):
        if k == 0:
            return np.sum(POWER(xs, ns))
        return outer(xs, ns, k - 1) + 1.0

    xs, ns = np.array([1.5, 2.0, 0.5]), np.array([2, 3, 4])
    np.testing.assert_allclose(ppc.compile(outer)(xs, ns, 2), np.sum(xs ** ns) + 2.0)


def test_tf_backend():
    def total(xs, ns):
        return np.sum(POWER(xs, ns))

    xs, ns = np.array([1.5, 2.0, 0.5]), np.array([2, 3, 4])
    np.testing.assert_allclose(ppc.compile(total, backend="tf")(xs, ns), np.sum(xs ** ns))
    with pytest.raises(ppc.StackOverflowError, match="max_stack_depth=16"):
        ppc.compile(total, backend="tf")(xs, np.array([2, 30, 4]))


def test_differentiating_or_batching_the_caller_is_a_located_refusal():
    def total(xs, ns):
        return np.sum(POWER(xs, ns))

    xs, ns = np.array([1.5, 2.0]), np.array([2, 3])
    with pytest.raises(ppc.CompileError, match=r"test_autobatch_compiled.py:\d+:\d+: .*cannot differentiate this "
                                               r"program: it calls a program-counter batched function") as e:
        ppc.grad(total)(xs, ns)
    assert "ppc.autobatch(ppc.grad(f))" in str(e.value)
    for strategy in ["local_static", "program_counter"]:
        with pytest.raises(ppc.CompileError, match="cannot batch this program: it calls a program-counter"):
            ppc.autobatch(total, strategy=strategy)(xs[None], ns[None])


def test_a_locally_batched_recursion_in_compiled_code_points_to_the_machine():
    local = ppc.autobatch(fib, strategy="local_static")

    @ppc.compile
    def twice(ns):
        return local(ns) * 2

    with pytest.raises(ppc.CompileError, match="runs its recursion in host Python") as e:
        twice(np.array([3, 4]))
    assert "strategy='program_counter'" in str(e.value)
