"""A loop around a batched recursion: compiled whole, against calling the batch from Python.

A user's outer loop (a sampler's iterations, a search's rounds) calls a batched
recursive function at every step, each step's input depending on the last step's
output. Compiled code may call a program-counter batch, so `ppc.compile` makes the whole
loop one XLA program with the machine inside it (README, Batching). What a user would
otherwise write is the same loop in Python, calling the batched function once per
iteration: each call is a host round trip (arguments placed, the machine run, its
results and overflow flag read back). The recursion is `fib` with each member's depth
drawn from the previous iteration's results; the script checks both against plain Python
run per member, then prints the first call (compilation included) and the median of
later calls.

    python benchmarks/batched_calls.py                       # 10, 100, 1000 members; 50 iterations
    python benchmarks/batched_calls.py --members 100 --iterations 20 --repeats 7
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

import ppc  # noqa: E402
from timing import timed  # noqa: E402


def fib(n):
    if n < 2:
        return 1
    return fib(n - 1) + fib(n - 2)


FIB = ppc.autobatch(fib)


def rounds(ns, iterations):
    """Each round's depths come from the last round's results (so rounds cannot be batched
    together)."""
    total = ns * 0
    for i in range(iterations):
        total = total + FIB((ns + total) % 8 + 4)
    return total


def rounds_python(ns, iterations):
    total = [0] * len(ns)
    for _ in range(iterations):
        total = [t + fib((n + t) % 8 + 4) for n, t in zip(ns, total)]
    return np.array(total)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", default="10,100,1000")
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    k = args.iterations
    compiled = ppc.compile(rounds, static_argnums=1)
    print(f"{k} rounds of a batched fib (depths 4-11), each round's depths from the last's results")
    print()
    print("| members | compiled whole: first s | later ms | Python loop of batch calls: first s | later ms "
          "| loop / compiled, later |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in [int(v) for v in args.members.split(",")]:
        ns = np.random.default_rng(n).integers(0, 8, n)
        want = rounds_python(ns, k)
        got1, f1, l1 = timed(lambda: compiled(ns, k), args.repeats)
        got2, f2, l2 = timed(lambda: rounds(ns, k), args.repeats)
        for name, got in (("compiled", got1), ("Python loop", got2)):
            if not np.array_equal(np.asarray(got), want):
                raise SystemExit(f"{n} members: the {name} results differ from plain Python's")
        print(f"| {n} | {f1:.2f} | {1e3 * l1:.1f} | {f2:.2f} | {1e3 * l2:.1f} | {l2 / l1:.2f} |")


if __name__ == "__main__":
    main()
