#!/usr/bin/env python
"""The same ppc programs on both backends: JAX (`jax.jit`) against TensorFlow
(`tf.function(jit_compile=True)`), each compiled by ppc from one IR.

Rows (float32 unless said): a logistic-regression log likelihood forward pass and its
`ppc.grad` (N=10000, D=50); an MLP forward pass and the gradient of its loss with
respect to its parameters (batch 128, 64 -> 128 tanh -> 10); a 100-step leapfrog
trajectory (a `for` loop; D=1000); and batched NUTS steps: `ppc.infer.nuts`'s own
recursive sampler on the program-counter machine, 16 chains of a Bayesian logistic
regression (N=1000, D=10, float64), one call = 10 draws per chain, at a step size and
mass matrix taken from a JAX warmup and shared by both backends.

Timing: both backends first compile and agree (results compared to float32 tolerance;
NUTS by its mean tree size), then interleaved rounds time each; a round times `reps`
calls and gives the median per call. JAX calls are timed to `block_until_ready`; TF
calls include ppc's conversion of results to NumPy (what a user gets). The table gives
medians over rounds and the ratio TF / JAX (above 1: TF slower). For NUTS, per call,
and per useful leapfrog step (the two backends draw different random numbers, so their
trees differ).

Run: python benchmarks/backends.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = pathlib.Path(__file__).resolve().parent
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"  # every compile is timed afresh: no persistent cache
sys.path.insert(0, str(HERE.parent))  # the repository root: `import ppc` without installing

import jax  # noqa: E402
import numpy as np  # noqa: E402

import ppc  # noqa: E402
from ppc.autobatch import shared  # noqa: E402
import ppc.infer  # noqa: E402
from ppc.infer.nuts import leapfrog_block, make_nuts  # noqa: E402

BACKENDS = ("jax", "tf")


# ============================================================================ programs

def logreg_loglik(w, X, y):
    logits = X @ w
    return np.sum(y * logits - np.logaddexp(0.0, logits))


def mlp_forward(params, x):
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    return h @ w2 + b2


def mlp_loss(params, x, labels):
    logits = mlp_forward(params, x)
    m = np.max(logits, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(logits - m), axis=1))
    return np.mean(lse - np.sum(logits * labels, axis=1))


def leapfrog(q, p, eps):
    p = p - 0.5 * eps * q
    for _ in range(100):
        q = q + eps * p
        p = p - eps * q
    p = p + 0.5 * eps * q
    return q, p


def logistic_model(X):
    w = ppc.Normal(np.zeros(X.shape[1]), 1.0)
    b = ppc.Normal(0.0, 10.0)
    y = ppc.Bernoulli(logits=X @ w + b)
    return y


# ============================================================================ timing

def block(out):
    return jax.block_until_ready(out)


def per_call(fn, args, reps):
    t = time.perf_counter()
    for _ in range(reps):
        block(fn(*args))
    return (time.perf_counter() - t) / reps


def close(a, b, path="result"):
    if isinstance(a, (tuple, list)):
        for i, (x, y) in enumerate(zip(a, b)):
            close(x, y, f"{path}[{i}]")
        return
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale, err_msg=path)


def dense_rows(rng):
    f32 = np.float32
    w, X = rng.normal(size=50).astype(f32), rng.normal(size=(10000, 50)).astype(f32)
    y = (rng.uniform(size=10000) < 0.5).astype(f32)
    params = (rng.normal(size=(64, 128)).astype(f32) * 0.1, np.zeros(128, f32),
              rng.normal(size=(128, 10)).astype(f32) * 0.1, np.zeros(10, f32))
    x = rng.normal(size=(128, 64)).astype(f32)
    labels = np.eye(10, dtype=f32)[rng.integers(0, 10, 128)]
    q, p = rng.normal(size=1000).astype(f32), rng.normal(size=1000).astype(f32)
    return [
        ("logistic regression loglik, forward (N=10000, D=50)", logreg_loglik, None, (w, X, y)),
        ("logistic regression loglik, ppc.grad", logreg_loglik, "grad", (w, X, y)),
        ("MLP forward (128x64 -> 128 tanh -> 10)", mlp_forward, None, (params, x)),
        ("MLP loss, ppc.grad wrt params", mlp_loss, "grad", (params, x, labels)),
        ("leapfrog, 100 steps (D=1000)", leapfrog, None, (q, p, np.float32(0.01))),
    ]


def build(fn, kind, backend):
    f = ppc.compile(fn, backend=backend)
    return ppc.grad(f) if kind == "grad" else f


class NutsSteps:
    """One call of ppc's batched NUTS sampler (10 draws per chain), ready to time."""

    def __init__(self, backend, X, y, step_size, inv_mass, chains, chunk=10):
        model = ppc.condition(ppc.compile(logistic_model, backend=backend), y=y)
        u = ppc.unconstrained(model, X)
        vg = ppc.ad.value_and_grad_with_overflow(u.log_density_fn)
        self.sampler = ppc.autobatch(ppc.compile(make_nuts(vg, 10, chunk), backend=backend),
                                     strategy="program_counter", max_stack_depth=12)
        rng = np.random.default_rng(1)
        q = rng.normal(scale=0.1, size=(chains, u.size))
        args = tuple(np.asarray(a) for a in u.args)
        (lp, g), _ = ppc.autobatch(vg, strategy="local_static")(q, *[a[None] for a in args])
        lp, g = np.asarray(lp), np.asarray(g)
        log_eps = np.full(chains, np.log(step_size))
        zeros = np.zeros(chains)
        keys = jax.random.split(jax.random.key(0), chains)
        self.args = (q, lp, g, log_eps, np.tile(inv_mass, (chains, 1)), zeros, zeros, zeros, log_eps + np.log(10.0),
                     keys, np.full(chains, chunk), False, 0.8, shared(args))
        self.chains = chains
        self.leapfrogs = []

    def __call__(self):
        out = self.sampler(*self.args)
        prog = self.sampler.specialize(*self.args).program
        self.leapfrogs.append(int(self.sampler.stats.served[leapfrog_block(prog)]))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--chains", type=int, default=16)
    opts = ap.parse_args()
    rounds = 3 if opts.quick else 7
    rng = np.random.default_rng(0)
    results = []  # (name, {backend: seconds per call}, extra column)

    for name, fn, kind, args in dense_rows(rng):
        fns = {b: build(fn, kind, b) for b in BACKENDS}
        outs = {b: block(fns[b](*args)) for b in BACKENDS}  # compile and warm up
        close(outs["tf"], outs["jax"])
        first = per_call(fns["jax"], args, 3)
        reps = max(3, min(200, int(0.2 / max(first, 1e-6))))
        times = {b: [] for b in BACKENDS}
        for r in range(rounds):
            for b in (BACKENDS if r % 2 == 0 else BACKENDS[::-1]):
                times[b].append(per_call(fns[b], args, reps))
        results.append((name, {b: statistics.median(t) for b, t in times.items()}, ""))
        print(f"  {name}: done", file=sys.stderr)

    # batched NUTS: adapt on JAX once, then both backends take the same step size and mass matrix
    n, d = 1000, 10
    X = rng.normal(size=(n, d))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ rng.normal(size=d))))).astype(np.int64)
    warm = ppc.infer.nuts(ppc.condition(logistic_model, y=y), X, chains=4, num_warmup=200, num_samples=20,
                          progress=False, diagnose=False)  # (adaptation only: 20 draws are too few to judge)
    step = float(np.mean(warm.sample_stats.attrs["step_size_final"]))
    inv_mass = np.mean(np.asarray(warm.sample_stats.attrs["inv_mass"]), axis=0)
    steps = {b: NutsSteps(b, X, y, step, inv_mass, opts.chains) for b in BACKENDS}
    for b in BACKENDS:
        steps[b]()  # compile
        steps[b].leapfrogs.clear()
    times = {b: [] for b in BACKENDS}
    for r in range(rounds):
        for b in (BACKENDS if r % 2 == 0 else BACKENDS[::-1]):
            t = time.perf_counter()
            steps[b]()
            times[b].append(time.perf_counter() - t)
    med = {b: statistics.median(t) for b, t in times.items()}
    per_lf = {b: sum(times[b]) / max(1, sum(steps[b].leapfrogs)) for b in BACKENDS}
    mean_tree = {b: sum(steps[b].leapfrogs) / (rounds * opts.chains * 10) for b in BACKENDS}
    # the two backends' trees should have about the same size (same sampler, same target)
    assert 0.7 < mean_tree["tf"] / mean_tree["jax"] < 1.4, mean_tree
    results.append((f"NUTS, {opts.chains} chains x 10 draws (logistic N={n} D={d}, f64)", med,
                    f"per useful leapfrog: JAX {per_lf['jax'] * 1e6:.1f} µs, TF {per_lf['tf'] * 1e6:.1f} µs "
                    f"(ratio {per_lf['tf'] / per_lf['jax']:.2f}); mean leapfrogs per draw "
                    f"{mean_tree['jax']:.1f} / {mean_tree['tf']:.1f}"))

    print("| program | JAX (ms) | TF (ms) | TF / JAX |")
    print("|---|---:|---:|---:|")
    for name, t, _ in results:
        print(f"| {name} | {t['jax'] * 1e3:.3f} | {t['tf'] * 1e3:.3f} | {t['tf'] / t['jax']:.2f} |")
    for name, _, extra in results:
        if extra:
            print(f"\n{name}: {extra}")


if __name__ == "__main__":
    main()
