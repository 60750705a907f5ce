"""Partitioning on 8 emulated CPU devices (tests/conftest.py): every strategy's results equal
the unpartitioned program's, communication is what the strategy implies, and bad tactics
are refused with errors naming the tactic."""
import inspect
import os

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppc
import ppc.infer
from ppc.ir import walk_ops
from ppc.partition import Mesh, PartitionError, apply, replicate, tile

from partition_programs import MESH, STRATEGIES, step, train_step

pytestmark = pytest.mark.skipif(len(jax.devices()) < 8, reason="needs 8 (emulated) devices")



def mlp_args(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(8, 16)), rng.normal(size=(16, 4)), rng.normal(size=(32, 8)), rng.normal(size=(32, 4))]


def collectives(module):
    return [(op.prim, op.attrs.get("axes", op.attrs.get("axis"))) for f in module.functions.values()
            for op in walk_ops(f.body) if op.prim in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")]


def assert_same(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in STRATEGIES if n != "none"])
def test_strategies_equal_the_unpartitioned_step(name):
    args = mlp_args()
    p = apply(step, STRATEGIES[name], MESH)
    assert_same(p(*args), step(*args))


def test_batch_parallel_reduces_gradients_over_batch_only():
    args = mlp_args()
    module = apply(step, STRATEGIES["batch"], MESH).ir(*args)
    assert collectives(module) == [("all_reduce", ("batch",))] * 2  # one per weight gradient
    x = module.entry.params[2]
    assert x.type.shape == (8, 8)  # 32 rows over 4 devices


def test_megatron_reduces_activations_over_model_only():
    args = mlp_args()
    module = apply(step, STRATEGIES["megatron"], MESH).ir(*args)
    kinds = collectives(module)
    assert kinds and all(axes == ("model",) for _, axes in kinds)
    assert [p.type.shape for p in module.entry.params[:2]] == [(8, 8), (8, 4)]


def test_zero_gathers_parameters_and_scatters_gradients():
    args = mlp_args()
    module = apply(step, STRATEGIES["zero"], MESH).ir(*args)
    prims = sorted(p for p, _ in collectives(module))
    assert prims == ["all_gather", "all_gather", "reduce_scatter", "reduce_scatter"]
    assert [p.type.shape for p in module.entry.params[:2]] == [(8, 4), (4, 4)]  # each device holds 1/4


def log_joint(w, X, y):
    logits = X @ w
    return np.sum(y * logits - np.logaddexp(0.0, logits)) - 0.5 * np.sum(w * w)


def test_data_parallel_gradient_has_one_all_reduce_per_evaluation():
    rng = np.random.default_rng(1)
    w, X = rng.normal(size=5), rng.normal(size=(64, 5))
    y = (rng.uniform(size=64) < 0.5).astype(np.float64)
    g = ppc.grad(log_joint)  # tactics name the original function's parameters
    p = apply(g, [tile("X", 0, "batch"), tile("y", 0, "batch")], MESH)
    assert collectives(p.ir(w, X, y)) == [("all_reduce", ("batch",))]
    np.testing.assert_allclose(np.asarray(p(w, X, y)), np.asarray(g(w, X, y)), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(p(w, X, y)), np.asarray(jax.grad(log_joint_jax)(w, X, y)), rtol=1e-10)


def log_joint_jax(w, X, y):
    import jax.numpy as jnp
    logits = X @ w
    return jnp.sum(y * logits - jnp.logaddexp(0.0, logits)) - 0.5 * jnp.sum(w * w)


def test_tactics_apply_in_order_and_earlier_decisions_stand():
    args = mlp_args()
    # x's dim 0 is tiled first; the later tactic on w1's dim 0 (x's contraction partner) loses
    p = apply(step, [tile("x", 0, "batch"), tile("w1", 0, "batch")], MESH)
    plan = p.plan(*args)
    x, w1 = plan.function.params[2], plan.function.params[0]
    assert plan.tiling(x)[0] == ("batch",)
    assert plan.tiling(w1)[0] == ("batch",)
    conflicts = p.conflicts(*args)
    assert conflicts, "the contraction conflict must be reported"
    text = str(conflicts[0])
    assert "partition_programs.py:10:" in text and "dot_general" in text and "'batch'" in text
    assert_same(p(*args), step(*args))


def test_replicate_then_tile_is_refused():
    with pytest.raises(PartitionError, match="replicates 'x'"):
        apply(step, [replicate("x"), tile("x", 0, "batch")], MESH).ir(*mlp_args())


def test_unknown_input_names_the_inputs():
    with pytest.raises(PartitionError, match="no input named 'z'.*w1, w2, x, y"):
        apply(step, [tile("z", 0, "batch")], MESH).ir(*mlp_args())


def test_uneven_tiles_are_refused():
    with pytest.raises(PartitionError, match="does not split evenly"):
        apply(step, [tile("w2", 1, "batch")], Mesh({"batch": 8})).ir(*mlp_args())  # 4 columns, 8 devices


def test_unknown_mesh_axis_and_missing_dim():
    with pytest.raises(PartitionError, match="no axis 'rows'"):
        apply(step, [tile("x", 0, "rows")], MESH).ir(*mlp_args())
    with pytest.raises(PartitionError, match="no dim 2"):
        apply(step, [tile("x", 2, "batch")], MESH).ir(*mlp_args())


def test_a_mesh_larger_than_the_machine_is_a_clear_error():
    p = apply(step, STRATEGIES["batch"], Mesh({"batch": 64}))
    with pytest.raises(ValueError, match="needs 64 devices but JAX sees"):
        p(*[np.ones((64, 16)), np.ones((16, 4)), np.ones((64, 64)), np.ones((64, 4))])


def test_partitioned_functions_are_not_transformed_further():
    p = apply(step, STRATEGIES["batch"], MESH)
    with pytest.raises(TypeError, match="partitioning comes last"):
        ppc.grad(p)


def retile(x, y):
    return np.tanh(x + np.cumsum(y, axis=0))


def test_an_axis_moving_between_dims_is_an_all_to_all():
    # x's rows are tiled first; the scan keeps that from reaching y's rows, so y is then
    # tiled by columns, and the sum needs y's scan moved from columns to rows
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(8, 16)), rng.normal(size=(8, 16))
    p = apply(ppc.compile(retile), [tile("x", 0, "batch"), tile("y", 1, "batch")], MESH)
    assert [prim for prim, _ in collectives(p.ir(x, y))] == ["all_to_all"]
    assert p.conflicts(x, y) and "cumsum: 'batch' tiles dim 0" in str(p.conflicts(x, y)[0])
    np.testing.assert_allclose(np.asarray(p(x, y)), retile(x, y), rtol=1e-13)


def loop_and_branch(x, w):
    acc = np.zeros_like(x)
    for i in range(3):
        if np.sum(w) > 0.0:
            acc = acc + np.tanh(x * w)
        else:
            acc = acc - x
        x = x * 0.5
    total = 0.0
    n = 0
    while n < 4:
        total = total + np.sum(acc * n)
        n = n + 1
    return acc, total


def test_loops_and_branches_partition():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(16, 6)), rng.normal(size=(16, 6))
    f = ppc.compile(loop_and_branch)
    p = apply(f, [tile("x", 0, "batch"), tile("w", 0, "batch")], MESH)
    assert_same(p(x, w), f(x, w))
    assert_same(p(x, w), loop_and_branch(x, w))


def fib(n):
    if n < 2:
        return 1
    return fib(n - 1) + fib(n - 2)


def test_program_counter_batch_splits_members_over_devices():
    batched = ppc.autobatch(fib, strategy="program_counter")
    n = np.arange(16) % 9
    p = apply(batched, [tile("n", 0, "batch")], MESH)
    np.testing.assert_array_equal(np.asarray(p(n)), [fib(int(k)) for k in n])
    stats = p.stats
    assert stats.size == 4 and stats.served.sum() > 0
    both = apply(batched, [tile("n", 0, "batch"), tile("n", 0, "model")], MESH)  # 8 machines
    np.testing.assert_array_equal(np.asarray(both(n)), [fib(int(k)) for k in n])
    with pytest.raises(PartitionError, match="does not split evenly over batchxmodel"):
        both.ir(np.arange(6))
    with pytest.raises(PartitionError, match="split only by its members"):
        apply(batched, [replicate("n")], MESH).ir(n)


def gaussian():
    theta = ppc.Normal(np.zeros(2), 1.0)
    return theta


@pytest.mark.filterwarnings("ignore:.*hit max_tree_depth")  # (trees cut at depth 4 on purpose: a short run)
def test_nuts_chains_split_over_the_batch_axis_draw_the_same_chains():
    kw = dict(chains=32, num_warmup=30, num_samples=20, progress=False, max_tree_depth=4, chunk=10)
    whole = ppc.infer.nuts(gaussian, mesh=None, **kw)
    split = ppc.infer.nuts(gaussian, mesh=Mesh({"batch": 4}), **kw)
    auto = ppc.infer.nuts(gaussian, **kw)  # (over 2 of the suite's 8 devices: this machine's 2 cores)
    assert auto.sample_stats.attrs["machines"] == 2 and whole.sample_stats.attrs["machines"] == 1
    # each chain draws from its own key, wherever it runs
    for run in (split, auto):
        np.testing.assert_allclose(run.posterior["theta"].values, whole.posterior["theta"].values, rtol=1e-9,
                                   atol=1e-12)
        assert 0 < run.sample_stats.attrs["batch_utilization"] <= 1
    with pytest.raises(ValueError, match="do not split evenly"):
        ppc.infer.nuts(gaussian, mesh=Mesh({"batch": 3}), **{**kw, "chains": 8})


def test_nuts_splits_chains_over_as_many_devices_as_divide_them(monkeypatch):
    """mesh="auto": JAX's devices (the suite has 8), on CPU no more than the usable cores,
    the most that divide the chains evenly and leave each machine 16 chains or more; one
    machine when that is one device."""
    from ppc.infer.nuts import chain_mesh
    cores = {"n": 2}
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores["n"])), raising=False)
    assert chain_mesh(32, "jax") == Mesh({"chains": 2}) and chain_mesh(128, "jax") == Mesh({"chains": 2})
    assert chain_mesh(16, "jax") is None and chain_mesh(33, "jax") is None and chain_mesh(1, "jax") is None
    cores["n"] = 16
    assert chain_mesh(96, "jax") == Mesh({"chains": 6}) and chain_mesh(1024, "jax") == Mesh({"chains": 8})
    assert chain_mesh(64, "jax") == Mesh({"chains": 4})
    assert chain_mesh(64, "tf") is None  # (partitioned programs run on JAX)
    with pytest.raises(ValueError, match='mesh must be "auto", None or a ppc.partition.Mesh'):
        ppc.infer.nuts(gaussian, mesh="all")


# -------------------------------------------------------------------- random strategies

CANDIDATES = [("w1", 0), ("w1", 1), ("w2", 0), ("w2", 1), ("x", 0), ("x", 1), ("y", 0), ("y", 1)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(CANDIDATES), st.sampled_from(["batch", "model"])), max_size=4))
def test_any_strategy_equals_the_unpartitioned_step(choices):
    """Whatever tactics are applied (conflicting or not), results are unchanged; a tactic
    that cannot apply is refused, never silently dropped."""
    tactics = [tile(name, dim, axis) for (name, dim), axis in choices]
    args = mlp_args(3)
    p = apply(step, tactics, MESH)
    try:
        p.ir(*args)
    except PartitionError as e:
        assert "already tiled" in str(e) or "does not split evenly" in str(e)
        return
    assert_same(p(*args), step(*args))


def test_partitioned_function_reads_like_the_original():
    p = apply(step, STRATEGIES["batch"], MESH)
    assert p.__name__ == "train_step"
    assert list(inspect.signature(train_step).parameters) == ["w1", "w2", "x", "y"]
    dump = p.dump(*mlp_args())
    assert "// in  %x: dim 0 over batch" in dump and "all_reduce" in dump


@pytest.mark.parametrize("label", ["logistic_regression.grad-batch", "mlp.batch-model", "mlp.grad-zero",
                                   "matmul.batch-model", "elementwise.batch"])
def test_golden_strategies_run_and_match(label):
    """The strategies pinned by golden files (tests/test_golden.py) compute what the
    unpartitioned program does, on random inputs."""
    from programs import load, random_args
    from test_golden import PARTITIONED

    from ppc.cli import parse_mesh, parse_tactic
    name, argnum, mesh, tactics = PARTITIONED[label]
    mod = load(name)
    f = ppc.compile(mod.main)
    if argnum is not None:
        f = ppc.grad(f, argnums=argnum)
    a = random_args(mod, seed=4)
    p = apply(f, [parse_tactic(t) for t in tactics], parse_mesh(mesh))
    got, want = p(*a), f(*a)
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-5, atol=2e-5)
