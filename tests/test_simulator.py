"""The cost simulator against XLA: per-device flops and transcendentals equal
`cost_analysis()` of the compiled program, and collective payloads equal those of the
collectives in the compiled HLO, for every strategy."""
import jax
import numpy as np
import pytest

import ppc
from ppc.ir import Function, Module, Op, Region, Value
from ppc.ir.registry import REGISTRY, MissingRule
from ppc.ir.types import TensorType
from ppc.partition import Mesh, apply, tile
from ppc.partition.simulator import Collective, CostModel, hlo_collectives, simulate, table

from partition_programs import MESH, STRATEGIES, step

pytestmark = pytest.mark.skipif(len(jax.devices()) < 8, reason="needs 8 (emulated) devices")


def args():
    rng = np.random.default_rng(0)
    return [rng.normal(size=s).astype(np.float32) for s in ((64, 128), (128, 16), (256, 64), (256, 16))]


def compiled(p, a):
    spec = p.specialize(*a)
    return p._executable(spec).lower(*a).compile()


@pytest.mark.parametrize("name", STRATEGIES)
def test_simulated_costs_equal_xla(name):
    a = args()
    p = apply(step, STRATEGIES[name], MESH)
    report = p.simulate(*a)
    exe = compiled(p, a)
    cost = exe.cost_analysis()
    assert report.flops == cost["flops"]
    assert report.transcendentals == cost.get("transcendentals", 0.0)
    hlo = {k: 0 for k in report.collective_bytes()}
    for c in hlo_collectives(exe.as_text()):
        hlo[c.prim] += c.payload
    assert report.collective_bytes() == hlo
    assert (sum(hlo.values()) == 0) == (name == "none")


def test_partitioning_divides_compute_and_memory():
    a = args()
    whole = apply(step, [], MESH).simulate(*a)
    batch = apply(step, STRATEGIES["batch"], MESH).simulate(*a)
    assert batch.flops < whole.flops / 3
    assert batch.peak_bytes < whole.peak_bytes
    assert whole.peak_bytes >= sum(x.nbytes for x in a)  # inputs stay live


def single_op_cost(name, dtype):
    t = TensorType((1000,), dtype)
    n_operands = 3 if name == "select" else (2 if len(REGISTRY[name].infer.__code__.co_varnames) > 1
                                             and name not in ("convert",) else 1)
    types = [TensorType((1000,), "bool"), t, t] if name == "select" else [t] * n_operands
    attrs = {"dtype": "i32"} if name == "convert" else {}
    params = [Value(ty) for ty in types]
    outs = [Value(o) for o in REGISTRY[name].infer(*types, **attrs)]
    module = Module([Function("f", Region(params, [Op(name, params, attrs, outs), Op("return", outs, {}, [])]),
                              [o.type for o in outs])])
    from ppc.backends.jax import compile_module
    _, fn = compile_module(module)
    host = [np.full(ty.shape, 0.5 if ty.dtype == "f32" else 1, {"f32": np.float32, "i32": np.int32,
                                                                  "bool": np.bool_}[ty.dtype]) for ty in types]
    cost = fn.lower(*host).compile().cost_analysis()
    return simulate(module, {}), cost


INTEGRAL = {"not", "and", "or", "xor", "shift_left", "shift_right"}


# the primitives whose cost rule is an exact per-element count
ELEMENTWISE = sorted(n for n, p in REGISTRY.items()
                     if hasattr(p.cost, "per_element") and not getattr(p.cost, "estimated", False))


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_elementwise_cost_matches_xla(name):
    """The per-element table is XLA's count of JAX's lowering; if JAX changes a lowering,
    this names the primitive whose entry must change."""
    report, cost = single_op_cost(name, "i32" if name in INTEGRAL else "f32")
    assert (report.flops, report.transcendentals) == (cost.get("flops", 0.0), cost.get("transcendentals", 0.0))


def retile(x, y):
    return np.tanh(x + np.cumsum(y, axis=0))


def test_all_to_all_bytes_and_estimates_are_named():
    x, y = np.ones((8, 16), np.float32), np.ones((8, 16), np.float32)
    p = apply(ppc.compile(retile), [tile("x", 0, "batch"), tile("y", 1, "batch")], Mesh({"batch": 4}))
    report = p.simulate(x, y)
    exe = compiled(p, [x, y])
    assert [c for c in report.collectives] == hlo_collectives(exe.as_text())
    assert report.collectives[0].prim == "all_to_all"
    assert report.approximate == {"cumsum"}
    assert report.flops == exe.cost_analysis()["flops"]  # a short scan: XLA's reduce-window count


def test_every_primitive_has_a_cost_rule():
    """Random variables are rewritten into densities or draws before anything is partitioned;
    control flow (regions, calls) is costed from its parts."""
    missing = [n for n, p in REGISTRY.items() if not p.effect and not p.regions and n != "call" and p.cost is None]
    assert not missing, f"primitives without a cost rule: {missing}"


def test_a_primitive_without_a_cost_rule_is_named():
    t = TensorType((3,), "f32")
    x, y = Value(t), Value(t)
    module = Module([Function("f", Region([x], [Op("observe", [x], {}, [y]), Op("return", [y], {}, [])]), [t])])
    with pytest.raises(MissingRule, match="'observe' has no cost"):
        simulate(module, {})


def test_hlo_collectives_reads_tuples_and_iota_groups():
    text = """
  %all-reduce = (f32[128,64]{1,0}, f32[16,128]{1,0}) all-reduce(%a, %b), channel_id=1, replica_groups={{0,2,4,6},{1,3,5,7}}, to_apply=%r
  %rs = f32[16,32]{0,1} reduce-scatter(%c), channel_id=2, replica_groups=[2,4]<=[4,2]T(1,0), dimensions={1}, to_apply=%r
  %ag = f64[8]{0} all-gather(%d), channel_id=3, replica_groups=[4,2]<=[8], dimensions={0}
  %ag.1 = f32[1024,256]{1,0} all-gather(%e), channel_id=5, replica_groups=mesh['axis_0'=2,'axis_1'=1,'axis_2'=4], device_ids=([4,2]T(1,0)) {'axis_0'}, dimensions={0}
  %ag.2 = f32[512,512]{1,0} all-gather(%p), channel_id=1, replica_groups=mesh['axis_0'=4,'axis_1'=2] {'axis_0'}, dimensions={0}
"""
    got = hlo_collectives(text)
    assert got == [Collective("all_reduce", 4, (128 * 64 + 16 * 128) * 4),
                   Collective("reduce_scatter", 4, 16 * 32 * 4 * 4), Collective("all_gather", 2, 64),
                   Collective("all_gather", 2, 1024 * 256 * 4), Collective("all_gather", 4, 512 * 512 * 4)]


def test_ring_model_time():
    model = CostModel(flops_per_s=1e9, transcendentals_per_s=1e8, link_bytes_per_s=1e6, hop_latency_s=1e-3)
    t = TensorType((250,), "f32")  # 1000 bytes
    x, y = Value(t), Value(t)
    module = Module([Function("f", Region([x], [Op("all_reduce", [x], {"axes": ("a",), "reduce": "sum"}, [y]),
                                                 Op("return", [y], {}, [])]), [t])])
    report = simulate(module, {"a": 4}, model)
    assert str(report) == ("per device: 2.5e-07 GFLOP, 0 M transcendentals, peak 0.00191 MiB; collectives: "
                           "all_reduce 1.0 KiB; predicted 7.5 ms (0.00025 compute + 7.5 communication)")
    assert report.flops == 250
    assert report.comm_s == pytest.approx(2 * 3 / 4 * 1000 / 1e6 + 6 * 1e-3)
    assert report.compute_s == pytest.approx(250 / 1e9)


def loop(x):
    for i in range(10):
        x = x * 2.0
    return x


def test_loops_count_one_trip_like_xla_and_predict_every_trip():
    x = np.ones(64, np.float32)
    p = apply(ppc.compile(loop), [tile("x", 0, "batch")], MESH)
    report = p.simulate(x)
    assert report.flops == compiled(p, [x]).cost_analysis()["flops"]
    assert report.executed_flops == 10 * report.flops


def test_table_ranks_strategies():
    a = args()
    reports = {name: apply(step, tactics, MESH).simulate(*a) for name, tactics in STRATEGIES.items()}
    text = table(reports, {name: 1e-3 * (i + 1) for i, name in enumerate(reports)})
    lines = text.splitlines()
    assert len(lines) == 2 + len(STRATEGIES) and "pred rank" in lines[0] and "measured rank" in lines[0]
    fastest = min(reports, key=lambda k: reports[k].time_s)
    assert any(line.startswith(f"| {fastest} ") and "| 1 " in line for line in lines)
