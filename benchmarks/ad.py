#!/usr/bin/env python
"""ppc reverse mode (`ppc.grad`) against `jax.jit(jax.grad(...))`: runtime and XLA temp memory.

For each program this

  (a) checks ppc.grad's gradient against jax.grad's (float32 both; rtol 1e-4, atol 1e-5 x the
      largest gradient entry) and aborts on a mismatch; both are also compared against
      jax.grad of the same JAX program in float64, as a reference for their rounding error;
  (b) times, in interleaved rounds (ppc, jax, ppc-jitted-fn-alone, then reversed), the ppc
      gradient function, the hand-written `jax.jit(jax.grad(f))`, and the `jax.jit` function
      ppc generated called directly (without ppc's Python call wrapper); each call timed to
      `block_until_ready`, median per call, all given the same device arrays;
  (c) reads XLA's temp-buffer size from `memory_analysis()` of both compiled executables
      (`jax.jit(jax.grad(f)).lower(*args).compile()`, and the same on ppc's `spec.executable`),
      and the flop counts from `cost_analysis()`.

Programs (float32): the log joint of a Bayesian logistic regression (N=10000, D=50, grad w.r.t.
the weights); an MLP loss (batch 128, 64 -> 128 tanh -> 10, softmax cross-entropy via logsumexp),
grad w.r.t. a tuple of parameters and, separately, w.r.t. four array arguments
(argnums=(0,1,2,3)); a 100-step leapfrog trajectory (a Python `for _ in range(100)` loop)
for a D=100 diagonal Gaussian target and for a D=100 Bayesian logistic-regression target
(N=1000), grad of -H(q_100, p_100) w.r.t. the initial position q_0 (JAX: `lax.fori_loop`).

Run: python benchmarks/ad.py [--quick]
"""
from __future__ import annotations

import argparse
import gc
import os
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"  # every compile is timed afresh: no persistent cache
sys.path.insert(0, str(HERE.parent))  # the repository root: `import ppc` without installing
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from scipy.special import expit, logsumexp  # noqa: E402

import ppc  # noqa: E402
import ppc.backends.jax as ppc_jax  # noqa: E402  (enables jax_enable_x64, as ppc always does)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

from compile_overhead import block, logreg_inputs, time_runtime  # noqa: E402  (the same timing loop and data)

TARGET_RATIO = 1.10  # ppc grad runtime / jax.grad runtime
REPS = 5  # ppc AD compile-time repetitions
N_STEPS = 100  # leapfrog steps


# =============================================================================== programs
# The plain NumPy programs ppc differentiates (module-level so ppc can read their source) ...

def logreg_logjoint(w, X, y):
    logits = X @ w
    loglik = np.sum(y * logits - np.logaddexp(0.0, logits))
    return loglik - 0.5 * np.sum(w * w)  # N(0, 1) prior on the weights


def mlp_loss(params, x, onehot):
    W1, b1, W2, b2 = params
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    return np.mean(logsumexp(logits, axis=1) - np.sum(onehot * logits, axis=1))


def mlp_loss_args(W1, b1, W2, b2, x, onehot):
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    return np.mean(logsumexp(logits, axis=1) - np.sum(onehot * logits, axis=1))


def leapfrog_gaussian(q, p, eps, prec):
    # target N(0, diag(1 / prec)): grad log p(q) = -prec * q
    p = p - 0.5 * eps * prec * q
    for _ in range(100):
        q = q + eps * p
        p = p - eps * prec * q
    p = p + 0.5 * eps * prec * q
    return -0.5 * np.sum(prec * q * q) - 0.5 * np.sum(p * p)  # -H(q, p)


def leapfrog_logistic(q, p, eps, X, y):
    # target: Bayesian logistic regression posterior, N(0, 1) prior; grad log p(q) written out
    p = p + 0.5 * eps * (X.T @ (y - expit(X @ q)) - q)
    for _ in range(100):
        q = q + eps * p
        p = p + eps * (X.T @ (y - expit(X @ q)) - q)
    p = p - 0.5 * eps * (X.T @ (y - expit(X @ q)) - q)  # the last full step was half too much
    logits = X @ q
    logp = np.sum(y * logits - np.logaddexp(0.0, logits)) - 0.5 * np.sum(q * q)
    return logp - 0.5 * np.sum(p * p)  # -H(q, p)


# ... and what one would write by hand in jax.numpy (differentiated with jax.grad, jitted).

def jax_logreg_logjoint(w, X, y):
    logits = X @ w
    return jnp.sum(y * logits - jnp.logaddexp(0.0, logits)) - 0.5 * jnp.sum(w * w)


def jax_mlp_loss(params, x, onehot):
    W1, b1, W2, b2 = params
    h = jnp.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    return jnp.mean(jax.nn.logsumexp(logits, axis=1) - jnp.sum(onehot * logits, axis=1))


def jax_mlp_loss_args(W1, b1, W2, b2, x, onehot):
    return jax_mlp_loss((W1, b1, W2, b2), x, onehot)


def jax_leapfrog_gaussian(q, p, eps, prec):
    p = p - 0.5 * eps * prec * q

    def step(_, qp):
        q, p = qp
        q = q + eps * p
        return q, p - eps * prec * q

    q, p = lax.fori_loop(0, N_STEPS, step, (q, p))
    p = p + 0.5 * eps * prec * q
    return -0.5 * jnp.sum(prec * q * q) - 0.5 * jnp.sum(p * p)


def jax_leapfrog_logistic(q, p, eps, X, y):
    def grad_logp(q):
        return X.T @ (y - jax.nn.sigmoid(X @ q)) - q

    p = p + 0.5 * eps * grad_logp(q)

    def step(_, qp):
        q, p = qp
        q = q + eps * p
        return q, p + eps * grad_logp(q)

    q, p = lax.fori_loop(0, N_STEPS, step, (q, p))
    p = p - 0.5 * eps * grad_logp(q)
    logits = X @ q
    logp = jnp.sum(y * logits - jnp.logaddexp(0.0, logits)) - 0.5 * jnp.sum(q * q)
    return logp - 0.5 * jnp.sum(p * p)


# =============================================================================== inputs

def _mlp_arrays(rng):
    B, I, H, O = 128, 64, 128, 10
    params = ((rng.normal(size=(I, H)) / np.sqrt(I)).astype(np.float32),
              (0.1 * rng.normal(size=H)).astype(np.float32),
              (rng.normal(size=(H, O)) / np.sqrt(H)).astype(np.float32),
              (0.1 * rng.normal(size=O)).astype(np.float32))
    x = rng.normal(size=(B, I)).astype(np.float32)
    onehot = np.eye(O, dtype=np.float32)[rng.integers(0, O, size=B)]
    return params, x, onehot


def mlp_tuple_inputs(rng):
    params, x, onehot = _mlp_arrays(rng)
    return params, x, onehot


def mlp_args_inputs(rng):
    params, x, onehot = _mlp_arrays(rng)
    return (*params, x, onehot)


def leapfrog_gaussian_inputs(rng):
    D = 100
    return (rng.normal(size=D).astype(np.float32), rng.normal(size=D).astype(np.float32),
            np.float32(0.05), rng.uniform(0.5, 2.0, size=D).astype(np.float32))


def leapfrog_logistic_inputs(rng):
    N, D = 1000, 100
    X = (rng.normal(size=(N, D)) / np.sqrt(D)).astype(np.float32)
    w_true = rng.normal(size=D)
    y = (rng.uniform(size=N) < expit(X @ w_true)).astype(np.float32)
    return (rng.normal(size=D).astype(np.float32), rng.normal(size=D).astype(np.float32),
            np.float32(0.02), X, y)


BENCHMARKS = [
    # (label, ppc program, jax program, argnums, inputs)
    ("logreg log joint (N=10000, D=50), d/dw", logreg_logjoint, jax_logreg_logjoint, 0, logreg_inputs),
    ("MLP loss (128x64 -> 128 tanh -> 10), d/d params tuple", mlp_loss, jax_mlp_loss, 0,
     mlp_tuple_inputs),
    ("MLP loss, argnums=(0,1,2,3)", mlp_loss_args, jax_mlp_loss_args, (0, 1, 2, 3), mlp_args_inputs),
    ("leapfrog 100 steps, Gaussian (D=100), d/dq0", leapfrog_gaussian, jax_leapfrog_gaussian, 0,
     leapfrog_gaussian_inputs),
    ("leapfrog 100 steps, logistic (N=1000, D=100), d/dq0", leapfrog_logistic,
     jax_leapfrog_logistic, 0, leapfrog_logistic_inputs),
]


# =============================================================================== checks

class Mismatch(Exception):
    pass


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [y for v in x for y in _flat(v)]
    return [x]


def _structure(x):
    if isinstance(x, (tuple, list)):
        return tuple(_structure(v) for v in x)
    return "leaf"


def check_grads(got, want, what, rtol=1e-4, atol_scale=1e-5):
    """Same tree structure, shapes and dtypes; values close (atol relative to the largest entry)."""
    if _structure(got) != _structure(want):
        raise Mismatch(f"{what}: result structure {_structure(got)} vs {_structure(want)}")
    for i, (g, w) in enumerate(zip(_flat(got), _flat(want))):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape or g.dtype != w.dtype:
            raise Mismatch(f"{what}, gradient {i}: {g.dtype}{list(g.shape)} vs {w.dtype}{list(w.shape)}")
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        atol = atol_scale * max(np.max(np.abs(w64)), 1e-30)
        if not np.all(np.isfinite(g64)) or not np.allclose(g64, w64, rtol=rtol, atol=atol):
            bad = ~np.isclose(g64, w64, rtol=rtol, atol=atol)
            k = np.unravel_index(np.argmax(np.abs(g64 - w64)), g64.shape) if g64.ndim else ()
            raise Mismatch(f"{what}, gradient {i}: {int(np.sum(bad))} of {g.size} entries differ "
                           f"(rtol {rtol}, atol {atol:.3g}); worst at {k}: {g64[k]!r} vs {w64[k]!r}")


def max_rel_err(got, ref):
    """Largest |got - ref| over all gradient entries, relative to the largest |ref| entry."""
    g = np.concatenate([np.ravel(np.asarray(v, np.float64)) for v in _flat(got)])
    r = np.concatenate([np.ravel(np.asarray(v, np.float64)) for v in _flat(ref)])
    return float(np.max(np.abs(g - r)) / np.max(np.abs(r)))


def to64(a):
    return tuple(to64(v) for v in a) if isinstance(a, tuple) else jnp.asarray(np.asarray(a, np.float64))


def to_device(a):
    return tuple(to_device(v) for v in a) if isinstance(a, tuple) else jnp.asarray(a)


# =============================================================================== measurement

def xla_stats(jitted, args):
    """(temp bytes, flops) of the XLA executable `jitted` compiles for `args`."""
    compiled = jitted.lower(*args).compile()
    mem = compiled.memory_analysis()
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):  # older jax: one dict per computation
        cost = cost[0] if cost else {}
    return mem.temp_size_in_bytes, (cost or {}).get("flops", float("nan"))


def ppc_ad_compile_ms(fn, argnums, args):
    """Median ms of ppc.grad's own compile: specialize (frontend, canonicalize, AD passes)
    plus JAX source emission, fresh ppc.grad object each time; no XLA."""
    times = []
    for _ in range(REPS + 1):
        g = ppc.grad(fn, argnums=argnums)
        t0 = time.perf_counter()
        spec = g.specialize(*args)
        ppc_jax.emit_module(spec.canonical)
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times[1:])


# =============================================================================== main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter runtime measurement (~4x)")
    opts = ap.parse_args()
    budget = 2.0 if opts.quick else 8.0  # seconds of runtime measurement per program

    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs; x64 enabled: {jax.config.jax_enable_x64}")
    t_start = time.perf_counter()
    rows, detail = [], []
    for label, fn, jfn, argnums, make_inputs in BENCHMARKS:
        np_args = make_inputs(np.random.default_rng(0))
        dev_args = [to_device(a) for a in np_args]  # the same device arrays for both

        # correctness first: ppc.grad vs jax.grad (float32), both vs jax.grad in float64
        g = ppc.grad(fn, argnums=argnums)
        jg = jax.jit(jax.grad(jfn, argnums=argnums))
        try:
            t = time.perf_counter()
            ppc_out = block(g(*dev_args))
            first_call_ms = 1e3 * (time.perf_counter() - t)
        except Exception as e:
            sys.exit(f"\n!!! ABORTING: ppc.grad FAILED on {label} !!!\n{type(e).__name__}: {e}\n")
        jax_out = block(jg(*dev_args))
        ref64 = jax.jit(jax.grad(jfn, argnums=argnums))(*[to64(a) for a in np_args])
        try:
            check_grads(ppc_out, jax_out, f"{label}: ppc.grad vs jax.grad")
        except Mismatch as e:
            sys.exit(f"\n!!! ABORTING: GRADIENT MISMATCH !!!\n{e}\n")
        err_ppc, err_jax = max_rel_err(ppc_out, ref64), max_rel_err(jax_out, ref64)

        spec = g.specialize(*dev_args)
        exe = spec.executable  # the jax.jit function ppc generated (compiled by the call above)
        assert exe is not None
        ppc_temp, ppc_flops = xla_stats(exe, dev_args)
        jax_temp, jax_flops = xla_stats(jg, dev_args)
        comp_ms = ppc_ad_compile_ms(fn, argnums, np_args)

        gc.collect()
        (t_ppc, t_jax, t_exe), ncalls = time_runtime([g, jg, exe], dev_args, budget)
        rows.append((label, 1e3 * t_ppc, 1e3 * t_jax, t_ppc / t_jax, ppc_temp / 1024, jax_temp / 1024))
        detail.append((label, comp_ms, first_call_ms, spec.source.count("\n"), 1e3 * t_exe,
                       t_exe / t_jax, 1e6 * (t_ppc - t_exe), ppc_flops, jax_flops, err_ppc,
                       err_jax, ncalls))

    print("\n| program | ppc grad (ms) | jax.grad (ms) | ratio | ppc temp (KiB) | jax temp (KiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, tp, tj, ratio, mp, mj in rows:
        print(f"| {label} | {tp:.4f} | {tj:.4f} | {ratio:.3f} | {mp:.1f} | {mj:.1f} |")
    print("\nppc grad = `ppc.grad(f, argnums)(*args)`; jax.grad = `jax.jit(jax.grad(f_jax, argnums))(*args)`;"
          "\nmedian per call incl. block_until_ready, interleaved rounds; ratio = ppc / jax."
          "\ntemp = XLA temp buffers of the compiled executable (`memory_analysis().temp_size_in_bytes`).")

    print("\nDetails:\n")
    print("| program | ppc AD compile (ms) | first call incl. XLA (ms) | generated lines "
          "| ppc jitted fn only (ms) | its ratio | ppc wrapper (us/call) | ppc flops | jax flops "
          "| ppc err vs f64 | jax err vs f64 | calls timed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (label, comp, first, lines, te, rexe, wrap, fp, fj, ep, ej, n) in detail:
        print(f"| {label} | {comp:.1f} | {first:.0f} | {lines} | {te:.4f} | {rexe:.3f} | {wrap:.1f} "
              f"| {fp:.4g} | {fj:.4g} | {ep:.2g} | {ej:.2g} | {n} |")
    print("\nppc AD compile = `ppc.grad(f).specialize` (frontend, canonicalize, jvp/linearize/transpose)"
          " + JAX source emission,\nfresh object, median of %d; no XLA. 'ppc jitted fn only' calls "
          "`spec.executable` directly, skipping ppc's call wrapper.\nflops from XLA's "
          "`cost_analysis()`. err vs f64 = max |grad - grad_f64| / max |grad_f64|, grad_f64 = jax.grad "
          "in float64." % REPS)

    verdicts = []
    for label, tp, tj, ratio, mp, mj in rows:
        if ratio > TARGET_RATIO:
            verdicts.append(f"runtime ratio {ratio:.3f} > {TARGET_RATIO} for {label}")
        if mp > mj:
            verdicts.append(f"ppc temp memory {mp:.1f} KiB > jax's {mj:.1f} KiB for {label}")
    print("\nTargets (ratio <= %.2f; ppc temp memory <= jax's): %s"
          % (TARGET_RATIO, "met" if not verdicts else "MISSED:\n  " + "\n  ".join(verdicts)))
    print(f"\n(total {time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
