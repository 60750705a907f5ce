"""Edge cases of both batching strategies found by testing them as a user: each batched
result equals the program run on each member alone, in plain Python."""
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import ppc

# Members outside a loop run its code too (a branch they do not take, a loop they have
# left, a program-counter block they are not at), on values their program never computed:
# with the loop testing every member's condition, these programs never ended.
LOOPS_FOR_OTHERS = textwrap.dedent('''
    import numpy as np
    import ppc

    def nested(x):
        t = 0
        while x > 0:
            y = x
            while y != 0:  # (never ends for a member whose x was never positive)
                y = y - 1
                t = t + 1
            x = x - 1
        return x, t

    def down(y):
        t = 0
        while y != 0:
            y = y - 1
            t = t + 1
        return t

    def in_branch(x):
        t = 0
        if x > 0:
            t = down(x)
        return t

    def spin(n):
        while n > 0:  # (ends for no positive n)
            n = n + 1
        return n

    def unbatched_in_branch(x, n):
        t = 0
        if x > 0:
            t = spin(n)
        return t

    def evens(n):
        if n <= 0:
            return 0
        return evens(n - 1) + 2

    def odds(n):
        if n <= 0:
            return 1
        return odds(n - 1) + 2

    def after_calls(n, k):  # (members at other blocks hold odd results where y is read)
        s = 0
        if k > 0:
            s = odds(n)
        y = evens(n)
        t = 0
        while y != 0:
            y = y - 2
            t = t + 1
        return t + s

    xs = np.array([-1, 3, 0, 2])
    for strategy in ("local_static", "program_counter"):
        for f, args in [(nested, [xs]), (in_branch, [xs]), (unbatched_in_branch, [np.array([-1, 0]), 1]),
                        (after_calls, [np.array([3, 4, 5, 1]), np.array([0, 1, 1, 0])])]:
            got = ppc.autobatch(f, strategy=strategy)(*args)
            members = [[a[i] if np.ndim(a) else a for a in args] for i in range(len(args[0]))]
            for i, m in enumerate(members):
                want = f(*m)
                np.testing.assert_array_equal(np.asarray(got)[..., i] if isinstance(got, tuple) else got[i],
                                              np.asarray(want))
    print("done")
''')


def test_loops_run_only_for_the_members_running_their_code(tmp_path):
    """(In a process of its own, since the bug was a hang; ppc reads the source file.)"""
    script = tmp_path / "loops_for_others.py"
    script.write_text(LOOPS_FOR_OTHERS)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0 and out.stdout.strip().endswith("done"), out.stderr[-3000:]


def halvings(x):
    i = 0
    while x > 1.0:
        x = x / 2
        i = i + 1
    return i


def depth(n):
    if n <= 0:
        return 0
    return 1 + depth(n - 1)


def test_jax_transformations_around_a_batched_function():
    """Local static batching without recursion is traced as any JAX function is; the
    program-counter machine and host-run recursion are clear errors (they were errors
    from inside JAX: a nested jit's compile options, a traced boolean)."""
    xs = np.array([1.0, 20.0, 3.0])
    want = [halvings(x) for x in xs]
    local = ppc.autobatch(halvings, strategy="local_static")
    np.testing.assert_array_equal(jax.jit(local)(xs), want)
    np.testing.assert_array_equal(jax.vmap(local)(xs[None])[0], want)
    for wrap in (jax.jit, jax.vmap):
        with pytest.raises(TypeError, match="program-counter batched function cannot run under a JAX transformation"):
            wrap(ppc.autobatch(halvings))(xs[None] if wrap is jax.vmap else xs)
        with pytest.raises(ppc.CompileError, match="test_batch_edges.py:.*recursion in host Python, so it cannot run "
                                                   "under a JAX transformation"):
            wrap(ppc.autobatch(depth, strategy="local_static"))(np.array([[1, 2]]) if wrap is jax.vmap
                                                                 else np.array([1, 2]))


def test_stats_describe_the_run_that_overflowed():
    """After a StackOverflowError, .stats still described the run before it."""
    def down(n):
        if n <= 0:
            return 0
        return 1 + down(n - 1)
    f = ppc.autobatch(down, strategy="program_counter", max_stack_depth=8)
    f(np.array([2, 3]))
    before = f.stats.runs.sum()
    with pytest.raises(ppc.StackOverflowError):
        f(np.array([2, 50]))
    assert f.stats.runs.sum() != before


def rec_shared(pair, n):
    a, b = pair
    if n == 0:
        return np.sum(a)
    return rec_shared(pair, n - 1) + b[n % 3]


@pytest.mark.parametrize("strategy", ["program_counter", "local_static"])
def test_an_entry_taking_a_tuple_may_call_itself(strategy):
    """The entry's recursive calls were built against its flat signature before its tuple
    parameter was made: AttributeError deep in pc/blocks.py (and under ppc.compile too)."""
    from ppc.autobatch import shared
    pair = (np.arange(3.0), np.array([10.0, 20.0, 30.0]))
    assert ppc.compile(rec_shared)(pair, 3) == rec_shared(pair, 3)
    ns = np.array([0, 3, 5])
    got = ppc.autobatch(rec_shared, strategy=strategy)(shared(pair), ns)
    np.testing.assert_array_equal(got, [rec_shared(pair, n) for n in ns])


def countdown(n):
    if n <= 0:
        return 0
    return 1 + countdown(n - 1)


def test_autobatch_keeps_the_compiled_functions_stack_depth():
    # (autobatch of ppc.compile(f, max_stack_depth=8) used the default of 128)
    f = ppc.autobatch(ppc.compile(countdown, max_stack_depth=8))
    np.testing.assert_array_equal(f(np.array([3, 5])), [3, 5])
    with pytest.raises(ppc.StackOverflowError, match="max_stack_depth"):
        f(np.array([3, 20]))
    wider = ppc.autobatch(ppc.compile(countdown, max_stack_depth=8), max_stack_depth=32)
    np.testing.assert_array_equal(wider(np.array([3, 20])), [3, 20])


def test_numpy_scalars_are_shared_as_numbers():
    # (np.float32(0.5) was refused as "a scalar array" where 0.5 is shared)
    f = ppc.autobatch(lambda x, s: x * s)
    x = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose(f(x, np.float64(x.mean())), x * x.mean())
    np.testing.assert_allclose(f(x.astype(np.float32), np.float32(2.0)), 2 * x)
    with pytest.raises(ValueError, match="scalar array"):
        f(x, np.array(2.0))
