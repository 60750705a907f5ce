"""Branches that produce tuples and a value assigned in both branches of nested ifs."""
import numpy as np

ARGS = "f32[3],f32[]"


def main(x, t):
    if t > 0:
        if t > 1:
            lo, hi = x * t, x + t
        else:
            lo, hi = x, x
    else:
        lo, hi = -x, x * 0.0
    state = (lo, hi) if np.sum(x) > 0 else (hi, lo)
    return state[0] - state[1], lo
