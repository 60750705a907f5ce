#!/usr/bin/env python
"""ppc compile overhead and runtime against hand-written `jax.jit` code.

For each benchmark program this measures

  (a) ppc compile time: frontend + canonicalize pass (`Compiled.specialize`) plus JAX source
      emission (`ppc.backends.jax.emit_module`), with a fresh `ppc.compile(fn)` object per
      repetition so that nothing is served from ppc's per-signature cache. XLA compilation
      is excluded. Median over REPS repetitions (after one untimed warm-up).
  (b) the runtime of the ppc-compiled function and of a hand-written jax.numpy equivalent
      under `jax.jit`, in interleaved rounds (ppc, jax, ppc-jitted-fn-alone, then reversed,
      40 rounds) to spread machine noise over all of them, each call timed to
      `block_until_ready`. Median per call. All get the same device arrays as arguments.

Every program's ppc result is checked against eager NumPy (the program's own semantics)
and against the hand-written JAX version before anything is timed; a mismatch aborts.

Run: python benchmarks/compile_overhead.py [--quick]
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"  # every compile is timed afresh: no persistent cache
sys.path.insert(0, str(HERE.parent))  # the repository root: `import ppc` without installing
sys.path.insert(0, str(HERE / "programs"))

import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402

import ppc  # noqa: E402
import ppc.backends.jax as ppc_jax  # noqa: E402  (enables jax_enable_x64, as ppc always does)
import ppc.frontend.source as ppc_source  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402
from jax.scipy.special import gammaln as jgammaln  # noqa: E402

import long_program  # noqa: E402

REPS = 7  # compile-time repetitions
TARGET_RATIO = 1.05
TARGET_COMPILE_MS = 200.0


# =============================================================================== programs
# The plain NumPy programs ppc compiles (module-level so ppc can read their source) ...

def logreg_loglik(w, X, y):
    logits = X @ w
    return np.sum(y * logits - np.logaddexp(0.0, logits))


def mlp_forward(x, W1, b1, W2, b2):
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    return logits - logsumexp(logits, axis=1, keepdims=True)


def leapfrog_100(q, p, eps, prec):
    # Gaussian target with diagonal precision: grad log p(q) = -prec * q
    p = p - 0.5 * eps * prec * q
    for _ in range(100):
        q = q + eps * p
        p = p - eps * prec * q
    p = p + 0.5 * eps * prec * q
    energy = 0.5 * np.sum(prec * q * q) + 0.5 * np.sum(p * p)
    return q, p, energy


# ... and what one would write by hand in jax.numpy.

@jax.jit
def jax_logreg_loglik(w, X, y):
    logits = X @ w
    return jnp.sum(y * logits - jnp.logaddexp(0.0, logits))


@jax.jit
def jax_mlp_forward(x, W1, b1, W2, b2):
    h = jnp.tanh(x @ W1 + b1)
    return jax.nn.log_softmax(h @ W2 + b2, axis=1)


@jax.jit
def jax_leapfrog_100(q, p, eps, prec):
    p = p - 0.5 * eps * prec * q

    def step(_, qp):
        q, p = qp
        q = q + eps * p
        return q, p - eps * prec * q

    q, p = lax.fori_loop(0, 100, step, (q, p))
    p = p + 0.5 * eps * prec * q
    return q, p, 0.5 * jnp.sum(prec * q * q) + 0.5 * jnp.sum(p * p)


LOG_2PI = math.log(2.0 * math.pi)


@jax.jit
def jax_long_program(X, y, series, W1, b1, W2, b2, theta):
    """benchmarks/programs/long_program.py:main written directly against jax.numpy / lax."""
    def normal_lp(x, mu, sigma):
        z = (x - mu) / sigma
        return -0.5 * z * z - jnp.log(sigma) - 0.5 * LOG_2PI

    def student_t_lp(x, nu, mu, sigma):
        z = (x - mu) / sigma
        norm = (jgammaln(0.5 * (nu + 1.0)) - jgammaln(0.5 * nu) - 0.5 * jnp.log(nu * math.pi)
                - jnp.log(sigma))
        return norm - 0.5 * (nu + 1.0) * jnp.log1p(z * z / nu)

    def half_cauchy_lp(x, scale):
        return math.log(2.0 / math.pi) - math.log(scale) - jnp.log1p((x / scale) ** 2)

    f32 = jnp.float32
    N, H = X.shape[0], W1.shape[1]
    # parameters
    sigma_obs, sigma_proc = jnp.exp(theta[0]), jnp.exp(theta[1])
    phi, mu = jnp.tanh(theta[2]), theta[3]
    nu = 2.0 + jax.nn.softplus(theta[4])
    temperature, bias = jnp.exp(theta[5]), theta[6]
    ridge = jax.nn.softplus(theta[7]) + 1e-3
    log_jac = (theta[0] + theta[1] + jnp.log1p(-phi * phi) + jax.nn.log_sigmoid(theta[4])
               + theta[5] + jax.nn.log_sigmoid(theta[7]))
    # priors
    lp = half_cauchy_lp(sigma_obs, 1.0) + half_cauchy_lp(sigma_proc, 0.5)
    lp += normal_lp(phi, 0.5, 0.3) + student_t_lp(mu, f32(3.0), 0.0, 2.0)
    lp += -0.1 * nu + normal_lp(jnp.log(temperature), 0.0, 1.0) + normal_lp(bias, 0.0, 5.0) - ridge
    lp -= 0.5 * ridge * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2))
    lp += 0.5 * (W1.size + W2.size) * (jnp.log(ridge) - LOG_2PI) + log_jac
    # encoder, attention pooling, mixture, classifier
    h = X @ W1 + b1
    centered = h - jnp.mean(h, axis=-1, keepdims=True)
    h = jnp.tanh(centered * lax.rsqrt(jnp.mean(centered * centered, axis=-1, keepdims=True) + 1e-5))
    log_probs = jax.nn.log_softmax((h @ W2 + b2) / temperature, axis=1)
    query = jnp.mean(h, axis=0)
    weights = jax.nn.softmax(h @ query / (temperature * math.sqrt(H)))
    pooled = weights @ h
    attn_entropy = -jnp.sum(weights * jnp.log(weights + 1e-12))
    z = h @ jnp.sum(W2, axis=1) / W2.shape[1]
    s = sigma_obs + 0.5
    comp = -0.5 * ((z[:, None] - long_program.MIXTURE_MEANS) / s) ** 2 - jnp.log(s) - 0.5 * LOG_2PI
    mix_ll = jnp.sum(jax.nn.logsumexp(log_probs + comp, axis=1))
    w_eff = W1 @ pooled
    logits = X @ w_eff + bias
    clf_ll = jnp.sum(y * logits - jnp.logaddexp(0.0, logits))
    # robust Kalman filter
    Q, R = sigma_proc * sigma_proc, sigma_obs * sigma_obs

    def kalman_step(t, carry):
        m, P, total, n_out = carry
        m = mu + phi * (m - mu)
        P = phi * phi * P + Q
        innov = series[t] - m
        outlier = innov * innov > 9.0 * (P + R)
        S = jnp.where(outlier, P + 100.0 * R, P + R)
        total = total - 0.5 * (LOG_2PI + jnp.log(S) + innov * innov / S)
        K = P / S
        return m + K * innov, (1.0 - K) * P, total, n_out + outlier.astype(jnp.int64)

    m_last, P_last, ts_ll, n_outliers = lax.fori_loop(
        0, series.shape[0], kalman_step, (mu, Q / (1.0 - phi * phi), f32(0.0), jnp.int64(0)))
    # ridge-regression descent with early stop
    G = (h.T @ h) / N
    rhs = jnp.mean(h * y[:, None], axis=0)
    lr = 1.0 / (1.0 + ridge + jnp.max(jnp.sum(jnp.abs(G), axis=1)))

    def gd_cond(c):
        k, _, _, done = c
        return (k < long_program.N_GRAD_STEPS) & ~done

    def gd_body(c):
        k, x, n, _ = c
        grad = G @ x + ridge * x - rhs
        done = jnp.sqrt(jnp.sum(grad * grad)) < 1e-4
        return k + 1, jnp.where(done, x, x - lr * grad), n + (~done).astype(jnp.int64), done

    _, coef, n_steps, _ = lax.while_loop(
        gd_cond, gd_body, (jnp.int64(0), jnp.zeros_like(rhs), jnp.int64(0), jnp.bool_(False)))
    ridge_obj = 0.5 * coef @ (G @ coef + ridge * coef) - rhs @ coef
    # Lambert W by Newton
    c = ((n_outliers + 1.0) / (series.shape[0] + 2.0) * 10.0).astype(f32)

    def nt_cond(s):
        it, step, _ = s
        return (jnp.abs(step) > 1e-6) & (it < 50)

    def nt_body(s):
        it, _, w = s
        ew = jnp.exp(w)
        step = (w * ew - c) / (ew * (w + 1.0))
        return it + 1, step, w - step

    newton_iters, _, w_lambert = lax.while_loop(nt_cond, nt_body, (jnp.int64(0), f32(1.0), jnp.log1p(c)))
    # tail term: a three-way branch on the temperature
    robust = jnp.sum(student_t_lp(series - m_last, nu, 0.0, jnp.sqrt(P_last + R)))
    tail = jnp.where(temperature > 1.0, robust / temperature,
                     jnp.where(temperature > 0.5, robust,
                               0.5 * robust + 0.5 * jnp.sum(normal_lp(series, mu, sigma_obs + 1.0))))
    entropy_penalty = jnp.clip(attn_entropy - math.log(N), -10.0, 0.0)
    coef_penalty = -0.5 * jnp.sum(coef * coef) + ridge_obj
    weight_l1 = jnp.sum(jnp.abs(w_eff)) / w_eff.shape[0]
    log_joint = (lp + mix_ll + clf_ll + ts_ll + tail + entropy_penalty + coef_penalty
                 - 1e-3 * weight_l1 + 1e-3 * w_lambert)
    accuracy = jnp.mean(((logits > 0.0) == (y > 0.5)).astype(f32))
    top_class = jnp.argmax(jnp.sum(log_probs, axis=0))
    scale = N / 256.0 if N > 256 else 1.0
    diagnostics = jnp.stack([ts_ll, mix_ll, clf_ll, tail, accuracy, scale + 0.0 * accuracy])
    return log_joint, diagnostics, pooled, coef, n_outliers, n_steps, newton_iters, top_class


# =============================================================================== inputs

def logreg_inputs(rng):
    N, D = 10_000, 50
    X = rng.normal(size=(N, D)).astype(np.float32)
    w = (0.3 * rng.normal(size=D)).astype(np.float32)
    y = (rng.uniform(size=N) < 0.5).astype(np.float32)
    return w, X, y


def mlp_inputs(rng):
    B, I, H, O = 256, 784, 512, 10
    return (rng.normal(size=(B, I)).astype(np.float32),
            (rng.normal(size=(I, H)) / np.sqrt(I)).astype(np.float32),
            (0.1 * rng.normal(size=H)).astype(np.float32),
            (rng.normal(size=(H, O)) / np.sqrt(H)).astype(np.float32),
            (0.1 * rng.normal(size=O)).astype(np.float32))


def leapfrog_inputs(rng):
    D = 1000
    return (rng.normal(size=D).astype(np.float32), rng.normal(size=D).astype(np.float32),
            np.float32(0.05), rng.uniform(0.5, 2.0, size=D).astype(np.float32))


BENCHMARKS = [
    # (label, ppc program, hand-written jax.jit, inputs)
    ("logistic regression loglik (N=10000, D=50)", logreg_loglik, jax_logreg_loglik, logreg_inputs),
    ("MLP forward (256x784 -> 512 tanh -> 10)", mlp_forward, jax_mlp_forward, mlp_inputs),
    ("leapfrog, 100 steps (D=1000)", leapfrog_100, jax_leapfrog_100, leapfrog_inputs),
    ("long program (~200 lines)", long_program.main, jax_long_program, long_program.make_inputs),
]


# =============================================================================== checks

class Mismatch(Exception):
    pass


def _leaves(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def check_close(got, want, what, rtol=1e-4, atol=1e-4, check_dtype=True):
    got, want = _leaves(got), _leaves(want)
    if len(got) != len(want):
        raise Mismatch(f"{what}: {len(got)} results vs {len(want)}")
    for i, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape:
            raise Mismatch(f"{what}, result {i}: shape {g.shape} vs {w.shape}")
        if check_dtype and g.dtype.kind == "f" and g.dtype != w.dtype:
            raise Mismatch(f"{what}, result {i}: dtype {g.dtype} vs {w.dtype}")
        if g.dtype.kind != w.dtype.kind and {g.dtype.kind, w.dtype.kind} != {"i", "u"}:
            raise Mismatch(f"{what}, result {i}: dtype kind {g.dtype} vs {w.dtype}")
        if g.dtype.kind == "f":
            if not np.allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol):
                err = np.max(np.abs(g.astype(np.float64) - w.astype(np.float64)))
                raise Mismatch(f"{what}, result {i}: values differ (max abs err {err:.3g})\n"
                               f"  got  {g}\n  want {w}")
        elif not np.array_equal(g, w):
            raise Mismatch(f"{what}, result {i}: {g} vs {w}")


# =============================================================================== timing

def block(out):
    return jax.block_until_ready(out)


def time_compile(fn, args):
    """(frontend+passes ms, emission ms, total ms; each a list over REPS), cold total ms."""
    def once(clear_parse_cache=False):
        if clear_parse_cache:
            ppc_source._CACHE.pop(fn.__code__, None)
        c = ppc.compile(fn)
        t0 = time.perf_counter()
        spec = c.specialize(*args)
        t1 = time.perf_counter()
        ppc_jax.emit_module(spec.canonical)
        t2 = time.perf_counter()
        return 1e3 * (t1 - t0), 1e3 * (t2 - t1)

    cold = sum(once())  # the first compile of this function in the process: source parse and all
    front, emit, total, parse_total = [], [], [], []
    gc.collect()
    for _ in range(REPS):
        f, e = once()
        front.append(f)
        emit.append(e)
        total.append(f + e)
        parse_total.append(sum(once(clear_parse_cache=True)))
    return front, emit, total, parse_total, cold


def time_runtime(fns, args, budget_s, rounds=40):
    """Median seconds per call of each function in `fns`, in interleaved rounds."""
    for f in fns:  # warm-up (compilation happened before)
        for _ in range(3):
            block(f(*args))
    # calls per round from a rough estimate, to fit the budget
    t0 = time.perf_counter()
    for f in fns:
        for _ in range(5):
            block(f(*args))
    per_call = (time.perf_counter() - t0) / (5 * len(fns))
    n = int(min(max(budget_s / (rounds * len(fns) * per_call), 3), 500))
    samples = [[] for _ in fns]
    order = list(range(len(fns)))
    for r in range(rounds):
        for k in (order if r % 2 == 0 else order[::-1]):  # ABBA...: neither goes first always
            f, acc = fns[k], samples[k]
            for _ in range(n):
                t = time.perf_counter()
                block(f(*args))
                acc.append(time.perf_counter() - t)
    return [statistics.median(s) for s in samples], n * rounds


# =============================================================================== main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter runtime measurement (~4x)")
    opts = ap.parse_args()
    budget = 2.0 if opts.quick else 8.0  # seconds of runtime measurement per program

    if os.environ.get("PPC_VERIFY", "") not in ("", "0"):
        print("note: PPC_VERIFY is set, so compile times include IR verification after each pass\n")
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs; x64 enabled: {jax.config.jax_enable_x64}")
    rows, detail = [], []
    for label, fn, jfn, make_inputs in BENCHMARKS:
        np_args = make_inputs(np.random.default_rng(0))
        dev_args = [jnp.asarray(a) for a in np_args]  # the same device arrays for both

        # correctness first: ppc vs eager NumPy, and the hand-written JAX vs ppc
        c = ppc.compile(fn)
        t = time.perf_counter()
        ppc_out = block(c(*dev_args))
        first_call_ms = 1e3 * (time.perf_counter() - t)
        try:
            check_close(ppc_out, fn(*np_args), f"{label}: ppc vs eager NumPy")
            check_close(block(jfn(*dev_args)), ppc_out, f"{label}: hand-written jax vs ppc")
        except Mismatch as e:
            sys.exit(f"\n!!! ABORTING: RESULT MISMATCH !!!\n{e}\n")

        front, emit, total, parse_total, cold = time_compile(fn, np_args)
        spec = c.specialize(*dev_args)
        exe = c._executable(spec)  # the jitted generated code, without ppc's call wrapper
        (t_ppc, t_jax, t_exe), ncalls = time_runtime([c, jfn, exe], dev_args, budget)
        ratio = t_ppc / t_jax
        comp = statistics.median(total)
        rows.append((label, comp, 1e3 * t_ppc, 1e3 * t_jax, ratio))
        detail.append((label, statistics.median(front), statistics.median(emit),
                       statistics.median(parse_total), cold, first_call_ms,
                       1e3 * t_exe, t_exe / t_jax, ncalls, spec.source.count("\n"), 1e3 * t_ppc))

    print("\n| program | ppc compile (ms) | ppc run (ms) | jax.jit run (ms) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for label, comp, tp, tj, ratio in rows:
        print(f"| {label} | {comp:.1f} | {tp:.3f} | {tj:.3f} | {ratio:.3f} |")

    print(f"\nppc compile = specialize (frontend + canonicalize) + emit_module, fresh ppc.compile "
          f"object, median of {REPS}; no XLA.\nrun = median per call incl. block_until_ready, "
          "interleaved rounds; ratio = ppc run / jax.jit run.")

    print("\nDetails:\n")
    print("| program | frontend+passes (ms) | emit (ms) | compile incl. source parse (ms) "
          "| first compile in process (ms) | first call incl. XLA (ms) | generated lines "
          "| ppc jitted fn only (ms) | its ratio | ppc wrapper (us/call) | calls timed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (label, f, e, pt, cold, first, te, rexe, n, lines, tp) in detail:
        print(f"| {label} | {f:.1f} | {e:.1f} | {pt:.1f} | {cold:.1f} | {first:.0f} | {lines} "
              f"| {te:.3f} | {rexe:.3f} | {1e3 * (tp - te):.0f} | {n} |")
    print("\n'ppc jitted fn only' calls the jax.jit function ppc generated directly, skipping "
          "ppc's Python call wrapper\n(signature lookup, argument conversion, result unflattening); "
          "the gap to 'ppc run' is that wrapper's cost.")

    verdicts = []
    for label, comp, tp, tj, ratio in rows:
        if ratio > TARGET_RATIO:
            verdicts.append(f"runtime ratio {ratio:.3f} > {TARGET_RATIO} for {label}")
    long_rows = [r for r in rows if r[0].startswith("long program")]
    if long_rows and long_rows[0][1] >= TARGET_COMPILE_MS:
        verdicts.append(f"compile time {long_rows[0][1]:.1f} ms >= {TARGET_COMPILE_MS:.0f} ms "
                        "for the long program")
    print("\nTargets (ratio <= %.2f; long-program compile < %.0f ms): %s"
          % (TARGET_RATIO, TARGET_COMPILE_MS, "met" if not verdicts else "MISSED:\n  " + "\n  ".join(verdicts)))


if __name__ == "__main__":
    main()
