"""Bayesian logistic regression."""
import numpy as np

import ppc

ARGS = "f32[50,4]"
OBSERVE = ("y",)  # conditioned in the model stages (after `ir`)


def main(X):
    w = ppc.Normal(np.zeros(4, np.float32), 1.0)
    b = ppc.Normal(np.float32(0.0), 10.0)
    y = ppc.Bernoulli(logits=X @ w + b)
    return y
