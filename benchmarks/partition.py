#!/usr/bin/env python
"""Partitioning strategies for one MLP training step: the simulator's prediction beside
measured times, and ppc's partitioned step beside what a JAX user would write instead.

The step is `w - lr * grad(loss)` for a two-layer tanh MLP with a squared-error loss
(float32; x: 4096x512, w1: 512x1024, w2: 1024x256, y: 4096x256; 15 GFLOP per step),
written once in plain NumPy and compiled by ppc. Each strategy is a list of tactics on a
`batch=4 x model=2` mesh of 8 devices (on CPU, 8 devices emulated with
--xla_force_host_platform_device_count=8, all sharing this machine's cores):

    replicated       no tactics: every device runs the whole step
    batch            x, y tiled by rows over `batch` (data parallel)
    megatron         w1 by columns and w2 by rows over `model`
    batch+megatron   both
    zero             data parallel, w1 and w2 sharded over `batch` too (gathered for use)
    zero+megatron    data parallel, w1 cut over `model` and `batch`

For each strategy the script

  (a) checks the partitioned step against the unpartitioned one (abort on mismatch);
  (b) runs the simulator (ppc.partition.simulator) on the per-device program and checks its
      flops against XLA's cost_analysis() and its collective bytes against the compiled
      HLO (printed, not asserted: the tests assert them);
  (c) times the ppc step and, as the baseline, a hand-written jax.numpy step under jax.jit
      with the same input shardings (NamedSharding), left to XLA's SPMD partitioner;
      median of --reps calls to block_until_ready, interleaved.

The cost model's rates are measured here first: per-device flops/s from a large matmul
and transcendentals/s from tanh, divided by the devices sharing the cores, and the link
bandwidth and per-hop latency from timed all-reduces on the mesh.

Run: python benchmarks/partition.py [--quick] [--reps N]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

if "jax" not in sys.modules and "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

HERE = pathlib.Path(__file__).resolve().parent
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"  # every compile is timed afresh: no persistent cache
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

import ppc  # noqa: E402
from ppc.partition import Mesh, apply, tile  # noqa: E402
from ppc.partition.simulator import CostModel, hlo_collectives, table  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import NamedSharding, PartitionSpec as P  # noqa: E402

LR = 0.01


def loss(w1, w2, x, y):
    h = np.tanh(x @ w1)
    return np.mean((h @ w2 - y) ** 2)


loss_grad = ppc.grad(loss, argnums=(0, 1))


def train_step(w1, w2, x, y):
    g1, g2 = loss_grad(w1, w2, x, y)
    return w1 - LR * g1, w2 - LR * g2


def jax_step(w1, w2, x, y):
    def jloss(w1, w2):
        return jnp.mean((jnp.tanh(x @ w1) @ w2 - y) ** 2)
    g1, g2 = jax.grad(jloss, argnums=(0, 1))(w1, w2)
    return w1 - LR * g1, w2 - LR * g2


STRATEGIES = {
    "replicated": [],
    "batch": [tile("x", 0, "batch"), tile("y", 0, "batch")],
    "megatron": [tile("w1", 1, "model"), tile("w2", 0, "model")],
    "batch+megatron": [tile("x", 0, "batch"), tile("y", 0, "batch"), tile("w1", 1, "model"), tile("w2", 0, "model")],
    "zero": [tile("x", 0, "batch"), tile("y", 0, "batch"), tile("w1", 1, "batch"), tile("w2", 0, "batch")],
    "zero+megatron": [tile("x", 0, "batch"), tile("y", 0, "batch"), tile("w1", 1, "model"), tile("w1", 0, "batch")],
}
NAMES = ("w1", "w2", "x", "y")


def spec_of(tactics, name, rank):
    dims = [[] for _ in range(rank)]
    for t in tactics:
        if t.input_name == name:
            dims[t.dim].append(t.mesh_axis)
    return P(*[None if not a else a[0] if len(a) == 1 else tuple(a) for a in dims])


def timed(fn, args, reps):
    jax.block_until_ready(fn(*args))
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        out.append(time.perf_counter() - t)
    return out


def fit_cost_model(jmesh, devices: int) -> CostModel:
    """Per-device rates on this machine with `devices` devices sharing its cores."""
    a = jnp.ones((2048, 2048), jnp.float32)
    mm = jax.jit(lambda a: a @ a)
    t = statistics.median(timed(mm, [a], 5))
    flops = 2 * 2048 ** 3 / t / devices
    v = jnp.ones(1 << 22, jnp.float32)
    th = jax.jit(jnp.tanh)
    trans = v.size / statistics.median(timed(th, [v], 5)) / devices

    def psum(n):
        f = jax.jit(jax.shard_map(lambda x: jax.lax.psum(x, tuple(jmesh.axis_names)), mesh=jmesh,
                                  in_specs=P(), out_specs=P(), check_vma=False))
        return statistics.median(timed(f, [jnp.ones(n, jnp.float32)], 7))
    small, big = psum(1), psum(1 << 20)
    p = devices
    latency = small / (2 * (p - 1))
    bandwidth = 2 * (p - 1) / p * 4 * (1 << 20) / max(big - small, 1e-9)
    return CostModel(flops_per_s=flops, transcendentals_per_s=trans, link_bytes_per_s=bandwidth,
                     hop_latency_s=latency)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller problem, fewer repetitions")
    ap.add_argument("--reps", type=int, default=None)
    a = ap.parse_args(argv)
    reps = a.reps or (3 if a.quick else 9)
    n, d, h, o = (1024, 256, 512, 128) if a.quick else (4096, 512, 1024, 256)

    mesh = Mesh({"batch": 4, "model": 2})
    if len(jax.devices()) < mesh.size:
        sys.exit(f"needs {mesh.size} devices, JAX sees {len(jax.devices())}")
    jmesh = jax.sharding.Mesh(np.array(jax.devices()[:mesh.size]).reshape(4, 2), ("batch", "model"))
    model = fit_cost_model(jmesh, mesh.size)
    print(f"devices: {mesh.size} x {jax.devices()[0].platform} ({os.cpu_count()} cores); fitted cost model: "
          f"{model.flops_per_s / 1e9:.2f} GFLOP/s and {model.transcendentals_per_s / 1e9:.3f} G transcendentals/s "
          f"per device, links {model.link_bytes_per_s / 1e9:.2f} GB/s, {model.hop_latency_s * 1e6:.1f} us per hop")

    rng = np.random.default_rng(0)
    args = [(rng.normal(size=s) / np.sqrt(s[0])).astype(np.float32) for s in ((d, h), (h, o), (n, d), (n, o))]
    step = ppc.compile(train_step)
    want = step(*args)

    reports, measured, rows = {}, {}, []
    for name, tactics in STRATEGIES.items():
        p = apply(step, tactics, mesh)
        got = p(*args)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-4, atol=2e-6)
        report = p.simulate(*args, model=model)
        reports[name] = report
        spec = p.specialize(*args)
        exe = p._executable(spec).lower(*args).compile()
        xla_flops = exe.cost_analysis()["flops"]
        hlo_bytes = sum(c.payload for c in hlo_collectives(exe.as_text()))

        shardings = [NamedSharding(jmesh, spec_of(tactics, nm, x.ndim)) for nm, x in zip(NAMES, args)]
        placed = [jax.device_put(x, s) for x, s in zip(args, shardings)]
        baseline = jax.jit(jax_step, in_shardings=shardings, out_shardings=tuple(shardings[:2]))
        for g, w in zip(baseline(*placed), want):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-4, atol=2e-6)
        ppc_t, jax_t = [], []
        for _ in range(2):  # interleaved: ppc, jax, then again
            ppc_t += timed(p, placed, reps)
            jax_t += timed(baseline, placed, reps)
        measured[name] = statistics.median(ppc_t)
        rows.append((name, report.flops, xla_flops, sum(report.collective_bytes().values()), hlo_bytes,
                     measured[name], statistics.median(jax_t)))

    print("\n## Simulator: per device, one step\n")
    print(table(reports, measured))
    print("\n## Simulator against XLA, ppc against jax.jit with the same shardings (GSPMD)\n")
    print("| strategy | sim GFLOP | XLA GFLOP | sim coll. KiB | HLO coll. KiB | ppc ms | jax.jit ms | ppc / jax |")
    print("|---|---|---|---|---|---|---|---|")
    for name, sf, xf, sb, hb, pt, jt in rows:
        print(f"| {name} | {sf / 1e9:.4f} | {xf / 1e9:.4f} | {sb / 1024:.1f} | {hb / 1024:.1f} | {pt * 1e3:.2f} | "
              f"{jt * 1e3:.2f} | {pt / jt:.2f} |")
    pred = sorted(reports, key=lambda k: reports[k].time_s)
    meas = sorted(measured, key=measured.get)
    print(f"\npredicted fastest: {pred[0]}; measured fastest: {meas[0]}; "
          f"predicted order {' < '.join(pred)}; measured order {' < '.join(meas)}")


if __name__ == "__main__":
    main()
