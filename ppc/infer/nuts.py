"""The No-U-Turn Sampler, written as the textbook recursive algorithm and batched across
chains by ppc's program-counter machine.

`make_nuts` returns plain Python: `build_tree` doubles a trajectory by recursion
(Hoffman & Gelman 2014), samples multinomially within it and checks the generalized
U-turn criterion with Stan's extra checks across merged subtrees (Betancourt 2017); the
transition extends the trajectory with biased progressive sampling; `run_chain` loops
over draws, adapting the step size by dual averaging while warming up. ppc compiles
it (the model's density from `unconstrained`, its gradient from ppc.grad, inlined) and
`ppc.autobatch(strategy="program_counter")` runs every chain as a batch member, so
after warmup chains never wait for each other at draw boundaries, only at the ends of
chunks (which exist for the progress bar).

The host loop follows Stan's warmup: an initial fast window, slow windows doubling in
length at whose ends the diagonal inverse mass matrix is set from the window's draws
(regularized as Stan does) and dual averaging restarts, and a final fast window. Pooled
(the default), the chains share one step-size controller and one mass matrix: the
machine runs one warmup draw per call and the host averages the chains' controllers
after it. Why: per-chain controllers drift apart within a window, so trajectory lengths
differ and the machine's leapfrog block runs half full (measured: 128 chains, synthetic
logistic regression, leapfrog utilization 0.45-0.64 per warmup chunk); with one step size
the chains' trees are alike and the one-draw calls run nearly full.
"""
from __future__ import annotations

import math
import os
import time
import warnings

import jax
import numpy as np

from .. import ad, partition
from ..api import compile as ppc_compile
from ..autobatch import autobatch
from ..passes.ad import DEFAULT_MAX_ITERATIONS
from ..passes.pc.blocks import work
from ..ppl import on_backend, unconstrained
from .common import (SamplerWarning, as_arrays, check_convergence, check_overflow, check_settings, dual_averaging,
                     progress_bar, starting_points, to_inference_data)

DIVERGENCE = 1000.0  # an energy error beyond this ends the trajectory as divergent
MACHINE_CHAINS = 16  # the fewest chains mesh="auto" gives a device (see chain_mesh)
PAIRED_LEAF_WORK = 60_000  # a density's per-member work below which leaves come in pairs (see pairs_leaves)


def make_nuts(value_and_grad, max_tree_depth: int, chunk: int, paired_leaves: bool = False):
    """The single-chain sampler as Python functions for ppc to compile; `run_chain` makes
    at most `chunk` draws per call. `paired_leaves` (see `pairs_leaves`) changes how many
    machine steps a tree takes, not its draws."""

    def leapfrog(q, p, g, eps, inv_mass, data):
        p = p + 0.5 * eps * g
        q = q + eps * (inv_mass * p)
        (lp, g), overflow = value_and_grad(q, *data)
        p = p + 0.5 * eps * g
        return q, p, g, lp, overflow

    def no_uturn(p_minus, p_plus, rho, inv_mass):
        return (np.dot(inv_mass * p_plus, rho) > 0.0) & (np.dot(inv_mass * p_minus, rho) > 0.0)

    def turns(forward, old, new, inv_mass):
        """Whether the trajectory made of `old` and `new` (added on the `forward` side, or
        before) turns: over the whole, and across the seam (Stan's extra checks). Each
        argument is (left p, right p, sum of p)."""
        pll, plr, rhol = (np.where(forward, a, b) for a, b in zip(old, new))
        prl, prr, rhor = (np.where(forward, b, a) for a, b in zip(old, new))
        ok = no_uturn(pll, prr, rhol + rhor, inv_mass)
        ok = ok & no_uturn(pll, prl, rhol + prl, inv_mass)
        ok = ok & no_uturn(plr, prr, rhor + plr, inv_mass)
        return ~ok

    def leaf(q, p, g, direction, eps, h0, inv_mass, data):
        """One leapfrog step from (q, p, g) as a subtree of depth 0. A gradient whose
        `while` loop ran past its recorded iterations (`overflow`) is wrong: the step is
        discarded as a divergence, and its acceptance is NaN, which the sums carry to the
        draw's statistics (no flag of its own: one more value in the tree costs the machine
        a step per subtree, measured on breast cancer: 4,598 against 5,313 steps)."""
        q1, p1, g1, lp1, overflow = leapfrog(q, p, g, direction * eps, inv_mass, data)
        e1 = -lp1 + 0.5 * np.dot(inv_mass * p1, p1)
        delta = h0 - e1
        delta = np.where(np.isnan(delta) | overflow, -np.inf, delta)
        return (q1, p1, g1, q1, p1, g1, q1, g1, lp1, e1, delta, p1, False, delta < -DIVERGENCE,
                np.where(overflow, np.nan, np.minimum(1.0, np.exp(delta))), 1)

    def merge(fwd, tree, tree2, key, inv_mass):
        """Two adjacent subtrees as one (`tree2` added on the `fwd` side): its edges, its
        multinomial sample (the second's by its weight), and whether it turned."""
        (ql, pl, gl, qr, pr, gr, qs, gs, lps, es, w, rho, turned, diverged, acc, n) = tree
        (ql2, pl2, gl2, qr2, pr2, gr2, qs2, gs2, lps2, es2, w2, rho2, turned2, diverged2, acc2, n2) = tree2
        turning = turns(fwd, (pl, pr, rho), (pl2, pr2, rho2), inv_mass)
        w_all = np.logaddexp(w, w2)
        take = np.log(jax.random.uniform(key)) < w2 - w_all
        return (np.where(fwd, ql, ql2), np.where(fwd, pl, pl2), np.where(fwd, gl, gl2),
                np.where(fwd, qr2, qr), np.where(fwd, pr2, pr), np.where(fwd, gr2, gr),
                np.where(take, qs2, qs), np.where(take, gs2, gs), np.where(take, lps2, lps),
                np.where(take, es2, es), w_all, rho + rho2, turned2 | turning, diverged2, acc + acc2, n + n2)

    def build_tree(q, p, g, direction, depth, eps, h0, inv_mass, key, data):
        """A subtree of 2**depth leapfrog steps from (q, p, g) in `direction`: its left and
        right edges (q, p, g), its multinomial sample (q, g, lp, energy), its log weight (log sum
        of exp(H0 - H)), the sum of its momenta, whether it turned or diverged, the sum of
        acceptance probabilities and the number of steps. (The edge the second half starts
        from is chosen by value, so each half is one call site: fewer machine blocks.) With
        `paired_leaves` the recursion ends at depth 1: both steps of a depth-1 subtree in one
        block, the second masked out where the first diverged or the depth is 0."""
        fwd = direction > 0
        if depth <= (1 if paired_leaves else 0):
            tree = leaf(q, p, g, direction, eps, h0, inv_mass, data)
            if paired_leaves:  # (merged with the key a depth-1 subtree merges with below)
                second = leaf(np.where(fwd, tree[3], tree[0]), np.where(fwd, tree[4], tree[1]),
                              np.where(fwd, tree[5], tree[2]), direction, eps, h0, inv_mass, data)
                both = merge(fwd, tree, second, jax.random.split(key, 3)[2], inv_mass)
                keep = (depth == 1) & ~tree[13]
                tree = tuple(np.where(keep, b, a) for a, b in zip(tree, both))
        else:
            k1, k2, k3 = jax.random.split(key, 3)
            tree = build_tree(q, p, g, direction, depth - 1, eps, h0, inv_mass, k1, data)
            (ql, pl, gl, qr, pr, gr, qs, gs, lps, es, w, rho, turned, diverged, acc, n) = tree
            if not turned and not diverged:
                tree2 = build_tree(np.where(fwd, qr, ql), np.where(fwd, pr, pl), np.where(fwd, gr, gl), direction,
                                   depth - 1, eps, h0, inv_mass, k2, data)
                tree = merge(fwd, tree, tree2, k3, inv_mass)
        return tree

    def transition(q, lp, g, eps, inv_mass, key, data):
        k0, key = jax.random.split(key)
        p0 = jax.random.normal(k0, q.shape, q.dtype) / np.sqrt(inv_mass)
        h0 = -lp + 0.5 * np.dot(inv_mass * p0, p0)
        energy = h0  # the Hamiltonian at the draw (Stan's energy__, for E-BFMI)
        ql, pl, gl, qr, pr, gr = q, p0, g, q, p0, g
        w = 0.0
        rho = p0
        depth = 0
        turned = False
        diverged = False
        acc = 0.0
        n = 0
        one = np.ones((), q.dtype)  # (NumPy's where of Python floats is float64: keep the chain's dtype)
        while depth < max_tree_depth and not turned and not diverged:
            kd, kt, ku, key = jax.random.split(key, 4)
            direction = np.where(jax.random.uniform(kd) < 0.5, -one, one)
            fwd = direction > 0
            (ql2, pl2, gl2, qr2, pr2, gr2, qs, gs, lps, es, w2, rho2, turned2, diverged2, acc2, n2) = build_tree(
                np.where(fwd, qr, ql), np.where(fwd, pr, pl), np.where(fwd, gr, gl), direction, depth, eps, h0,
                inv_mass, kt, data)
            turning = turns(fwd, (pl, pr, rho), (pl2, pr2, rho2), inv_mass)
            ql, pl, gl = np.where(fwd, ql, ql2), np.where(fwd, pl, pl2), np.where(fwd, gl, gl2)
            qr, pr, gr = np.where(fwd, qr2, qr), np.where(fwd, pr2, pr), np.where(fwd, gr2, gr)
            # biased progressive sampling: the new subtree's sample, if it is sound, by its weight
            take = ~turned2 & ~diverged2 & (np.log(jax.random.uniform(ku)) < w2 - w)
            q, g, lp = np.where(take, qs, q), np.where(take, gs, g), np.where(take, lps, lp)
            energy = np.where(take, es, energy)
            w = np.logaddexp(w, w2)
            rho = rho + rho2
            turned = turned2 | turning
            diverged = diverged2
            acc = acc + acc2
            n = n + n2
            depth += 1
        n = n.astype(q.dtype)  # (paired leaves count steps in int64, which would widen float32)
        return q, lp, g, acc / n, n, depth, diverged, energy

    def run_chain(q, lp, g, log_eps, inv_mass, x_bar, h_bar, t, mu, key, count, adapt, target, data):
        """`count` transitions (at most the chunk length); the draws and their statistics."""
        size = q.shape[0]
        draws = np.zeros((chunk, size), q.dtype)
        stats = np.zeros((chunk, 7), q.dtype)  # acceptance (NaN: a loop overflowed), steps, depth, diverging,
        #                                        step size, lp, energy
        i = 0
        while i < count:
            k, key = jax.random.split(key)
            eps = np.exp(log_eps)
            q, lp, g, accept, n, depth, diverged, energy = transition(q, lp, g, eps, inv_mass, k, data)
            if adapt:
                t, h_bar, log_eps, x_bar = dual_averaging(t, h_bar, x_bar, mu, target, accept)
            draws = draws.at[i].set(q)
            stats = stats.at[i].set(np.stack([accept, 1.0 * n, 1.0 * depth, 1.0 * diverged, eps, lp, energy]))
            i += 1
        return q, lp, g, log_eps, x_bar, h_bar, t, key, draws, stats

    return run_chain


# run_chain's per-chain arguments: a mesh splits these, the rest every device holds whole
PER_CHAIN = ("q", "lp", "g", "log_eps", "inv_mass", "x_bar", "h_bar", "t", "mu", "key", "count")


def named_stats(chunks) -> dict:
    """run_chain's per-draw statistics, chunks joined, under ArviZ's names."""
    st = np.concatenate(chunks, axis=1)
    return {"acceptance_rate": st[..., 0], "n_steps": st[..., 1].astype(np.int64),
            "tree_depth": st[..., 2].astype(np.int64), "diverging": st[..., 3] > 0.5,
            "step_size": st[..., 4], "lp": st[..., 5], "energy": st[..., 6]}


def leapfrog_block(prog) -> int:
    """The block of the machine that takes a leapfrog step: the costliest branch block of
    build_tree (its base case: one leapfrog step, or two with paired leaves)."""
    blocks = [b for b in prog.blocks if b.fn.startswith("build_tree") and b.kind == "then"]
    return max(blocks, key=lambda b: work(b.ops)).id


def warmup_windows(num_warmup: int):
    """Stan's windows: [(length, ends a slow window)]: a fast 15%, slow windows doubling
    from 25 draws, a fast final 10%."""
    if num_warmup < 20:
        return [(num_warmup, False)] if num_warmup else []
    if num_warmup < 150:  # too short for windows: initial fast 15%, one slow window, final 10%
        init, term = int(0.15 * num_warmup), int(0.1 * num_warmup)
        return [(init, False), (num_warmup - init - term, True), (term, False)]
    init, term, base = 75, 50, 25
    out = [(init, False)]
    left = num_warmup - init - term
    size = base
    while left > 0:
        if left < 3 * size:  # the last slow window takes the rest
            size = left
        out.append((size, True))
        left -= size
        size *= 2
    out.append((term, False))
    return out


BFMI_LIMIT = 0.3  # Stan's: an energy-Bayesian fraction of missing information below it is a warning


def warn_if_troubled(stats: dict, max_tree_depth: int):
    """Warn, after warmup, about divergent transitions (the draws may be biased near where
    they happen), about trees cut off at the maximum depth (the sampler explores slowly),
    and about chains whose E-BFMI (Betancourt 2016: how well momentum resampling moves the
    energy) is below 0.3, a sign of heavy tails the sampler cannot reach. Returns each
    chain's E-BFMI (None with fewer than four draws)."""
    import arviz as az
    total = stats["diverging"].size
    divergent = int(stats["diverging"].sum())
    if divergent:
        warnings.warn(f"{divergent} of {total} transitions after warmup diverged: the posterior may be biased "
                      "where they happen; raise target_accept or reparameterize the model", SamplerWarning, stacklevel=3)
    capped = int((stats["tree_depth"] >= max_tree_depth).sum())
    if capped:
        warnings.warn(f"{capped} of {total} transitions after warmup hit max_tree_depth={max_tree_depth}: "
                      "the sampler is exploring slowly; raise max_tree_depth or reparameterize the model",
                      SamplerWarning, stacklevel=3)
    energy = stats["energy"]
    if energy.shape[1] < 4:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):  # (a constant energy: NaN, not a warning)
        bfmi = np.asarray(az.bfmi(energy), dtype=float)
    low = np.flatnonzero(bfmi < BFMI_LIMIT)
    if low.size:
        worst = int(np.nanargmin(bfmi))
        warnings.warn(f"{low.size} of {len(bfmi)} chains have E-BFMI below {BFMI_LIMIT} (chain {worst}: "
                      f"{bfmi[worst]:.2f}): momentum resampling moves the energy too little to explore the "
                      "posterior's tails; reparameterize the model", SamplerWarning, stacklevel=3)
    return bfmi


def pairs_leaves(u) -> bool:
    """Whether NUTS's recursion should end at depth 1, both leapfrog steps of a depth-1
    subtree in one machine block (`make_nuts`): the tree then takes about half the machine
    steps, but the transition's first doubling (depth 0) computes a second step it throws
    away, one gradient more per draw. So: when one gradient is cheap beside a machine step,
    by the density's per-member work (`work`). Measured on 2 CPU cores, 128 chains, logistic
    regression, float64, the same draws either way: breast cancer (work 25,000, ~25
    leapfrogs a draw, 200 + 200 draws) 57,560 -> 30,179 machine steps, a run that compiles
    nothing 16.8 -> 15.7 s (medians of 6 runs, interleaved; ranges 12.6-20.9 and 13.7-16.6
    s), a first run 19.9 -> 18.8 s (medians of 3); synthetic N=10,000 D=50 (work 632,000, 7
    leapfrogs a draw, 50 + 50 draws) 37.5-39.1 -> 43.8 s (two runs each); N=3,000 D=30 (work
    ~130,000) within noise. Fewer steps should count for more on a GPU, where a step's fixed
    cost is larger (not measured)."""
    return work(u.density_ir.entry.body.ops) < PAIRED_LEAF_WORK


def build_nuts(u, max_tree_depth: int, chunk: int, paired_leaves: bool, max_iterations: int):
    """(the batched sampler, the batched value and gradient for the chains' starting
    points, each gradient with its loop-limit flag): compiled once per model, data types
    and these settings."""
    vg = ad.value_and_grad_with_overflow(u.log_density_fn, max_iterations)
    sampler = autobatch(ppc_compile(make_nuts(vg, max_tree_depth, chunk, paired_leaves), backend=u.program.backend),
                        strategy="program_counter", max_stack_depth=max_tree_depth + 2)
    return sampler, autobatch(vg, strategy="local_static")


def chain_mesh(chains: int, backend: str):
    """`mesh="auto"`: the chains split over the default JAX devices (on CPU no more than
    the cores this process may use), as many as divide the chains evenly and leave each
    machine at least MACHINE_CHAINS of them; None for one machine. Each device runs its
    own machine, so a CPU's cores each step one: measured on 2 cores (2 CPU devices
    against 1, the same draws, 200 + 200 draws), the breast-cancer logistic regression at
    128 chains 14.2 s against 19.2 s end to end (8.6 against 14.7 s once compiled); the
    synthetic one, whose gradient already keeps both cores busy, 27.7 against 28.5 s.
    A split call costs ~1.3 ms more (placing arguments, gathering results from devices),
    which small machines do not win back: eight schools, 1000 + 1000 draws, 64 chains
    10.3 against 12.0 s, but 16 chains 8.8 against 8.5 s and 4 chains 7.9 against 6.9 s."""
    if backend != "jax":  # (partitioned programs run on JAX)
        return None
    devices = jax.devices()
    usable = len(devices)
    if devices[0].platform == "cpu":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        usable = min(usable, cores)
    split = max(n for n in range(1, usable + 1) if chains % n == 0 and (n == 1 or chains // n >= MACHINE_CHAINS))
    return partition.Mesh({"chains": split}) if split > 1 else None


def nuts(model, *data, num_warmup: int = 1000, num_samples: int = 1000, chains: int = 4, seed: int = 0,
         target_accept: float = 0.8, max_tree_depth: int = 10, step_size: float | None = None,
         adapt_mass_matrix: bool = True, chunk: int = 20, progress: bool = True, backend: str | None = None,
         mesh="auto", adapt_across_chains: bool = True, save_warmup: bool = False, init: dict | None = None,
         diagnose: bool = True, max_iterations: int = DEFAULT_MAX_ITERATIONS):
    """The No-U-Turn Sampler (multinomial, generalized U-turn criterion) with Stan's warmup:
    dual-averaging step size and a diagonal mass matrix. Chains are members of a
    program-counter batch (one per device). Observed data is pinned with ppc.condition. Returns
    arviz.InferenceData: posterior (chain, draw, ...) and sample_stats n_steps, tree_depth,
    diverging, acceptance_rate, step_size, lp and energy; `sample_stats.attrs` records the
    machine's batch utilization and each chain's E-BFMI. It runs on the model's backend
    (ppc.compile(model, backend=...)), or on `backend` when given. With `mesh` (a ppc.partition.Mesh) the chains are split over
    every axis of the mesh: each device runs its own machine on its chains, and the devices
    meet only when a chunk of draws ends. By default ("auto") they are split over JAX's
    devices (`chain_mesh`); `mesh=None` runs one machine. Warmup is pooled across chains
    (one dual-averaging controller fed the chains' mean acceptance after every draw; slow
    windows end with one mass matrix learned from all chains), so chains take alike
    trajectories and the batch stays full; `adapt_across_chains=False` adapts each chain
    alone, as Stan does, in chunks. `save_warmup` keeps the warmup draws and their
    statistics in ArviZ's warmup_posterior and warmup_sample_stats groups. Chains start at
    uniform(-2, 2) draws on the unconstrained scale (redrawn where the density is not
    finite), or at `init`: every latent's value by name, one for all chains or one per chain
    along a leading axis. Conditioned data lands in observed_data. Divergent transitions
    after warmup, trees cut off at max_tree_depth and chains with E-BFMI below 0.3 raise a
    ppc.infer.SamplerWarning, and
    so (with `diagnose`, the default) do chains that disagree (R-hat above 1.01) and too few
    effective draws (bulk or tail ESS below 100 per chain, 400 at most), checked by ArviZ;
    the worst values land in sample_stats.attrs (max_rhat, min_ess_bulk, min_ess_tail). A
    model with `while` loops on traced values is differentiated with `max_iterations` of
    each recorded; a gradient that needed more raises ppc.LoopLimitError (after the chunk
    of draws it happened in), never a wrong answer."""
    check_settings("nuts", chains=chains, num_warmup=num_warmup, num_samples=num_samples, chunk=chunk,
                   max_tree_depth=max_tree_depth, target_accept=target_accept, step_size=step_size)
    if isinstance(mesh, str) and mesh != "auto":
        raise ValueError(f"nuts: mesh must be \"auto\", None or a ppc.partition.Mesh, got {mesh!r}")
    if isinstance(mesh, partition.Mesh) and chains % mesh.size:
        raise ValueError(f"nuts splits chains over the {mesh.size} devices of {mesh}: {chains} chains do not "
                         "split evenly")
    started = time.perf_counter()
    pooled = adapt_across_chains and chains > 1
    u = unconstrained(on_backend(model, backend), *data)
    if mesh == "auto":
        mesh = chain_mesh(chains, u.program.backend)
    paired = pairs_leaves(u)
    key = ("nuts", max_tree_depth, chunk, paired, max_iterations)
    sampler, first = u.memo(key, lambda: build_nuts(u, max_tree_depth, chunk, paired, max_iterations))
    local = chains // (mesh.size if mesh is not None else 1)  # the chains one machine runs
    run = sampler if mesh is None else u.memo(key + (mesh,), lambda: partition.apply(sampler, [
        partition.tile(name, 0, axis) for name in PER_CHAIN for axis in mesh.axes], mesh))

    rng = np.random.default_rng(seed)
    dtype, d = u.dtype, u.size
    chain_data = as_arrays(tuple(u.args), lead=True)  # size 1: shared by every chain

    def start(q):
        (lp, g), overflow = first(q, *chain_data)
        check_overflow("nuts", np.asarray(overflow), max_iterations, "at a starting point")
        return np.asarray(lp).astype(dtype), np.asarray(g).astype(dtype)
    q, lp, g = starting_points(u, init, chains, rng, start)
    target = np.full(1, target_accept, dtype)  # shared by every chain (a Python float would widen float32)
    eps0 = step_size if step_size is not None else 0.1
    log_eps = np.full(chains, math.log(eps0), dtype)
    mu = log_eps + math.log(10.0)
    x_bar, h_bar, t = np.zeros(chains, dtype), np.zeros(chains, dtype), np.zeros(chains, dtype)
    inv_mass = np.ones((chains, d), dtype)
    keys = jax.random.split(jax.random.key(seed), chains)

    schedule = [(n, slow, True) for n, slow in warmup_windows(num_warmup)] + [(num_samples, False, False)]
    first_draw = None
    bar = progress_bar(num_warmup + num_samples, "nuts", progress)
    draws, stats, warm_draws, warm_stats = [], [], [], []
    runs = served = 0  # per-block machine counters, summed over chunks
    leapfrogs = 0  # the chains' leapfrog steps, warmup included
    divergent = 0  # after warmup, for the progress bar
    for length, slow, warm in schedule:
        adapt = warm and step_size is None
        # pooled, the chains share one step-size controller fed their mean acceptance: one
        # draw per call, then the controllers (linear in acceptance) are averaged
        shared = adapt and pooled
        window = []
        done = 0
        while done < length:
            n = 1 if shared else min(chunk, length - done)
            out = run(q, lp, g, log_eps, inv_mass, x_bar, h_bar, t, mu, keys, np.full(chains, n),
                          bool(adapt), target, chain_data)
            q, lp, g, log_eps, x_bar, h_bar, t = (np.asarray(o) for o in out[:7])
            keys = out[7]
            chunk_draws, chunk_stats = np.asarray(out[8])[:, :n], np.asarray(out[9])[:, :n]
            check_overflow("nuts", np.isnan(chunk_stats[..., 0]), max_iterations, "in a transition")
            runs, served = runs + run.stats.runs, served + run.stats.served
            leapfrogs += int(chunk_stats[..., 1].sum())
            if shared:
                log_eps, x_bar, h_bar = (np.full(chains, a.mean(), dtype) for a in (log_eps, x_bar, h_bar))
            if warm:
                window.append(chunk_draws)
                if save_warmup:
                    warm_draws.append(chunk_draws)
                    warm_stats.append(chunk_stats)
            else:
                if first_draw is None:
                    first_draw = time.perf_counter() - started
                draws.append(chunk_draws)
                stats.append(chunk_stats)
                divergent += int(named_stats([chunk_stats])["diverging"].sum())
            done += n
            if bar is not None:
                bar.set_postfix_str(f"{'warmup' if warm else 'sampling'}, step size {np.exp(log_eps).mean():.3g}, "
                                    f"{divergent} divergent", refresh=False)
                bar.update(n)
        if warm and slow and adapt_mass_matrix and length >= 2:
            w = np.concatenate(window, axis=1)
            m = w.shape[1]
            var = w.var(axis=1, ddof=1)
            if pooled:  # every chain's within-chain variance, averaged: m draws from each chain
                var, m = np.broadcast_to(var.mean(axis=0), var.shape), m * chains
            inv_mass = ((m / (m + 5.0)) * var + 1e-3 * (5.0 / (m + 5.0))).astype(dtype)
        if warm and adapt:  # a window ends: continue from the averaged step size, restart averaging
            log_eps = x_bar.copy() if t.any() else log_eps  # (pooled, the chains' x_bar are already one)
            mu = log_eps + math.log(10.0)
            x_bar, h_bar, t = np.zeros(chains, dtype), np.zeros(chains, dtype), np.zeros(chains, dtype)
    if bar is not None:
        bar.close()
    warmup = (np.concatenate(warm_draws, axis=1), named_stats(warm_stats)) if warm_draws else None
    sample_stats = named_stats(stats)
    bfmi = warn_if_troubled(sample_stats, max_tree_depth)
    idata = to_inference_data(u, np.concatenate(draws, axis=1), sample_stats, warmup)
    prog = sampler.specialize(q[:local], lp[:local], g[:local], log_eps[:local], inv_mass[:local], x_bar[:local],
                              h_bar[:local], t[:local], mu[:local], keys[:local], np.full(local, 1),
                              False, target, chain_data).program
    gradient_block = leapfrog_block(prog)
    idata.sample_stats.attrs.update(
        batch_utilization=float(served.sum() / max(1, runs.sum() * local)),
        useful_leapfrogs=leapfrogs, time_to_first_draw=first_draw, paired_leaves=paired,
        # the leapfrog steps the chains needed over the gradients the machine computed
        leapfrog_utilization=float(leapfrogs / max(1, runs[gradient_block] * local * (2 if paired else 1))),
        machine_steps=int(runs.sum()), machines=mesh.size if mesh is not None else 1, inv_mass=inv_mass.tolist(),
        step_size_final=np.exp(log_eps).tolist(), backend=u.program.backend)
    if bfmi is not None:
        idata.sample_stats.attrs["bfmi"] = bfmi.tolist()
    if diagnose:
        check_convergence(idata, "nuts")
    return idata
