"""Bayesian logistic regression by random-walk Metropolis, compiled whole by ppc.

The sampler is plain Python/NumPy: a `for` loop over draws, a data-dependent `if` for
accept/reject, a helper function for the log joint. ppc lowers it to one XLA program
(a fori_loop around a cond), and the same function run eagerly by NumPy gives the same
chain, which this script checks before reporting the posterior.

    python examples/logistic_regression.py [--draws 4000] [--dump] [--backend tf]
"""
import argparse
import time

import numpy as np

import ppc


def log_joint(w, X, y):
    logits = X @ w
    log_lik = np.sum(y * logits - np.logaddexp(0.0, logits))
    log_prior = -0.5 * np.sum(w * w)
    return log_lik + log_prior


def metropolis(w0, X, y, noise, log_u, step, burn_in):
    """Random-walk Metropolis: `noise[t]` proposes, `log_u[t]` decides. Returns the
    posterior mean and standard deviation after burn-in, and the acceptance rate."""
    n_draws = noise.shape[0]
    w = w0
    lp = log_joint(w, X, y)
    accepted = 0
    total = np.zeros_like(w0)
    total_sq = np.zeros_like(w0)
    for t in range(n_draws):
        proposal = w + step * noise[t]
        lp_new = log_joint(proposal, X, y)
        if log_u[t] < lp_new - lp:
            w = proposal
            lp = lp_new
            accepted += 1
        if t >= burn_in:
            total = total + w
            total_sq = total_sq + w * w
    kept = n_draws - burn_in
    mean = total / kept
    return mean, np.sqrt(total_sq / kept - mean * mean), accepted / n_draws


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=4000)
    p.add_argument("--n", type=int, default=500, help="data points")
    p.add_argument("--dim", type=int, default=5)
    p.add_argument("--dump", action="store_true", help="print the generated source")
    p.add_argument("--backend", choices=["jax", "tf"], default="jax", help="JAX (default) or TensorFlow")
    a = p.parse_args(argv)

    rng = np.random.default_rng(0)
    true_w = rng.normal(size=a.dim)
    X = rng.normal(size=(a.n, a.dim))
    y = (rng.uniform(size=a.n) < 1 / (1 + np.exp(-X @ true_w))).astype(np.float64)
    noise = rng.normal(size=(a.draws, a.dim))
    log_u = np.log(rng.uniform(size=a.draws))
    w0 = np.zeros(a.dim)
    step = 0.1

    args = (w0, X, y, noise, log_u, step, a.draws // 4)
    sampler = ppc.compile(metropolis, backend=a.backend)
    t0 = time.perf_counter()
    mean, sd, rate = (np.asarray(v) for v in sampler(*args))
    t1 = time.perf_counter()
    np.asarray(sampler(*args)[0])
    t2 = time.perf_counter()
    ref_mean, ref_sd, ref_rate = metropolis(*args)  # the same function, run by NumPy
    t3 = time.perf_counter()
    assert np.allclose(mean, ref_mean, rtol=1e-9) and np.allclose(sd, ref_sd, rtol=1e-9) \
        and np.isclose(rate, ref_rate), "the compiled chain differs from the NumPy chain"
    if a.dump:
        print(sampler.source(*args))

    print(f"ppc ({a.backend}): random-walk Metropolis, {a.draws} draws, logistic regression on {a.n}x{a.dim} data")
    print(f"  first call (ppc + XLA compile + run) {t1 - t0:.2f} s, second call {(t2 - t1) * 1e3:.1f} ms, "
          f"NumPy {(t3 - t2) * 1e3:.0f} ms")
    print("  compiled result equals the NumPy run of the same function")
    print(f"  acceptance rate {float(rate):.2f}")
    print("  weight    true   posterior mean +- sd")
    for i in range(a.dim):
        print(f"  w[{i}]   {true_w[i]:+.3f}   {mean[i]:+.3f} +- {sd[i]:.3f}")
    return mean, sd, true_w


if __name__ == "__main__":
    main()
