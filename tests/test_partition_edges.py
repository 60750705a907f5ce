"""Partitioning's edge cases, each once a wrong answer, a crash or an unclear error: the
partitioned result must equal the unpartitioned one, and a bad strategy must be refused
by name."""
import itertools

import jax
import numpy as np
import pytest

import ppc
from ppc.backends.jax import compile_sharded, lay_out
from ppc.ir import Function, Module, Op, Region, Value, verify, walk_ops
from ppc.ir.types import TensorType
from ppc.partition import Mesh, apply, replicate, tile
from ppc.partition.lowering import Lowering
from ppc.partition.propagation import Plan, local_type

pytestmark = pytest.mark.skipif(len(jax.devices()) < 8, reason="needs 8 (emulated) devices")

MESH = Mesh({"a": 4, "b": 2})


def prims(p, *args):
    return [op.prim for op in walk_ops(p.ir(*args).entry.body)
            if op.prim in ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "shard_slice")]


def rank2_tilings():
    """Every way to cut a rank-2 value over `MESH`: each axis on dim 0, dim 1 or neither,
    both orders where they share a dim."""
    out = set()
    for da, db in itertools.product((None, 0, 1), repeat=2):
        for order in (("a", "b"), ("b", "a")):
            dims = [[], []]
            for axis in order:
                d = da if axis == "a" else db
                if d is not None:
                    dims[d].append(axis)
            out.add(tuple(map(tuple, dims)))
    return sorted(out)


def test_every_retiling_keeps_the_value():
    # Converting between any two tilings must move data, never mix tiles: gathering one
    # dim while another is already cut by the same axis gave blocks of the wrong rows.
    tilings = rank2_tilings()
    low = Lowering(Plan(None, MESH, []))
    whole = TensorType((8, 8), "f64")
    region = Region([Value(local_type(whole, t, MESH)) for t in tilings], [])
    outs, out_tilings = [], []
    for p, have in zip(region.params, tilings):
        for want in tilings:
            outs.append(low.convert(region, p, have, want))
            out_tilings.append(want)
    region.ops.append(Op("return", outs, {}, []))
    module = Module([Function("retile", region, [o.type for o in outs])])
    verify(module)
    _, run, jmesh = compile_sharded(module, "retile", MESH.axes, tilings, out_tilings)
    x = np.arange(64.0).reshape(8, 8)
    for got, have, want in zip(run(*lay_out([x] * len(tilings), jmesh, tilings)),
                               itertools.chain.from_iterable(itertools.repeat(t, len(tilings)) for t in tilings),
                               itertools.cycle(tilings)):
        np.testing.assert_array_equal(np.asarray(got), x, err_msg=f"{have} -> {want}")


def retile(x, y):
    return np.tanh(x + np.cumsum(y, axis=0))


def test_an_axis_moving_while_another_is_gathered():
    # y's scan is held (axb) on dim 1 and wanted a on dim 0, b on dim 1
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(8, 16)), rng.normal(size=(8, 16))
    p = apply(ppc.compile(retile), [tile("x", 0, "a"), tile("y", 1, "a"), tile("x", 1, "b")], MESH)
    np.testing.assert_allclose(np.asarray(p(x, y)), retile(x, y), rtol=1e-13)
    assert prims(p, x, y) == ["all_gather", "all_to_all", "shard_slice"]


def loss_loop(w, x):
    h = x
    for _ in range(3):
        h = np.tanh(h @ w)
    return np.sum(h)


def test_a_loop_whose_carried_values_start_from_one_value():
    # reverse mode's residual stacks both start as one zeros constant (`while ..., %z, %z`)
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=(16, 16)) * 0.3, rng.normal(size=(8, 16))
    g = ppc.grad(loss_loop)
    p = apply(g, [tile("w", 1, "a")], MESH)
    np.testing.assert_allclose(np.asarray(p(w, x)), np.asarray(g(w, x)), rtol=1e-12)


def two_from_one(x, y, z):
    a = x
    b = x
    for _ in range(2):
        a = a + y
        b = b + z
    return a, b


def test_one_value_starting_two_positions_cut_differently():
    rng = np.random.default_rng(1)
    x, y, z = (rng.normal(size=(8, 8)) for _ in range(3))
    p = apply(ppc.compile(two_from_one), [replicate("x"), tile("y", 0, "a"), tile("z", 1, "a")], MESH)
    for got, want in zip(p(x, y, z), two_from_one(x, y, z)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13)


def scaled(p, x):
    return p * 2.0, np.tanh(x) * 3.0


def test_consistently_tiled_elementwise_code_needs_no_communication():
    # `b` tiles p first, so tactic order (b before a) differs from x's cut (a major, b minor)
    rng = np.random.default_rng(2)
    q, x = rng.normal(size=8), rng.normal(size=(16, 4))
    p = apply(ppc.compile(scaled), [tile("p", 0, "b"), tile("x", 0, "a"), tile("x", 0, "b")], MESH)
    assert prims(p, q, x) == []
    for got, want in zip(p(q, x), scaled(q, x)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13)


def test_malformed_tactics_are_named():
    with pytest.raises(TypeError, match="integer dim"):
        tile("x", "0", "a")
    with pytest.raises(TypeError, match="as strings"):
        tile(0, 0, "a")
    assert tile("x", np.int64(1), "a") == tile("x", 1, "a")
    p = apply(ppc.compile(scaled), ["x"], MESH)
    with pytest.raises(TypeError, match="not a tactic: 'x'"):
        p.ir(np.ones(8), np.ones((8, 4)))


def square(x):
    return x @ x, np.einsum("bij,bkj->bik", x[None], x[None])[0], x.T @ x


def test_one_value_at_two_positions_of_a_matmul():
    # the left x is cut by rows, the right one must then be whole (was a shape crash)
    x = np.random.default_rng(3).normal(size=(8, 8))
    for tactics in ([tile("x", 0, "a")], [tile("x", 1, "a")], [tile("x", 0, "a"), tile("x", 1, "b")]):
        p = apply(ppc.compile(square), tactics, MESH)
        for got, want in zip(p(x), square(x)):
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def hlo_collective_bytes(p, *args):
    """Payload bytes by collective in the compiled HLO, and in `p.simulate`."""
    from ppc.partition.simulator import hlo_collectives
    report = p.simulate(*args).collective_bytes()
    exe = p._executable(p.specialize(*args)).lower(*args).compile()
    hlo = {k: 0 for k in report}
    for c in hlo_collectives(exe.as_text()):
        hlo[c.prim] += c.payload
    return report, hlo


def triangle_and_transpose(x):
    mask = np.arange(64)[:, None] >= np.arange(64)[None, :]
    return x * mask + mask.T


def test_collectives_of_constant_values_are_simulated():
    # the mask is made from constants alone, held as its transpose is wanted, and the
    # all_to_all moving its cut for `x * mask` runs (XLA folds no collective)
    x = np.random.default_rng(4).normal(size=(64, 64))
    p = apply(ppc.compile(triangle_and_transpose), [tile("x", 0, "a")], MESH)
    np.testing.assert_array_equal(np.asarray(p(x)), triangle_and_transpose(x))
    assert "all_to_all" in prims(p, x)
    simulated, hlo = hlo_collective_bytes(p, x)
    assert hlo["all_to_all"] == 64 * 16  # the bool mask's tile
    assert simulated == hlo


def scatter_loss(x, i, v):
    return np.sum(x.at[i].set(v) * 2.0 + x.at[i].max(v) * x.at[i].mul(v))


@pytest.mark.parametrize("tactics", [[tile("x", 0, "a")], [tile("x", 1, "a"), tile("i", 0, "b")],
                                     [tile("v", 1, "a"), tile("x", 0, "b")]])
def test_a_value_made_whole_is_not_gathered_again(tactics):
    """A scatter runs whole and its result is sliced to the plan's tiling; a use wanting it
    whole takes the scatter's result, not an all_gather of the slice (in the gradients XLA
    removed that gather, and the simulator counted 256 bytes the program never moved)."""
    rng = np.random.default_rng(7)
    x, i, v = rng.normal(size=(8, 4)), np.array([1, 3, 3, -1, 9, 0]), rng.normal(size=(6, 4))
    for f in (ppc.grad(scatter_loss, argnums=(0, 2)), ppc.hessian(scatter_loss, argnums=2)):
        p = apply(f, tactics, MESH)
        for got, want in zip(p(x, i, v), f(x, i, v)):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12)
        simulated, hlo = hlo_collective_bytes(p, x, i, v)
        assert simulated == hlo
        ops = list(walk_ops(p.ir(x, i, v).entry.body))
        sliced = {r for op in ops if op.prim == "shard_slice" for r in op.results}
        assert not [op for op in ops if op.prim == "all_gather" and op.operands[0] in sliced]


def outer(u, v, empty):
    return u[:, None] * v[None, :], u[None] + 1.0, empty.reshape(0, 8)


def test_reshapes_adding_unit_dims_keep_the_cut():
    # `u[:, None]` once cut u's tiling off (a gather); a zero-size reshape crashed the rule
    rng = np.random.default_rng(6)
    u, v, empty = rng.normal(size=8), rng.normal(size=6), np.ones((0, 4))
    p = apply(ppc.compile(outer), [tile("u", 0, "a"), tile("v", 0, "b")], MESH)
    assert prims(p, u, v, empty) == []
    for got, want in zip(p(u, v, empty), outer(u, v, empty)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-13)


def test_tuple_arguments_are_held_whole():
    """A function taking a tuple partitions (tuple_get and make_tuple replicate); tiling
    the tuple itself is refused by name. Was: "cannot partition 'tuple_get'"."""
    def f(t, z):
        a, b = t
        return np.tanh(z * a) + b
    t, z = (np.float64(2.0), np.arange(8.0)), np.linspace(0.0, 1.0, 8)
    got = apply(ppc.compile(f), [tile("z", 0, "a")], MESH)(t, z)
    np.testing.assert_allclose(got, f(t, z), rtol=1e-12)
    with pytest.raises(ppc.partition.PartitionError, match="'t' has type tuple"):
        apply(ppc.compile(f), [tile("t", 0, "a")], MESH)(t, z)
