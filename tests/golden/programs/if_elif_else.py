"""if/elif/else on traced predicates, a variable defined in every branch, and a branch
decided at compile time from a shape."""
import numpy as np

ARGS = "f32[5],f32[]"


def main(x, t):
    s = np.sum(x)
    if s > t:
        y = s - t
    elif s > 0:
        y = s * 2.0
    else:
        y = -s
    if x.shape[0] > 3:       # static: only this branch is lowered
        z = x[:3]
    else:
        z = x
    return y, z
