"""Interval and unit-interval supports, a Student-t likelihood and a correlated prior."""
import numpy as np

import ppc

ARGS = "f64[10],f64[2,2]"
OBSERVE = ("obs",)  # conditioned in the model stages (after `ir`)


def main(y, scale_tril):
    nu = ppc.Uniform(1.0, 30.0)
    p = ppc.Beta(2.0, 2.0)
    loc = ppc.MultivariateNormal(np.zeros(2), scale_tril)
    obs = ppc.StudentT(nu, loc[0] * p, np.exp(loc[1]) * np.ones(10))
    return obs
