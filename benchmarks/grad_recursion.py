#!/usr/bin/env python
"""The gradient of a recursive function: ppc.grad against what a JAX user has.

The function is a binary tree recursion on a float, `tree(x, d)`, with 2^d-ish calls at
depth d. ppc compiles the recursion once, for every depth: its gradient is a recursive
VJP run on the program-counter machine, which recomputes each call's primal when its
cotangent arrives (ppc/passes/ad/recursion.py), so it does about d times the calls'
work. JAX's choices: `jax.jit(jax.grad(f), static_argnums=1)`, where Python unrolls the
recursion while tracing, so each depth is a new program of 2^d calls inlined, compiled
anew; and `jax.grad` without jit, which runs op by op. ppc can unroll too, when the depth
is a static argument (`ppc.compile(tree, static_argnums=1)`). The script checks the three
gradients agree, then prints the first call (compilation included) and the median of
later calls, per depth. Each depth is a new argument value for JAX (a recompile) and the
same program for ppc.

A second table batches it: members at depths drawn from 0 to the largest depth, whose
gradients ppc.autobatch runs as one program-counter machine (each member at its own
place in the recursion), against a loop over members calling the jitted gradient of each
member's depth (compiled once per distinct depth, which the first call includes): JAX
cannot vmap a Python recursion whose depth differs between members.

A third table differentiates a chain of calls, `chain(x, n) = x * chain(x, n - 1) + sin x`,
whose calls' residuals the gradient records on a tape, against the recomputation the
tree uses.

    python benchmarks/grad_recursion.py                 # depths 4, 8, 12; batches of 100, 1000
    python benchmarks/grad_recursion.py --depths 6,10 --batches 10,100 --repeats 7
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"  # every compile is timed afresh
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

import ppc  # noqa: E402  (turns JAX's 64-bit mode on)
from timing import timed  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402


def tree(x, d):
    if d <= 0:
        return np.sin(x)
    return tree(x * 0.9, d - 1) * tree(x + 0.1, d - 2) + x


def tree_jax(x, d):
    if d <= 0:
        return jnp.sin(x)
    return tree_jax(x * 0.9, d - 1) * tree_jax(x + 0.1, d - 2) + x


def chain(x, n):
    if n <= 0:
        return x
    return x * chain(x, n - 1) + np.sin(x)


def chain_jax(x, n):
    if n <= 0:
        return x
    return x * chain_jax(x, n - 1) + jnp.sin(x)


def calls(d):
    return 1 if d <= 0 else 1 + calls(d - 1) + calls(d - 2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depths", default="4,8,12")
    ap.add_argument("--batches", default="100,1000")
    ap.add_argument("--chain", default="10,40,100")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    x = 0.3
    ours = ppc.grad(tree)
    unrolled = ppc.grad(ppc.compile(tree, static_argnums=1))  # (the depth static: Python unrolls it, as under jit)
    jitted = jax.jit(jax.grad(tree_jax), static_argnums=1)
    eager = jax.grad(tree_jax)
    print("| depth | calls | ppc.grad first s | ppc.grad later ms | jit(grad) first s | jit(grad) later ms "
          "| grad, no jit, ms | ppc static depth: first s, later ms | ppc / jit later |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for d in [int(v) for v in args.depths.split(",")]:
        g1, f1, l1 = timed(lambda: ours(x, d), args.repeats)
        g2, f2, l2 = timed(lambda: jitted(x, d), args.repeats)
        g3, _, l3 = timed(lambda: eager(x, d), max(1, args.repeats // 2))
        g4, f4, l4 = timed(lambda: unrolled(x, d), args.repeats)
        if not all(np.isclose(g1, g, rtol=1e-10) for g in (g2, g3, g4)):
            raise SystemExit(f"depth {d}: the gradients differ: ppc {g1}, jit {g2}, eager {g3}, ppc static {g4}")
        print(f"| {d} | {calls(d)} | {f1:.2f} | {1e3 * l1:.2f} | {f2:.2f} | {1e3 * l2:.3f} | {1e3 * l3:.1f} "
              f"| {f4:.2f}, {1e3 * l4:.3f} | {l1 / l2:.0f} |")
    chain_table(args)
    top = max(int(v) for v in args.depths.split(","))
    batched = ppc.autobatch(ppc.grad(tree))
    print()
    print(f"| members (depths 0-{top}) | ppc.autobatch first s | later s | loop of jit(grad) first s | later s "
          "| loop / ppc, later |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in [int(v) for v in args.batches.split(",")]:
        rng = np.random.default_rng(n)
        xs, ds = rng.uniform(-1, 1, n), rng.integers(0, top + 1, n)
        loop_jit = jax.jit(jax.grad(tree_jax), static_argnums=1)  # (fresh: its compiles are in the first call)
        _, f1, l1 = timed(lambda: batched(xs, ds)[0], max(1, args.repeats // 2))
        _, f2, l2 = timed(lambda: [loop_jit(x, int(d)) for x, d in zip(xs, ds)][0], max(1, args.repeats // 2))
        got = np.asarray(batched(xs, ds))
        want = np.array([float(loop_jit(x, int(d))) for x, d in zip(xs, ds)])
        if not np.allclose(got, want, rtol=1e-10):
            raise SystemExit(f"{n} members: the batched gradients differ from the loop's")
        print(f"| {n} | {f1:.2f} | {l1:.3f} | {f2:.2f} | {l2:.3f} | {l2 / l1:.2f} |")


def chain_table(args):
    """A chain of calls: the tape runs each call forward and backward once, where
    recomputation (forced here by allowing no record) reruns the rest of the chain."""
    from ppc.passes.ad import recursion
    taped = ppc.grad(chain)
    limit, recursion.RECORD_LIMIT = recursion.RECORD_LIMIT, 0
    recomputed = ppc.grad(chain)
    recomputed(0.3, 1)  # (built while no record is allowed)
    recursion.RECORD_LIMIT = limit
    jitted = jax.jit(jax.grad(chain_jax), static_argnums=1)
    print()
    print("| chain length | ppc tape: steps, later ms | ppc recompute: steps, later ms | jit(grad) later ms "
          "| recompute / tape |")
    print("|---:|---|---|---:|---:|")
    for n in [int(v) for v in args.chain.split(",")]:
        g1, _, l1 = timed(lambda: taped(0.3, n), args.repeats)
        s1 = taped.stats.steps
        g2, _, l2 = timed(lambda: recomputed(0.3, n), args.repeats)
        s2 = recomputed.stats.steps
        g3, _, l3 = timed(lambda: jitted(0.3, n), args.repeats)
        if not all(np.isclose(g1, g, rtol=1e-10) for g in (g2, g3)):
            raise SystemExit(f"chain {n}: the gradients differ: tape {g1}, recompute {g2}, jit {g3}")
        print(f"| {n} | {s1}, {1e3 * l1:.2f} | {s2}, {1e3 * l2:.2f} | {1e3 * l3:.3f} | {l2 / l1:.1f} |")
    print()


if __name__ == "__main__":
    main()
