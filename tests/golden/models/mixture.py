"""A two-component normal mixture, marginalized by hand into a ppc.factor term: the factor
joins the log-joint and unconstrained densities and leaves the sampler's draws alone."""
import numpy as np

import ppc

ARGS = "f64[6]"


def main(y):
    w = ppc.Beta(2.0, 2.0)
    mu = ppc.Normal(np.array([-1.0, 1.0]), 5.0)
    near_first = np.log(w) - 0.5 * (y - mu[0]) ** 2
    near_second = np.log1p(-w) - 0.5 * (y - mu[1]) ** 2
    ppc.factor(np.logaddexp(near_first, near_second) - 0.5 * np.log(2 * np.pi), name="likelihood")
    return mu
