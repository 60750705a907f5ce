"""Eight schools (non-centered), by NUTS, HMC and ADVI, with ppc.

    python examples/eight_schools.py [--chains 64] [--samples 2000]

The model is plain Python with ppc random variables; ppc.condition pins the observed
effects. ppc.infer.nuts samples the unconstrained posterior (tau > 0 through a log
transform) with the recursive No-U-Turn Sampler, every chain a member of a
program-counter machine (one per CPU core); ppc.infer.hmc and ppc.infer.advi fit it too, and ArviZ
summarizes. Reference posterior (Stan, PyMC): mu 4.4 +- 3.3, tau 3.6 +- 3.2.
"""
import argparse
import os

import arviz as az
import jax
import numpy as np

import ppc
import ppc.infer

SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def eight_schools(sigma):
    mu = ppc.Normal(0.0, 5.0)
    tau = ppc.HalfCauchy(5.0)
    theta_tilde = ppc.Normal(np.zeros(8), 1.0)
    theta = mu + tau * theta_tilde
    y = ppc.Normal(theta, sigma)
    return y


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chains", type=int, default=64)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    model = ppc.condition(eight_schools, y=Y)

    nuts = ppc.infer.nuts(model, SIGMA, chains=a.chains, num_warmup=a.warmup, num_samples=a.samples,
                          target_accept=0.9, progress=not a.quiet)
    stats = nuts.sample_stats
    summaries = {"nuts": az.summary(nuts, var_names=["mu", "tau"])}
    print(f"NUTS, {a.chains} chains as members of {stats.attrs['machines']} program-counter machine(s), one per "
          "device:")
    print(summaries["nuts"].to_string())
    print(f"{stats.attrs['useful_leapfrogs']:,} leapfrog steps, {stats.attrs['leapfrog_utilization']:.2f} of the "
          f"leapfrog block's slots useful; first draw after {stats.attrs['time_to_first_draw']:.1f} s (compilation "
          f"included); {int(stats['diverging'].sum())} divergent transitions")

    hmc = ppc.infer.hmc(model, SIGMA, num_warmup=a.warmup, num_samples=a.samples, progress=not a.quiet)
    summaries["hmc"] = az.summary(hmc, var_names=["mu", "tau"])
    print("\nHMC, 4 chains:")
    print(summaries["hmc"].to_string())
    vi = ppc.infer.advi(model, SIGMA, num_steps=2000, progress=not a.quiet)
    print("\nADVI (mean field; underestimates tau's spread, as mean-field VI does on this funnel):")
    print(az.summary(vi, var_names=["mu", "tau"], kind="stats").to_string())
    return summaries


if __name__ == "__main__":
    # one JAX device per core, before JAX starts: NUTS then splits the chains into one
    # machine per core (its default mesh="auto")
    # (NUTS uses no more of them than the cores this process may run on)
    jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
    main()
