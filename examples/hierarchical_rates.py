"""A hierarchical model with positive and simplex parameters, fitted by HMC with ppc.

    python examples/hierarchical_rates.py

Voters in six districts choose among three parties. Each district's shares are a
simplex drawn around the population's shares (another simplex) with a positive
concentration; choices are categorical. Synthetic data from known parameters; the
posterior is summarized beside them.
"""
import argparse

import arviz as az
import jax
import numpy as np

import ppc
import ppc.infer


def districts_model(district_onehot):
    population = ppc.Dirichlet(np.ones(3))                          # simplex
    concentration = ppc.Gamma(2.0, 0.1)                             # positive
    shares = ppc.Dirichlet(concentration * population * np.ones((district_onehot.shape[1], 3)))
    choice = ppc.Categorical(probs=district_onehot @ shares)
    return choice


def make_data(seed=3, voters_per_district=80, districts=6):
    onehot = np.repeat(np.eye(districts), voters_per_district, axis=0)
    truth = ppc.sample(districts_model, jax.random.key(seed), onehot)
    return onehot, {k: np.asarray(v) for k, v in truth.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    onehot, truth = make_data()
    model = ppc.condition(districts_model, choice=truth["choice"])
    idata = ppc.infer.hmc(model, onehot, num_warmup=a.warmup, num_samples=a.samples, progress=not a.quiet)
    summary = az.summary(idata, var_names=["population", "concentration"])
    print(summary[["mean", "sd", "r_hat", "ess_bulk"]].to_string())
    print("true population", np.round(truth["population"], 3), " true concentration",
          round(float(truth["concentration"]), 2))
    return idata, truth


if __name__ == "__main__":
    main()
