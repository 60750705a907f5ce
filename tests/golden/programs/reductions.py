"""Reductions with axis and keepdims; argmax; any/all; mean, var and std."""
import numpy as np

ARGS = "f32[4,5]"


def main(x):
    s = np.sum(x, axis=0)
    m = x.mean(axis=1, keepdims=True)
    hi = np.max(x, axis=(0, 1))
    lo = x.min(axis=-1)
    am = np.argmax(x, axis=1)
    anyneg = np.any(x < 0)
    allpos = (x > -10).all()
    v = np.var(x, axis=0)
    sd = x.std()
    return s, x - m, hi, lo, am, anyneg, allpos, v, sd, np.prod(x[0])
