#!/usr/bin/env python
"""A sampler written by hand, batched over chains: ppc.autobatch against jax.jit(jax.vmap).

The sampler is `examples/hmc_by_hand.py`'s HMC: plain NumPy for one chain, with a `for`
loop over draws, a leapfrog `for` loop, an `if` to accept, and `ppc.grad` of a lambda
over the data. ppc batches it over chains with both strategies (local static and the
program-counter machine). What a JAX user would write instead is below: the same
sampler in jax.numpy with `lax.fori_loop`, `jnp.where` for the accept step and
`jax.grad`, batched with `jax.vmap` under `jax.jit`; and once more with `jnp.logaddexp`
replaced by the formula ppc emits for it ("tuned"), which is much faster under vmap and
grad here, so that the comparison is with the best hand-written version too.

Every system gets the same randomness (momenta and log-uniforms are arguments), so the
draws must agree; the script checks that before it reports anything. For each chain
count it prints the first call (compilation included) and the median of later calls.

    python benchmarks/samplers.py                      # chains 1, 100, 1000
    python benchmarks/samplers.py --chains 10,1000 --draws 500 --repeats 5
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"  # every compile is timed afresh: no persistent cache
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "examples"))

import numpy as np  # noqa: E402

import ppc  # noqa: E402  (turns JAX's 64-bit mode on)
from ppc.autobatch import shared  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

from hmc_by_hand import hmc  # noqa: E402


def logaddexp_by_formula(a, b):
    """What ppc emits for np.logaddexp: jnp.logaddexp's own is 3x slower in this sampler
    under vmap and grad (measured: 0.22 against 0.07 s at 100 chains, 100 draws)."""
    return jnp.maximum(a, b) + jnp.log1p(jnp.exp(-jnp.abs(a - b)))


def hmc_jax(w, X, y, momenta, log_u, step, n_leapfrog: int, logaddexp=jnp.logaddexp):
    """The same sampler as a JAX user writes it (n_leapfrog static)."""
    def log_joint(w):
        logits = X @ w
        return jnp.sum(y * logits - logaddexp(0.0, logits)) - 0.5 * jnp.sum(w * w)
    grad = jax.grad(log_joint)

    def draw(t, state):
        w, lp, g, draws, accepted = state
        p = momenta[t] + 0.5 * step * g

        def leapfrog(i, c):
            w_new, p, g_new = c
            w_new = w_new + step * p
            g_new = grad(w_new)
            return w_new, jnp.where(i < n_leapfrog - 1, p + step * g_new, p), g_new
        w_new, p, g_new = lax.fori_loop(0, n_leapfrog, leapfrog, (w, p, g))
        p = p + 0.5 * step * g_new
        lp_new = log_joint(w_new)
        change = (lp_new - 0.5 * jnp.sum(p * p)) - (lp - 0.5 * jnp.sum(momenta[t] * momenta[t]))
        accept = log_u[t] < change
        w, lp, g = jnp.where(accept, w_new, w), jnp.where(accept, lp_new, lp), jnp.where(accept, g_new, g)
        return w, lp, g, draws.at[t].set(w), accepted + accept
    state = (w, log_joint(w), grad(w), jnp.zeros(momenta.shape), 0.0)
    _, _, _, draws, accepted = lax.fori_loop(0, momenta.shape[0], draw, state)
    return draws, accepted / momenta.shape[0]


def problem(chains: int, draws: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n, d = 200, 3
    X = rng.normal(size=(n, d))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ np.array([1.0, -2.0, 0.5]))))).astype(np.float64)
    return (rng.normal(size=(chains, d)), X, y, rng.normal(size=(chains, draws, d)),
            np.log(rng.uniform(size=(chains, draws))))


def systems(step: float, n_leapfrog: int):
    """name -> (chains' initial points, X, y, momenta, log_u) -> (draws, acceptance)."""
    out = {}
    for strategy in ("program_counter", "local_static"):
        batched = ppc.autobatch(hmc, strategy=strategy)  # (a fresh compile per system and chain count)
        out[f"ppc {strategy.replace('_', ' ')}"] = (
            lambda w, X, y, m, u, f=batched: f(w, shared(X), shared(y), m, u, step, n_leapfrog))
    for name, logaddexp in (("jax.jit(jax.vmap), tuned", logaddexp_by_formula), ("jax.jit(jax.vmap)", jnp.logaddexp)):
        out[name] = jax.jit(jax.vmap(lambda w, X, y, m, u, f=logaddexp: hmc_jax(w, X, y, m, u, step, n_leapfrog, f),
                                     in_axes=(0, None, None, 0, 0)))
    return out


def run(fn, args):
    return jax.block_until_ready(fn(*args))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chains", default="1,100,1000")
    p.add_argument("--draws", type=int, default=300)
    p.add_argument("--leapfrog", type=int, default=8)
    p.add_argument("--step", type=float, default=0.1)
    p.add_argument("--repeats", type=int, default=5, help="later calls timed per system (median)")
    a = p.parse_args(argv)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs; HMC, {a.draws} draws of "
          f"{a.leapfrog} leapfrog steps, logistic regression N=200 D=3, float64")
    print(f"{'chains':>7} {'system':<30} {'first call s':>12} {'later call s':>12} {'vs vmap':>8} {'vs tuned':>8}")
    for chains in map(int, a.chains.split(",")):
        args = problem(chains, a.draws)
        results, rows = {}, []
        for name, fn in systems(a.step, a.leapfrog).items():
            t = time.perf_counter()
            results[name] = run(fn, args)
            first = time.perf_counter() - t
            later = []
            for _ in range(a.repeats):
                t = time.perf_counter()
                run(fn, args)
                later.append(time.perf_counter() - t)
            rows.append((name, first, statistics.median(later)))
        want = results["jax.jit(jax.vmap)"]
        for name, got in results.items():  # the same randomness: the same draws
            np.testing.assert_allclose(np.asarray(got[0]), np.asarray(want[0]), rtol=1e-8, atol=1e-10,
                                       err_msg=f"{name} against jax.vmap, {chains} chains")
            np.testing.assert_allclose(np.asarray(got[1]), np.asarray(want[1]), rtol=1e-12)
        base, tuned = rows[-1][2], rows[-2][2]
        for name, first, later in rows:
            print(f"{chains:>7} {name:<30} {first:>12.3f} {later:>12.4f} {later / base:>7.2f}x {later / tuned:>7.2f}x")
    print("(every system's draws equal jax.vmap's: the same randomness is passed to all)")


if __name__ == "__main__":
    main()
