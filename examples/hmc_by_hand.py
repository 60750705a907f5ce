"""Write your own sampler: Hamiltonian Monte Carlo in plain Python, batched over chains.

`hmc` below is ordinary NumPy code for one chain: a `for` loop over draws, a leapfrog
`for` loop inside it, a data-dependent `if` to accept or reject, and the gradient taken
with `ppc.grad` of a lambda that reads the data from the enclosing function. ppc
compiles it, takes the gradient by its own reverse mode, and `ppc.autobatch` runs a
thousand chains of it as one XLA program. The script checks two chains against NumPy
running the same function eagerly, then reports the posterior and the time.

    python examples/hmc_by_hand.py [--chains 1000] [--draws 300] [--backend tf]
"""
import argparse
import time

import jax.numpy as jnp
import numpy as np

import ppc
from ppc.autobatch import shared


def log_joint(w, X, y):
    logits = X @ w
    return np.sum(y * logits - np.logaddexp(0.0, logits)) - 0.5 * np.sum(w * w)


def hmc(w, X, y, momenta, log_u, step, n_leapfrog):
    """One chain: `momenta[t]` and `log_u[t]` are draw t's randomness (passed in, so that
    NumPy can run the same function). Returns the draws and the acceptance rate."""
    grad = ppc.grad(lambda v: log_joint(v, X, y))
    lp, g = log_joint(w, X, y), grad(w)
    draws = jnp.zeros(momenta.shape)
    accepted = 0.0
    for t in range(momenta.shape[0]):
        p = momenta[t]
        w_new, g_new = w, g
        p = p + 0.5 * step * g_new
        for i in range(n_leapfrog):
            w_new = w_new + step * p
            g_new = grad(w_new)
            if i < n_leapfrog - 1:
                p = p + step * g_new
        p = p + 0.5 * step * g_new
        lp_new = log_joint(w_new, X, y)
        energy_change = (lp_new - 0.5 * np.sum(p * p)) - (lp - 0.5 * np.sum(momenta[t] * momenta[t]))
        if log_u[t] < energy_change:
            w, lp, g = w_new, lp_new, g_new
            accepted += 1.0
        draws = draws.at[t].set(w)
    return draws, accepted / momenta.shape[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chains", type=int, default=1000)
    p.add_argument("--draws", type=int, default=300)
    p.add_argument("--leapfrog", type=int, default=8)
    p.add_argument("--step", type=float, default=0.1)
    p.add_argument("--backend", choices=["jax", "tf"], default="jax", help="JAX (default) or TensorFlow")
    a = p.parse_args(argv)

    rng = np.random.default_rng(0)
    n, d = 200, 3
    X = rng.normal(size=(n, d))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ np.array([1.0, -2.0, 0.5]))))).astype(np.float64)
    w0 = rng.normal(size=(a.chains, d))
    momenta = rng.normal(size=(a.chains, a.draws, d))
    log_u = np.log(rng.uniform(size=(a.chains, a.draws)))

    batched = ppc.autobatch(ppc.compile(hmc, backend=a.backend))
    start = time.perf_counter()
    draws, acceptance = batched(w0, shared(X), shared(y), momenta, log_u, a.step, a.leapfrog)
    draws = np.asarray(draws)
    seconds = time.perf_counter() - start

    # the same function, run eagerly (NumPy, with jax.numpy for the draws' buffer), on two chains
    check = min(40, a.draws)
    for k in (0, a.chains - 1):
        want, rate = hmc(w0[k], X, y, momenta[k, :check], log_u[k, :check], a.step, a.leapfrog)
        mine, _ = ppc.compile(hmc, backend=a.backend)(w0[k], X, y, momenta[k, :check], log_u[k, :check],
                                                      a.step, a.leapfrog)
        np.testing.assert_allclose(mine, want, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(draws[k, :check], want, rtol=1e-9, atol=1e-12)
    print(f"chains 0 and {a.chains - 1}: the batched draws equal eager NumPy's (first {check} draws)")

    kept = draws[:, a.draws // 2:].reshape(-1, d)
    print(f"{a.chains} chains x {a.draws} draws, {a.leapfrog} leapfrog steps each, in {seconds:.1f} s "
          f"(compilation included), mean acceptance {np.mean(acceptance):.2f}")
    print("posterior mean", np.round(kept.mean(0), 3), "sd", np.round(kept.std(0), 3))
    return kept, float(np.mean(acceptance))


if __name__ == "__main__":
    main()
