"""Positive and simplex parameters: a mixture weight vector and rates."""
import numpy as np

import ppc

ARGS = "f64[6]"
OBSERVE = ("counts",)  # conditioned in the model stages (after `ir`)


def main(exposure):
    weights = ppc.Dirichlet(np.ones(3))
    scale = ppc.Gamma(2.0, 1.0)
    rates = ppc.LogNormal(np.zeros(3), scale)
    counts = ppc.Poisson(np.sum(weights * rates) * exposure)
    return counts
