"""Hamiltonian Monte Carlo with a fixed number of leapfrog steps.

The HMC transition itself is plain Python compiled by ppc (it calls the value and gradient
of the model's density inside compiled code); a chunk of transitions runs as one XLA program,
chains run side by side as members of ppc's local static batching, and a progress bar
advances per chunk.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ad
from ..api import compile as ppc_compile
from ..autobatch import autobatch
from ..passes.ad import DEFAULT_MAX_ITERATIONS
from ..ppl import on_backend, unconstrained
from .common import (as_arrays, check_convergence, check_overflow, check_settings, dual_averaging, progress_bar,
                     starting_points, to_inference_data)


def make_hmc_chunk(value_and_grad, num_leapfrog):
    """A function running a chunk of HMC transitions, adapting the step size when
    `adapt` is true. Random numbers (momenta, log-uniforms, step-size jitters) come in
    as arrays; jittering the step size keeps a fixed number of leapfrog steps from
    resonating with the target's periods. `value_and_grad` also says whether a `while`
    loop in the density ran past its recorded iterations (the gradient is then wrong: the
    proposal is rejected, and the statistics say so)."""

    def hmc_chunk(theta, lp, g, log_step, x_bar, h_bar, t, mu, momenta, log_us, jitters, adapt, target, data):
        n = momenta.shape[0]
        thetas = np.zeros((n, theta.shape[0]), dtype=theta.dtype)
        stats = np.zeros((n, 4), dtype=theta.dtype)  # acceptance probability, step size, lp, overflow
        for i in range(n):
            eps = np.exp(log_step) * jitters[i]
            p0 = momenta[i]
            q = theta
            gq = g
            p = p0 + 0.5 * eps * gq
            lp_new = lp
            overflow = False
            for _ in range(num_leapfrog):
                q = q + eps * p
                (lp_new, gq), over = value_and_grad(q, *data)
                overflow = overflow | over
                p = p + eps * gq
            p = p - 0.5 * eps * gq
            log_ratio = lp_new - 0.5 * np.dot(p, p) - lp + 0.5 * np.dot(p0, p0)
            log_ratio = np.where(np.isnan(log_ratio) | overflow, -np.inf, log_ratio)
            accept_prob = np.exp(np.minimum(log_ratio, 0.0))
            used_step = eps
            if log_us[i] < log_ratio:
                theta = q
                lp = lp_new
                g = gq
            if adapt:
                t, h_bar, log_step, x_bar = dual_averaging(t, h_bar, x_bar, mu, target, accept_prob)
            thetas = thetas.at[i].set(theta)
            stats = stats.at[i].set(np.stack([accept_prob, used_step, lp, 1.0 * overflow]))
        return theta, lp, g, log_step, x_bar, h_bar, t, thetas, stats
    return hmc_chunk


def build_hmc(u, num_leapfrog: int, max_iterations: int):
    """(the chunk kernel batched over chains, the density's gradient): compiled once per
    model, data types, number of leapfrog steps and loop limit."""
    vg = ad.value_and_grad_with_overflow(u.log_density_fn, max_iterations)
    kernel = ppc_compile(make_hmc_chunk(vg, num_leapfrog), backend=u.program.backend)
    return autobatch(kernel, strategy="local_static"), ad.grad(u.log_density_fn, max_iterations=max_iterations)


def hmc(model, *data, num_warmup: int = 500, num_samples: int = 1000, num_leapfrog: int = 10,
        step_size: float | None = None, target_accept: float = 0.8, chains: int = 4, seed: int = 0,
        jitter: float = 0.3, chunk: int = 50, progress: bool = True, backend: str | None = None,
        init: dict | None = None, diagnose: bool = True, max_iterations: int = DEFAULT_MAX_ITERATIONS):
    """Hamiltonian Monte Carlo with a fixed number of leapfrog steps; the step size is
    adapted by dual averaging during warmup (unless `step_size` is given) and jittered
    uniformly by +-`jitter` at each transition. Observed data
    is pinned with ppc.condition. Returns arviz.InferenceData with posterior
    (chain, draw, ...) and sample_stats (acceptance_rate, step_size, lp). It runs on the
    model's backend, or on `backend` when given. Chains start as ppc.infer.nuts's do
    (uniform(-2, 2) on the unconstrained scale, or `init`); `diagnose` checks convergence
    as nuts does, and `max_iterations` bounds a model's `while` loops as nuts's does."""
    check_settings("hmc", chains=chains, num_warmup=num_warmup, num_samples=num_samples, chunk=chunk,
                   num_leapfrog=num_leapfrog, target_accept=target_accept, step_size=step_size, jitter=jitter)
    u = unconstrained(on_backend(model, backend), *data)
    batched_kernel, grad = u.memo(("hmc", num_leapfrog, max_iterations),
                                  lambda: build_hmc(u, num_leapfrog, max_iterations))
    rng = np.random.default_rng(seed)
    dtype = u.dtype
    d = u.size
    chain_data = as_arrays(tuple(u.args), lead=True)  # size 1: shared by every chain
    theta, lp, g = starting_points(u, init, chains, rng, lambda q: (
        np.array([float(u.log_density(th)) for th in q], dtype=dtype),
        np.stack([np.asarray(grad(th, *u.args)) for th in q]).astype(dtype)))
    log_step = np.full(chains, math.log(step_size if step_size is not None else 0.1), dtype)
    mu = log_step + math.log(10.0)
    x_bar, h_bar, t = np.zeros(chains, dtype), np.zeros(chains, dtype), np.zeros(chains, dtype)

    total = num_warmup + num_samples
    bar = progress_bar(total, "hmc", progress)
    draws, stats = [], []
    done = 0
    while done < total:
        n = min(chunk, total - done)
        if done < num_warmup:  # a chunk never straddles the end of warmup
            n = min(n, num_warmup - done)
        adapt = step_size is None and done < num_warmup
        momenta = rng.normal(size=(chains, n, d)).astype(dtype)
        log_us = np.log(rng.uniform(size=(chains, n))).astype(dtype)
        jitters = rng.uniform(1.0 - jitter, 1.0 + jitter, size=(chains, n)).astype(dtype)
        out = batched_kernel(theta, lp, g, log_step, x_bar, h_bar, t, mu, momenta, log_us, jitters, bool(adapt),
                             float(target_accept), chain_data)
        theta, lp, g, log_step, x_bar, h_bar, t, thetas, st = (np.asarray(o) for o in out)
        check_overflow("hmc", st[:, :n, 3] > 0.5, max_iterations, "in a transition")
        if done >= num_warmup:
            draws.append(thetas[:, :n])
            stats.append(st[:, :n])
        elif done + n >= num_warmup and step_size is None:
            log_step = x_bar.copy()  # after warmup: the averaged step size
        if bar is not None:
            bar.set_postfix_str(f"{'warmup' if done < num_warmup else 'sampling'}, step size "
                                f"{np.exp(log_step).mean():.3g}, acceptance {st[:, :n, 0].mean():.2f}", refresh=False)
            bar.update(n)
        done += n
    if bar is not None:
        bar.close()
    thetas = np.concatenate(draws, axis=1)
    st = np.concatenate(stats, axis=1)
    sample_stats = {"acceptance_rate": st[..., 0], "step_size": st[..., 1], "lp": st[..., 2],
                    "n_steps": np.full(st.shape[:2], num_leapfrog)}
    idata = to_inference_data(u, thetas, sample_stats)
    if diagnose:
        check_convergence(idata, "hmc")
    return idata
