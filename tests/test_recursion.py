"""Recursion, batched: the corpus against per-member Python runs under both strategies
(the program-counter machine, and local static batching with recursion on the host), the
storage classes the issue pins (tail calls push nothing), stack overflow, statistics,
`@ppc.compile` of recursive functions, and generated recursive programs (hypothesis)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppc
from ppc.passes.pc import format_program
from ppc.passes.pc.blocks import Call

import data.recursion as R
from programs import assert_tree_close

W = np.array([0.5, -1.0, 2.0])


def per_member(f, args, n):
    """f run by plain Python on each member (size-1 arguments shared)."""
    out = []
    for i in range(n):
        member = [a[i] if len(a) == n else a[0] for a in args]
        out.append(f(*[m.item() if np.ndim(m) == 0 else m for m in member]))
    return out


def check(f, *args, backend="jax", **kw):
    n = max(len(a) for a in args)
    got = ppc.autobatch(ppc.compile(f, backend=backend), **kw)(*args)
    want = per_member(f, args, n)
    if isinstance(got, tuple):
        for k, g in enumerate(got):
            np.testing.assert_allclose(np.asarray(g), [w[k] for w in want], rtol=1e-12)
    else:
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    return got


def test_fibonacci():
    got = ppc.autobatch(R.fib)(np.array([5, 6, 8, 9]))
    assert list(np.asarray(got)) == [8, 13, 34, 55]


@pytest.mark.parametrize("strategy", ["program_counter", "local_static"])
def test_an_empty_batch_gives_empty_results(strategy, backend):
    """As jax.vmap does. Before: the machine's loop test took the minimum program counter
    of no members (a JAX error), and a constant of no elements broke the IR builder."""
    got = ppc.autobatch(ppc.compile(R.fib, backend=backend), strategy=strategy)(np.zeros(0, np.int64))
    assert np.asarray(got).shape == (0,)
    got = ppc.autobatch(ppc.compile(R.fib, backend=backend), strategy=strategy)(np.array([5, 6]))
    assert list(np.asarray(got)) == [8, 13]


CORPUS = [
    (R.is_even, (np.arange(12),)),
    (R.is_odd, (np.arange(12),)),
    (R.gcd, (np.array([12, 7, 100, 0, 81]), np.array([18, 3, 75, 5, 27]))),
    (R.tail_sum, (np.array([0, 5, 10, 40]), np.array([0, 0, 1, -3]))),
    (R.ackermann, (np.array([0, 1, 2, 2, 3, 3]), np.array([3, 2, 2, 3, 2, 3]))),
    (R.tree_sum, (np.array([0, 1, 3, 5]), np.array([0.1, 0.2, 0.3, -0.5]), W[None])),
    (R.doubling, (np.array([0.1, 0.2, 0.3, -0.5, 2.0]), W[None], np.array([6]))),
    (R.collatz_steps, (np.array([1, 7, 27, 97, 63]),)),
    (R.power_sum, (np.array([0.5, 2.0, -1.0]), np.array([3, 4, 0]))),
]


STRATEGIES = ["program_counter", "local_static"]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("f,args", CORPUS, ids=[c[0].__name__ for c in CORPUS])
def test_corpus_equals_python(f, args, strategy, backend):
    check(f, *args, strategy=strategy, backend=backend)


def test_fibonacci_local_static():
    got = ppc.autobatch(R.fib, strategy="local_static")(np.array([5, 6, 8, 9]))
    assert list(np.asarray(got)) == [8, 13, 34, 55]


@pytest.mark.parametrize("f,args", CORPUS, ids=[c[0].__name__ for c in CORPUS])
def test_compile_runs_recursion_with_a_batch_of_one(f, args, backend):
    g = ppc.compile(f, backend=backend)
    member = [a[-1] for a in args]
    got, want = g(*member), f(*member)
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-12)
    assert g.stats.size == 1 and g.stats.steps > 1


def test_many_members_at_widely_varying_depths():
    rng = np.random.default_rng(0)
    ns = rng.integers(0, 16, size=1200)
    got = ppc.autobatch(R.fib)(ns)
    table = [R.fib(k) for k in range(16)]
    assert list(np.asarray(got)) == [table[k] for k in ns]
    check(R.collatz_steps, np.arange(1, 1025), max_stack_depth=200)  # 871 takes 178 steps


def test_local_static_many_members():
    """Host recursion runs a call per distinct path members take, each for the whole batch."""
    rng = np.random.default_rng(1)
    ns = rng.integers(0, 14, size=1000)
    got = ppc.autobatch(R.fib, strategy="local_static")(ns)
    table = [R.fib(k) for k in range(14)]
    assert list(np.asarray(got)) == [table[k] for k in ns]
    check(R.ackermann, rng.integers(0, 3, size=1000), rng.integers(0, 4, size=1000), strategy="local_static")


def test_local_static_runs_recursion_on_the_host():
    g = ppc.autobatch(R.fib, strategy="local_static")
    n = np.array([3, 4])
    text = str(g.canonical_ir(n))
    assert "{host=true}" in text and "%running" in text  # branches decided in Python, masks passed down
    assert "from ppc.backends.host import host_while" in g.source(n)
    # a member deeper than Python's stack allows is an error naming the way out
    deep = ppc.autobatch(R.tail_sum, strategy="local_static")
    with pytest.raises(RecursionError, match="program_counter"):
        deep(np.array([50_000]), np.array([0]))


def test_local_static_loops_ignore_members_not_running():
    """A member not taking a branch holds values its program never computed; a loop inside
    the branch must not wait for it (here it would never stop)."""
    def countdown(n):
        if n <= 0:
            return 0
        k = n
        while k != 0:  # never ends for odd n < 0: Python never gets here with those
            k = k - 2
        return countdown(n - 2) + 1
    n = np.array([4, -3, 6, 0])
    got = ppc.autobatch(countdown, strategy="local_static")(n)
    assert list(np.asarray(got)) == [countdown(int(k)) for k in n]


def program(f, *args, **kw):
    g = ppc.autobatch(f, **kw)
    return g.specialize(*args).program


def test_tail_call_pushes_nothing():
    prog = program(R.tail_sum, np.array([3]), np.array([0]))
    calls = [b.term for b in prog.every_block if isinstance(b.term, Call)]
    assert calls and all(c.cont is None for c in calls)
    assert "stack" not in set(prog.storage.values())
    text = format_program(prog, 8)
    assert "no push" in text and "push frame" not in text
    # so any depth of tail recursion runs within one frame
    got = ppc.autobatch(R.tail_sum, max_stack_depth=1)(np.array([10_000, 3]), np.array([0, 0]))
    assert list(np.asarray(got)) == [10_000 * 10_001 // 2, 6]


def test_calls_run_a_base_case_test_themselves():
    """fib's entry block only tests `n < 2`: every call runs that test in its own step and
    goes straight to the side taken, so after the first entry no step runs the entry block,
    and the machine takes fewer steps than one stepping through it."""
    from ppc.backends.jax import compile_module
    from ppc.passes.pc.machine import build_machine
    n = np.array([0, 1, 5, 9, 12])
    want = [R.fib(int(k)) for k in n]
    prog = program(R.fib, n)
    entry = prog.entry_blocks["fib"]
    calls = [b.term for b in prog.blocks if isinstance(b.term, Call)]
    assert calls and all(c.inline_entry is entry for c in calls)
    assert f"-> block {entry.id} (run here)" in format_program(prog, 8)
    runs = {}
    for inline in (True, False):
        for c in calls:
            c.inline_entry = entry if inline else None
        out = compile_module(build_machine(prog, len(n), 32))[1](n)
        assert not out[1]  # no overflow
        assert list(np.asarray(out[0])) == want
        runs[inline] = np.asarray(out[-2])
    assert runs[True][entry.id] == 1 < runs[False][entry.id]  # only the machine's own first entry
    assert runs[True].sum() < runs[False].sum()


def test_unchanged_parameters_and_calls_beside_returns_need_no_extra_storage():
    """halving has build_tree's shape. `scale` goes down the recursion unchanged, so
    every frame holds the same value: a register, not a stack. The second half's call
    runs in the step that tests the first half (its parameters share rows with the
    result registers the other side's return writes, so the step writes no more rows
    than before). Same answers as per-member Python, fewer steps than with every jump
    target a block of its own."""
    from ppc.backends.jax import compile_module
    from ppc.passes.pc import lower_to_blocks
    from ppc.passes.pc.machine import build_machine
    d, x, s = np.array([3, 0, 5, 2]), np.array([0.5, -1.0, 2.0, 0.1]), np.array([0.3, 0.9, 1.5, 0.2])
    want = [R.halving(int(a), b, c, W) for a, b, c in zip(d, x, s)]
    spec = ppc.autobatch(R.halving).specialize(d, x, s, W[None])
    flags = [True, True, True, False]
    steps = {}
    for inline in (True, False):
        prog = lower_to_blocks(spec.canonical, flags, len(x), inline_jumps=inline)
        scale = prog.module.functions["halving"].params[2]
        assert prog.storage[scale] == "register"
        run = compile_module(build_machine(prog, len(x), 16))[1](d, x, s, W)
        assert not run[1]  # no overflow
        np.testing.assert_allclose(np.asarray(run[0]), want)
        steps[inline] = int(np.asarray(run[-2]).sum())
    assert steps[True] < steps[False]
    text = format_program(lower_to_blocks(spec.canonical, flags, len(x)), 8)
    blocks = text.split("\nblock ")
    assert any("(@halving cont)" in b.split("\n")[0] and "run here: @halving else" in b for b in blocks)
    # the unchanged parameter's register is rewritten by each call from outside the recursion
    got = ppc.autobatch(R.two_halvings)(d, x, s, W[None])
    np.testing.assert_allclose(np.asarray(got), [R.two_halvings(int(a), b, c, W) for a, b, c in zip(d, x, s)])


def test_cheap_blocks_run_in_the_step_that_jumps_there():
    """tree_sum returns its base case in the step that tests for it (the join after the
    `if` runs there): same answers as with every jump target a block of its own, fewer
    blocks and steps, and no step writes any storage file more often than before."""
    from ppc.backends.jax import compile_module
    from ppc.ir import walk_ops
    from ppc.passes.pc import lower_to_blocks
    from ppc.passes.pc.machine import build_machine
    x, limit = np.array([0.5, -1.0, 2.0, 0.1]), np.array([4, 1, 6, 0])
    want = [R.doubling(a, W, int(k)) for a, k in zip(x, limit)]
    spec = ppc.autobatch(R.doubling).specialize(x, W[None], limit)
    flags = [True, False, True]
    out, blocks, channels = {}, {}, {}
    for inline in (True, False):
        prog = lower_to_blocks(spec.canonical, flags, len(x), inline_jumps=inline)
        blocks[inline] = len(prog.blocks)
        machine = build_machine(prog, len(x), 16)
        channels[inline] = next(len(op.results) for op in walk_ops(machine.entry.body) if op.prim == "switch")
        run = compile_module(machine)[1](x, W, limit)
        assert not run[2]  # no overflow
        np.testing.assert_allclose(np.asarray(run[0]), [t for t, _ in want])
        assert list(np.asarray(run[1])) == [d for _, d in want]
        out[inline] = int(np.asarray(run[-2]).sum())
    assert blocks[True] < blocks[False] and out[True] < out[False] and channels[True] <= channels[False]
    text = format_program(lower_to_blocks(spec.canonical, flags, len(x)), 8)
    assert "run here: @tree_sum join" in text


def test_storage_classes():
    prog = program(R.fib, np.array([3]))
    by_hint = {}
    for v, kind in prog.storage.items():
        by_hint.setdefault(v.hint, set()).add(kind)
    assert by_hint["n"] == {"stack"}  # live across the first call, which can overwrite it
    assert "stack" in {prog.storage[v] for v in prog.storage if v.hint is None}  # fib(n - 1), across the second
    # tree_sum hands its data down unchanged: it is read from the input, never stored per member
    prog = program(R.tree_sum, np.array([2, 3]), np.array([0.5, 0.1]), W[None])
    assert {prog.storage[p] for p in prog.module.functions["tree_sum"].params if p.hint == "w"} == {"input"}
    # doubling's loop state is live across a call that cannot reach doubling again: registers
    prog = program(R.doubling, np.array([0.5]), W[None], np.array([4]))
    loop = next(b for b in prog.blocks if b.fn == "doubling" and b.kind == "loop")
    assert {prog.storage[p] for p in loop.params} == {"register"}


def test_stack_overflow_is_an_error_never_a_wrong_answer():
    m, n = np.array([0, 2, 1]), np.array([1, 2, 3])
    want = [R.ackermann(int(a), int(b)) for a, b in zip(m, n)]
    outcomes = []
    for depth in range(1, 9):  # every depth gives the right answer or the error, nothing else
        try:
            got = ppc.autobatch(R.ackermann, max_stack_depth=depth)(m, n)
        except ppc.StackOverflowError as e:
            assert f"max_stack_depth={depth}" in str(e)
            outcomes.append("overflow")
        else:
            assert list(np.asarray(got)) == want
            outcomes.append("ok")
    assert outcomes[0] == "overflow" and outcomes[-1] == "ok"
    assert outcomes == sorted(outcomes, key=lambda o: o == "ok")  # once deep enough, always fine
    with pytest.raises(ppc.StackOverflowError):
        ppc.compile(R.fib, max_stack_depth=4)(10)


def test_statistics():
    g = ppc.autobatch(R.fib)
    g(np.array([6, 6, 6]))  # identical members move together
    assert g.stats.utilization == 1.0
    assert g.stats.steps == int(g.stats.runs.sum()) > 0
    g(np.array([1, 10]))
    s = g.stats
    assert 0 < s.utilization < 1
    # members served per block never exceed the batch in any step
    assert (s.served <= s.runs * s.size).all()
    assert "utilization" in str(s)


def test_forward_mode_through_recursion():
    x, n = 0.7, 5
    primal, tangent = ppc.jvp(R.power_sum, (x, n), (1.0, 0))
    eps = 1e-6
    fd = (R.power_sum(x + eps, n) - R.power_sum(x - eps, n)) / (2 * eps)
    assert primal == pytest.approx(R.power_sum(x, n))
    assert tangent == pytest.approx(fd, rel=1e-6)


def test_reverse_mode_through_recursion():
    """More in tests/test_grad_recursion.py."""
    x, n, eps = 0.5, 3, 1e-6
    fd = (R.power_sum(x + eps, n) - R.power_sum(x - eps, n)) / (2 * eps)
    assert float(ppc.grad(R.power_sum)(x, n)) == pytest.approx(fd, rel=1e-6)


def test_batched_recursion_from_compiled_code():
    # the machine runs inside the caller's program; local static batching recurses in
    # host Python, so compiled code cannot run it (tests/test_autobatch_compiled.py has more)
    def outer(n):
        return g(n)
    g = ppc.autobatch(R.fib, strategy="program_counter")
    np.testing.assert_array_equal(ppc.compile(outer)(np.array([3, 4])), [R.fib(3), R.fib(4)])
    g = ppc.autobatch(R.fib, strategy="local_static")
    with pytest.raises(ppc.CompileError, match="cannot be called from compiled code"):
        ppc.compile(outer)(np.array([3, 4]))


# -- generated programs -----------------------------------------------------------------

BASES = ["x", "x * 2.0 + 1.0", "np.sin(x)", "x * x - 0.5"]
STEPS = ["x * 0.5", "x + 1.0", "np.cos(x)", "x - 0.25"]
COMBINE = ["{a} + {b}", "{a} * 0.5 - {b}", "np.maximum({a}, {b})", "{a}"]


def make_program(base, step1, step2, combine, cut, dec2):
    b = "n - " + str(dec2)
    src = f"""
import numpy as np

def rec(n, x):
    if n <= {cut}:
        return {base}
    a = rec(n - 1, {step1})
    if a > 0.0:
        c = rec({b}, {step2})
    else:
        c = a * 0.5
    return {combine.format(a='a', b='c')}
"""
    ns = {}
    exec(compile(src, f"<generated {abs(hash(src))}>", "exec"), ns)
    import linecache
    linecache.cache[f"<generated {abs(hash(src))}>"] = (len(src), None, src.splitlines(True), "")
    return ns["rec"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BASES), st.sampled_from(STEPS), st.sampled_from(STEPS), st.sampled_from(COMBINE),
       st.integers(0, 1), st.integers(1, 2),
       st.lists(st.integers(0, 7), min_size=1, max_size=12),
       # (rounded: XLA on CPU flushes subnormals to zero, where Python keeps them)
       st.lists(st.floats(-2, 2).map(lambda v: round(v, 6)), min_size=12, max_size=12),
       st.sampled_from(STRATEGIES))
def test_generated_recursive_programs(base, step1, step2, combine, cut, dec2, ns, xs, strategy):
    f = make_program(base, step1, step2, combine, cut, dec2)
    n = np.array(ns)
    x = np.array(xs[:len(ns)])
    got = ppc.autobatch(f, strategy=strategy)(n, x)
    want = [f(int(a), float(b)) for a, b in zip(n, x)]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4)), min_size=1, max_size=20), st.sampled_from(STRATEGIES))
def test_ackermann_on_generated_batches(pairs, strategy):
    m = np.array([p[0] for p in pairs])
    n = np.array([p[1] for p in pairs])
    got = ppc.autobatch(R.ackermann, strategy=strategy)(m, n)
    assert list(np.asarray(got)) == [R.ackermann(int(a), int(b)) for a, b in zip(m, n)]


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_changing_part_of_a_register_writes_only_that_part(backend):
    """walk_log sets one row of its log per loop step, countdown_log one row per return
    (into the result register): the machine writes those rows (file_patch), so none of
    walk_log's write channels carries a whole log (not even for the first block, whose
    zeros the machine writes before its loop). Checked against NumPy written by hand, with rows
    past the end dropped (as JAX's x.at[i].set; they once landed on the last row), members
    at different steps."""
    from ppc.ir import walk_ops
    n, x = np.array([0, 3, 7, 2, 5, 1]), np.array([0.5, 1.0, -2.0, 0.0, 3.0, -1.5])
    want_log, want_x = [], []
    for k, v in zip(n, x):
        log = np.zeros((5, 2))
        for i in range(k):
            v = 0.5 * v + R.fib(i % 4)
            if i < 5:
                log[i] = (v, i)
        want_log.append(log)
        want_x.append(v)
    f = ppc.autobatch(ppc.compile(R.walk_log, backend=backend))
    log, last = f(n, x)
    np.testing.assert_allclose(np.asarray(log), want_log, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(last), want_x, rtol=1e-12)

    m = np.array([0, 3, 7, 1])
    want = []
    for k in m:
        log = np.zeros((5, 2))
        for j in range(1, k + 1):
            if j - 1 < 5:
                log[j - 1] = (j, j * j)
        want.append(log)
    g = ppc.autobatch(ppc.compile(R.countdown_log, backend=backend))
    np.testing.assert_allclose(np.asarray(g(m, np.zeros((1, 5, 2)))), want, rtol=1e-12)

    for fn, args, whole in ((f, (n, x), False), (g, (m, np.zeros((1, 5, 2))), True)):
        ops = list(walk_ops(fn.specialize(*args).machine.entry.body))
        assert any(op.prim == "file_patch" for op in ops)
        switch = next(op for op in ops if op.prim == "switch")
        # (countdown_log's base case returns its parameter whole: one whole channel)
        assert any(r.type.shape[1:] == (5, 2) for r in switch.results) == whole


def test_a_second_write_where_a_window_was_written_lands_whole():
    """(machine internals) When a step writes a register's window and then writes that
    register again (sides of a branch meeting, say), the window becomes the whole value
    under its mask and the second write merges into that by its own mask."""
    from ppc.ir import TensorType, Value
    from ppc.ir.builder import Builder
    from ppc.passes.pc.machine import Patch, _Machine
    prog = ppc.autobatch(ppc.compile(R.walk_log)).specialize(np.array([0, 3]), np.array([0.5, 1.0])).program
    m = _Machine(prog, 2, 8)
    cont = next(b for b in prog.blocks if b.kind == "cont" and b.fn == "walk_log")
    state = {"pc": Value(TensorType((2,), "i32")), "depth": Value(TensorType((2,), "i32")),
             "overflow": Value(TensorType((), "bool"))}
    files = {key: Value(m.file_type(key)) for key in m.files}
    here, there = Value(TensorType((2,), "bool")), Value(TensorType((2,), "bool"))
    region, _, writes = m.case(cont, state, files, here)
    [(place, patch)] = [(p, w) for p, w in writes.items() if isinstance(w, Patch)]
    log = next(v for v, p in m.place.items() if p == place and isinstance(v, Value))
    b = Builder(region)
    other = b.op("zeros", [], shape=(2, 5, 2), dtype="f64")
    m.write(b, files, writes, log, other, True, there, state["depth"])
    value = writes[place][0]
    selects = {r: op for op in region.ops if op.prim == "select" for r in op.results}
    last = selects[value]
    assert last.operands[1] is other  # the second write, where `there`
    whole = selects[last.operands[2]]  # elsewhere: the window's write, whole
    assert whole.operands[1] is patch.value


# -- counters that start as Python numbers -----------------------------------------------

def count_up(i, n):
    if i >= n:
        return i
    return count_up(i + 1, n)


def count_up_from_zero(n):
    return count_up(0, n)


def sum_below(n, i=0, acc=0):
    """The counter and the sum are default arguments: each level gets new constants."""
    if i >= n:
        return acc
    return sum_below(n, i + 1, acc + i)


def halve_until_small(x, scale=1.0, first=True):
    if x * scale < 1.0:
        return x * scale + (10.0 if first else 0.0)
    return halve_until_small(x, scale * 0.5, False)


def ping(i, n):
    return i if i >= n else pong(i + 1, n)


def pong(i, n):
    return 2 * i if i >= n else ping(i + 1, n)


def ping_from_zero(n):
    return ping(0, n)


def static_depth(x, depth=3):
    """Recursion on a constant that a constant condition ends: evaluated at compile time."""
    if depth == 0:
        return x
    return static_depth(x * 2.0, depth - 1) + 1.0


COUNTERS = [
    (count_up_from_zero, (np.array([0, 3, 5, -2]),)),
    (sum_below, (np.array([0, 1, 4, 7]),)),
    (halve_until_small, (np.array([0.5, 3.0, 17.0, 1000.0]),)),
    (ping_from_zero, (np.array([0, 1, 4, 7]),)),
]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("f,args", COUNTERS, ids=[c[0].__name__ for c in COUNTERS])
def test_counters_from_constants_recurse_at_run_time(f, args, strategy):
    """Before: each level was specialized on its new constant, without end (RecursionError).
    A function re-entered under traced control flow with only numbers changed now takes
    those numbers as traced values, so the chain closes into a recursive function."""
    check(f, *args, strategy=strategy)
    member = [a[-1] for a in args]
    assert ppc.compile(f)(*member) == f(*[m.item() for m in member])


def test_a_counter_from_a_constant_is_specialized_twice():
    """Once for the constant it starts from, once (recursive) for a traced counter."""
    from ppc.ir.callgraph import recursive_functions
    ir = ppc.compile(count_up_from_zero).ir(np.int64(3))
    assert sorted(ir.functions) == ["count_up", "count_up_1", "count_up_from_zero"]
    assert recursive_functions(ir) == {"count_up_1"}


def test_recursion_a_constant_ends_still_runs_at_compile_time():
    """One function per depth, none recursive: constants change only under traced control."""
    from ppc.ir.callgraph import recursive_functions
    ir = ppc.compile(static_depth).ir(np.float64(1.0))
    assert len(ir.functions) == 4 and not recursive_functions(ir)
    assert ppc.compile(static_depth)(np.float64(1.5)) == static_depth(1.5)


# -- recursive calls inside `and` / `or` -----------------------------------------------

def reach(n):
    return n > 0 and reach(n - 2)


def reach_or(n):
    return n <= 0 or (n % 3 != 0 and reach_or(n - 2))


def count_with_and(n):
    """`and` gives its last operand's value, not a bool: False (0) or the count."""
    return n > 0 and count_with_and(n - 1) + 1


AND_OR = [(reach, (np.array([0, 3, 4, -1]),)), (reach_or, (np.array([0, 3, 4, 9, 8]),)),
          (count_with_and, (np.array([0, 1, 5]),))]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("f,args", AND_OR, ids=[c[0].__name__ for c in AND_OR])
def test_recursive_calls_inside_and_or(f, args, strategy):
    """Before: the call was lowered on every path and its unknown result made the whole
    expression unknown ('returns Bottom Bottom'). The later operand is now lowered only
    where it is reached, as in `reach(n - 2) if n > 0 else False`."""
    check(f, *args, strategy=strategy)
    assert ppc.compile(f)(np.int64(5)) == f(5)


# -- values carried past joins: where they live ------------------------------------------

def nested_return(n, x, v):
    y = x * 0.5
    if n <= 0:
        return x, v
    if v[1] > v[2]:
        if v[n % 3] > 0.5 * float(n):
            v = np.tanh(v * float(n) + (v[0] + x))
            return nested_return(n - 1, v[0], v[::-1])
        y = np.tanh(np.where(1.5 * v.sum() + 0.5 > v.sum(), 1.5 * v.sum() + 0.5, v.sum() * 0.5))
        v = np.tanh(v * np.tanh(x) + v[n % 3])
    return x + y, v


def loop_around_recursion(x, m):
    if m <= 0:
        return np.tanh(x)
    v = x * 1.0
    w = x * 2.0
    u = x * 0.0
    go = True
    flag = True
    j = 0
    while go:
        if flag:
            w = loop_around_recursion(w * 0.5, m - 1)
            j = j + 1
            if w[0] > 0.0 and j < 3:
                v = w * 0.5 + 0.25
                go = True
                flag = True
            else:
                u = np.sin(v) + w
                v = np.tanh(v * np.cos(w) + np.sin(v))
                w = w * 0.5
                go = False
                flag = True
        else:
            go = False
    return v + w + u


def _compiled_matches_python(f, *args):
    """@ppc.compile of `f` on each member alone, against plain Python."""
    single = ppc.compile(f)
    for member in zip(*args):
        assert_tree_close(single(*member), f(*[m.item() if np.ndim(m) == 0 else m for m in member]), rtol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_recursive_early_return_in_nested_ifs(strategy):
    """Before, under every strategy and @ppc.compile: "Value(v) (temp) is read in block 6
    (@f else) but has no storage". Both sides of the inner `if` jump past its join, each
    carrying the join's `v`: read after it on one side, not on the recursing side, whose
    carry made `v` a temp. A value is now stored when any of its definitions needs it."""
    rng = np.random.default_rng(2)
    args = rng.integers(0, 6, 16), rng.normal(size=16), rng.normal(size=(16, 3))
    check(nested_return, *args, strategy=strategy)
    _compiled_matches_python(nested_return, *args)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_value_read_after_a_recursive_call_on_one_side_stays_on_the_stack(strategy):
    """Before, silently wrong under the program counter and @ppc.compile. The step after
    the recursive call runs, for the members going round the loop again, the block that
    sets a new `v` and jumps back carrying it; the other members read the old `v`.
    Liveness took the carry as defining `v` on both ways out, so `v` was not live across
    the call, and a register held it that the recursive activation overwrote."""
    rng = np.random.default_rng(1)
    args = rng.normal(size=(8, 3)), rng.integers(0, 4, 8)
    check(loop_around_recursion, *args, strategy=strategy)
    _compiled_matches_python(loop_around_recursion, *args)
