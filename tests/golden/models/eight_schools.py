"""Eight schools, non-centered."""
import numpy as np

import ppc

ARGS = "f64[8]"
OBSERVE = ("y",)  # conditioned in the model stages (after `ir`)


def main(sigma):
    mu = ppc.Normal(0.0, 5.0)
    tau = ppc.HalfNormal(5.0)
    theta_tilde = ppc.Normal(np.zeros(8), 1.0)
    theta = mu + tau * theta_tilde
    y = ppc.Normal(theta, sigma)
    return y
