"""A NUTS-shaped program: a loop of tree doublings, each a recursive tree build on float
state, with data handed down the recursion unchanged."""
import numpy as np

ARGS = "f64[],f64[3],i64[]"


def inputs(rng):
    return rng.normal(), rng.normal(size=3), int(rng.integers(1, 5))


def build(depth, x, w):
    if depth == 0:
        return np.tanh(x * w).sum() + x
    left = build(depth - 1, x * 0.5, w)
    right = build(depth - 1, left - 1.0, w)
    return left + 0.25 * right


def main(x, w, limit):
    depth = 0
    total = 0.0
    while depth < limit and total < 3.0:
        total = total + abs(build(depth, x, w)) * 0.1
        depth += 1
    return total, depth
