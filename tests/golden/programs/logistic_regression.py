"""A Bayesian logistic regression log joint: prior plus Bernoulli-logit likelihood."""
import math

import numpy as np

ARGS = "f32[5],f32[100,5],f32[100]"


def inputs(rng):
    X = rng.normal(size=(100, 5)).astype("float32")
    w = rng.normal(size=5).astype("float32")
    y = (rng.uniform(size=100) < 0.5).astype("float32")
    return w, X, y


def main(w, X, y):
    logits = X @ w
    log_lik = np.sum(y * logits - np.logaddexp(0.0, logits))
    log_prior = -0.5 * np.sum(w * w) - 0.5 * w.shape[0] * math.log(2 * math.pi)  # a Python float: stays f32
    return log_lik + log_prior
