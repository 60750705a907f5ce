"""scipy.special functions: logsumexp, expit, gammaln."""
import numpy as np
from scipy.special import expit, gammaln, logsumexp

ARGS = "f32[3,4]"


def main(x):
    lse = logsumexp(x, axis=1)
    total = logsumexp(x)
    p = expit(x)
    g = gammaln(np.abs(x) + 1.0)
    return lse, total, p, g
