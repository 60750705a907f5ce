"""Tuple and list arguments of `ppc.autobatch`: each array in one is batched (its leading
axis is the batch size) or shared (a leading axis of size 1), on its own, by the rule of
top-level arrays. Every case checks against the function run on each member in Python."""
import jax
import numpy as np
import pytest

import ppc
from ppc.autobatch import shared

STRATEGIES = ["local_static", "program_counter"]
B = 4
rng = np.random.default_rng(7)


def member(tree, i):
    """Member i's view of a batched tree: arrays with a leading axis of B give row i, size-1 ones row 0."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(member(t, i) for t in tree)
    if hasattr(tree, "shape") and tree.shape:
        return tree[i] if tree.shape[0] == B else tree[0]
    return tree


def check(got, want):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want)
        for g, w in zip(got, want):
            check(g, w)
    else:
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-12)


def per_member(f, args):
    """f run member by member in Python; results stacked as the batch gives them."""
    outs = [f(*[member(a, i) for a in args]) for i in range(B)]

    def stack(xs):
        if isinstance(xs[0], (tuple, list)):
            return tuple(stack([x[k] for x in xs]) for k in range(len(xs[0])))
        return np.stack([np.asarray(x) for x in xs])
    return stack(outs)


def run(f, strategy, *args):
    got = ppc.autobatch(f, strategy=strategy)(*args)
    check(got, per_member(f, args))
    return got


def affine(state, x):
    a, b = state
    return np.sum(a * x) + b


def nested(state, x):
    a, (b, c), k = state
    return a * x + b[0] + c * k


def pair_sum(pair):
    a, b = pair
    return np.sum(a) + np.sum(b)


def identity(state):
    return state


def step_state(state, h):
    x, v = state
    return (x + h * v, v - h * x), np.sum(x * x)


def settle(state, tol):
    x, v, k = state
    while np.max(np.abs(v)) > tol:
        x = x + v
        v = v * 0.5
        k = k + 1
    return x, v, k


def tail_walk(state, n):
    x, v = state
    if n <= 0:
        return x
    return tail_walk((x + v, v * 0.5), n - 1)


def deep_sum(state, n):
    x, v = state
    if n <= 0:
        return x * 0.0 + v
    return x + deep_sum((x * 0.5, v + 1.0), n - 1)


def helper_recursion(state, n):
    return deep_sum(state, n) + tail_walk(state, n)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_batched_shared_and_mixed_leaves(strategy):
    x = rng.normal(size=(B, 3))
    a, b = rng.normal(size=(B, 3)), rng.normal(size=(B,))
    run(affine, strategy, (a, b), x)  # every leaf batched
    run(affine, strategy, (a[:1], b[:1]), x)  # every leaf shared (as before)
    run(affine, strategy, (a, b[:1]), x)  # mixed
    run(affine, strategy, (a[:1], b), x)
    run(affine, strategy, (a, 2.5), x)  # a number in a tuple is shared
    run(affine, strategy, shared((a[0], b[0])), x)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_nested_tuples_and_lists(strategy):
    x = rng.normal(size=(B, 3))
    a, bb, c = rng.normal(size=(B, 3)), rng.normal(size=(1, 2)), rng.normal(size=(B,))
    run(nested, strategy, (a, (bb, c), 2.0), x)
    run(nested, strategy, [a, [bb, c], np.full((B,), 3.0)], x)
    run(nested, strategy, (a[:1], [rng.normal(size=(B, 2)), c[:1]], np.ones((1,))), x)
    run(pair_sum, strategy, [rng.normal(size=(B, 2, 2)), rng.normal(size=(1, 5))])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_returning_the_tuple(strategy):
    a, b = rng.normal(size=(B, 3)), rng.normal(size=(1, 2))
    got = run(identity, strategy, (a, b))
    assert np.asarray(got[1]).shape == (B, 2)  # a shared leaf comes back batched, as every result does
    h = rng.uniform(0.1, 0.2, size=(B,))
    run(step_state, strategy, (a, b[:, :1] * np.ones((1, 3))), h)
    run(step_state, strategy, (a, rng.normal(size=(B, 3))), 0.1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_while_loop_carrying_a_tuple(strategy):
    x, v = rng.normal(size=(B, 3)), rng.normal(size=(B, 3)) * np.array([1.0, 10.0, 100.0, 1000.0])[:, None]
    got = run(settle, strategy, (x, v, 0), 0.01)
    assert len(set(np.asarray(got[2]).tolist())) > 1  # members leave the loop at different iterations
    run(settle, strategy, (x, v[:1], np.zeros((B,), np.int64)), np.array([0.1, 0.01, 1.0, 0.5]))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_recursion_with_a_tuple_argument(strategy):
    x, v = rng.normal(size=(B, 3)), rng.normal(size=(B, 3))
    n = np.array([0, 3, 5, 2])
    run(tail_walk, strategy, (x, v), n)
    run(tail_walk, strategy, (x[:1], v), n)
    run(deep_sum, strategy, (x, np.array([0.5, 1.0, -1.0, 2.0])), n)
    run(deep_sum, strategy, (x, 0.5), n)
    run(helper_recursion, strategy, (x[:1], v), n)


def test_stack_overflow_still_raises():
    x = rng.normal(size=(B, 3))
    f = ppc.autobatch(deep_sum, strategy="program_counter", max_stack_depth=4)
    with pytest.raises(ppc.StackOverflowError):
        f((x, np.ones((B,))), np.array([1, 2, 9, 3]))
    args = ((x, np.ones((B,))), np.array([1, 2, 2, 0]))
    check(f(*args), per_member(deep_sum, args))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_batch_of_one(strategy):
    a, b = rng.normal(size=(1, 3)), rng.normal(size=(1,))
    got = ppc.autobatch(affine, strategy=strategy)((a, b), rng.normal(size=(1, 3)))
    assert np.asarray(got).shape == (1,)


def test_wrong_leading_sizes_name_the_argument():
    f = ppc.autobatch(affine)
    x = np.ones((B, 3))
    with pytest.raises(ValueError, match=r"batch sizes \[3, 4\] differ .*argument 0 \('state'\) element \[1\] "
                                         r"has a leading axis of 3"):
        f((np.ones((B, 3)), np.ones((3,))), x)
    with pytest.raises(ValueError, match=r"argument 0 \('state'\) element \[1\]\[0\] has a leading axis of 2"):
        ppc.autobatch(nested)((np.ones((B, 3)), (np.ones((2, 2)), np.ones(B)), 1.0), x)
    with pytest.raises(ValueError, match=r"leading batch axis: argument 0 \('state'\) element \[1\] is a scalar"):
        f((np.ones((B, 3)), np.array(1.0)), x)
    # a NumPy scalar is a number, shared by every member as a Python number is
    np.testing.assert_allclose(f((np.ones((B, 3)), np.float64(2.0)), x), f((np.ones((B, 3)), 2.0), x))
    with pytest.raises(ValueError, match=r"batch sizes \[4, 5\] differ .*: argument 0 \('state'\) element \[0\] has a "
                                         r"leading axis of 4, argument 1 \('x'\) has a leading axis of 5"):
        f((np.ones((B, 3)), np.ones(B)), np.ones((5, 3)))


def test_program_counter_partition_splits_tuple_leaves():
    if len(jax.devices()) < 8:
        pytest.skip("needs 8 (emulated) devices")
    from ppc.partition import Mesh, PartitionError, apply, tile
    mesh = Mesh({"batch": 4, "model": 2})
    n8 = 8
    x, c = rng.normal(size=(n8, 3)), rng.normal(size=(1, 3))
    n = np.arange(n8) % 4
    p = apply(ppc.autobatch(helper_recursion), [tile("state", 0, "batch"), tile("n", 0, "batch")], mesh)
    got = np.asarray(p((x, c), n))
    for i in range(n8):
        np.testing.assert_allclose(got[i], helper_recursion((x[i], c[0]), n[i]), rtol=1e-6)
    with pytest.raises(PartitionError, match="split only by its members"):
        apply(ppc.autobatch(helper_recursion), [tile("n", 0, "batch")], mesh)((x, c), n)
    local = apply(ppc.autobatch(affine, strategy="local_static"), [tile("x", 0, "batch")], mesh)
    with pytest.raises(PartitionError, match=r"argument 0 \('state'\) .* holding batched arrays"):
        local((x, c[:, 0]), x)
