"""Both batching strategies: each golden program run on a batch equals the same program
run on each member alone; data-dependent loops and branches differ per member."""
import jax
import numpy as np
import pytest

import ppc
from ppc.autobatch import shared

from programs import PROGRAMS, assert_tree_close, load, random_args

B = 3


def member(v):
    """A member's argument as an array (Python numbers become 0-d arrays, strongly typed,
    exactly as they are inside a batch)."""
    if isinstance(v, bool):
        return np.bool_(v)
    if isinstance(v, int):
        return np.int64(v)
    if isinstance(v, float):
        return np.float64(v)
    return np.asarray(v)


def batch_args(mod):
    members = [[member(a) for a in random_args(mod, seed)] for seed in range(B)]
    return members, [np.stack([m[i] for m in members]) for i in range(len(members[0]))]


def unstack(tree, i):
    if isinstance(tree, (tuple, list)):
        return type(tree)(unstack(t, i) for t in tree)
    return np.asarray(tree)[i]


STRATEGIES = ["local_static", "program_counter"]


@pytest.mark.parametrize("name,strategy", [(n, s) for s in STRATEGIES for n in PROGRAMS])
def test_batched_equals_per_member(name, strategy, backend):
    """(On TF, the members run alone on JAX: batching and the backends agree at once.)"""
    mod = load(name)
    members, batched = batch_args(mod)
    out = ppc.autobatch(ppc.compile(mod.main, backend=backend), strategy=strategy)(*batched)
    single = ppc.compile(mod.main)
    for i, args in enumerate(members):
        assert_tree_close(unstack(out, i), single(*args), check_dtype=True)


def windows_at(x, u, i, j):
    return jax.lax.dynamic_slice(x, (i, j), (4, 3)), jax.lax.dynamic_update_slice(x, u, (j, i))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_windows_at_per_member_offsets(strategy):
    """Every member its own starts, in range and past either end (XLA clamps them), and
    values that must move exactly: NaN and infinities."""
    r = np.random.default_rng(5)
    n = 24
    x = r.normal(size=(n, 9, 7))
    x[np.arange(n), r.integers(0, 9, n), r.integers(0, 7, n)] = np.inf
    x[np.arange(n), r.integers(0, 9, n), r.integers(0, 7, n)] = np.nan
    u = r.normal(size=(n, 4, 3))
    i, j = r.integers(-3, 12, n), r.integers(-3, 12, n)
    got = ppc.autobatch(windows_at, strategy=strategy)(x, u, i, j)
    single = ppc.compile(windows_at)
    for k in range(n):
        assert_tree_close(unstack(got, k), single(x[k], u[k], i[k], j[k]))
        np.testing.assert_array_equal(got[0][k], jax.lax.dynamic_slice(x[k], (i[k], j[k]), (4, 3)))


def collatz(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return steps


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_members_leave_a_loop_at_different_iterations(strategy, backend):
    ns = np.array([1, 6, 7, 27, 97, 871])
    got = ppc.autobatch(ppc.compile(collatz, backend=backend), strategy=strategy)(ns)
    assert list(np.asarray(got)) == [collatz(int(n)) for n in ns]
    text = str(ppc.autobatch(collatz, strategy="local_static").canonical_ir(ns))
    assert "reduce_or" in text and "select" in text  # runs while any member is active, masked


def scale_rows(x, factor):
    return x * factor


def shifted_if_positive(x, y):
    if x > 0:
        return x + y
    return y


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_empty_batch_gives_empty_results(strategy, backend):
    """As jax.vmap does (before, folding a constant of no elements broke the IR builder)."""
    f = ppc.autobatch(ppc.compile(shifted_if_positive, backend=backend), strategy=strategy)
    assert np.asarray(f(np.zeros(0), np.zeros(0))).shape == (0,)


def test_size_one_arguments_broadcast_and_numbers_are_shared():
    x = np.arange(6.0).reshape(3, 2)
    f = ppc.autobatch(scale_rows, strategy="local_static")
    np.testing.assert_allclose(f(x, np.array([2.0])), x * 2.0)
    np.testing.assert_allclose(f(x, 3.0), x * 3.0)
    with pytest.raises(ValueError, match="batch sizes"):
        f(x, np.ones(2))


def test_strategies():
    assert ppc.autobatch(collatz).strategy == "program_counter"  # the default
    with pytest.raises(ValueError, match="unknown strategy"):
        ppc.autobatch(collatz, strategy="nope")
    with pytest.raises(ValueError, match="max_stack_depth"):
        ppc.autobatch(collatz, max_stack_depth=0)


def log_lik(w, X, y):
    logits = X @ w
    return np.sum(y * logits - np.logaddexp(0.0, logits))


def test_batched_gradients_for_many_chains(backend):
    """Per-chain gradients of a log likelihood, as batched NUTS will need them."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 4)), (rng.uniform(size=50) < 0.5).astype(float)
    W = rng.normal(size=(8, 4))
    g = ppc.grad(ppc.compile(log_lik, backend=backend))
    batched = ppc.autobatch(g, strategy="local_static")(W, X[None], y[None])
    for i in range(8):
        np.testing.assert_allclose(batched[i], g(W[i], X, y), rtol=1e-12)
    text = str(ppc.autobatch(g, strategy="local_static").canonical_ir(W, X[None], y[None]))
    assert "f64[8,50,4]" not in text  # the shared data is broadcast only where members differ


def test_batched_random_draws_equal_per_member_draws(backend):
    import jax

    import data.random_programs as RP
    keys = jax.random.split(jax.random.key(0), 4)
    mus = np.linspace(0.0, 1.5, 4)
    noisy, walk = ppc.compile(RP.noisy, backend=backend), ppc.compile(RP.walk, backend=backend)
    got = ppc.autobatch(noisy, strategy="local_static")(keys, mus)
    single = noisy
    for i in range(4):
        assert_tree_close(unstack(got, i), single(keys[i], mus[i]), rtol=1e-6)
    shared = ppc.autobatch(noisy, strategy="local_static")(jax.random.key(1)[None], mus)
    assert_tree_close(unstack(shared, 2), single(jax.random.key(1), mus[2]), rtol=1e-6)
    walks = ppc.autobatch(walk, strategy="local_static")(keys, 5)
    for i in range(4):
        np.testing.assert_allclose(walks[i], walk(keys[i], 5), rtol=1e-6)


def test_batched_triangular_solve_with_a_shared_matrix(backend):
    import data.random_programs as RP
    L = np.array([[2.0, 0.0, 0.0], [0.5, 1.0, 0.0], [-0.3, 0.2, 1.5]])
    xs = np.random.default_rng(3).normal(size=(5, 3))
    got = ppc.autobatch(ppc.compile(RP.mvn_log_density, backend=backend), strategy="local_static")(xs, L[None])
    for i in range(5):
        np.testing.assert_allclose(got[i], ppc.compile(RP.mvn_log_density)(xs[i], L), rtol=1e-12)


def tuple_sum(pair, w):
    a, b = pair
    return np.sum(a * w) + np.sum(b)


@pytest.mark.parametrize("strategy", ["local_static", "program_counter"])
def test_batched_function_with_shared_tuple_argument(strategy):
    """A tuple is shared by every member, its arrays given a leading axis of 1 as any
    shared array is (`shared` adds it); one whose arrays have the batch axis is batched
    (they were once taken whole by every member, a silent wrong answer)."""
    pair = (np.ones(3), np.arange(3.0))
    ws = np.random.default_rng(4).normal(size=(4, 3))
    f = ppc.autobatch(tuple_sum, strategy=strategy)
    got = f(shared(pair), ws)
    np.testing.assert_allclose(got, [tuple_sum(pair, w) for w in ws])
    firsts = np.random.default_rng(5).normal(size=(4, 3))
    got = f((firsts, np.ones((1, 3))), ws)
    np.testing.assert_allclose(got, [tuple_sum((a, np.ones(3)), w) for a, w in zip(firsts, ws)])
    with pytest.raises(ValueError, match=r"batch sizes \[3, 4\] differ"):
        f(pair, ws)  # (its arrays' first axes read as batch axes)


def settle(x, v):
    return x, np.tanh(v + x)


def early_settle(n, x, v):
    y = x * 0.5
    if v[1] > v[2]:
        if v[n % 3] > 0.5 * float(n):
            v = np.tanh(v * float(n) + (v[0] + x))
            return settle(v[0], v[::-1])
        y = np.tanh(np.where(1.5 * v.sum() + 0.5 > v.sum(), 1.5 * v.sum() + 0.5, v.sum() * 0.5))
        v = np.tanh(v * np.tanh(x) + v[n % 3])
    return x + y, v


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_early_return_in_nested_ifs_keeps_the_values_it_carries(strategy):
    """Before, under the program counter: "Value(v) (temp) is read in block 4 (@f else)
    but has no storage". Both sides of the inner `if` jump past its join (which only
    passes values on), each carrying the join's `v`: into the work after it on one side,
    where it is read, and on the returning side, where it is not. The second carry made
    `v` a temp, overriding the first; a value is now stored when any definition needs it."""
    rng = np.random.default_rng(2)
    ns, xs, vs = rng.integers(0, 6, 16), rng.normal(size=16), rng.normal(size=(16, 3))
    got = ppc.autobatch(early_settle, strategy=strategy)(ns, xs, vs)
    single = ppc.compile(early_settle)
    for i in range(16):
        want = early_settle(int(ns[i]), float(xs[i]), vs[i])
        assert_tree_close(unstack(got, i), want)
        assert_tree_close(single(ns[i], xs[i], vs[i]), want)
