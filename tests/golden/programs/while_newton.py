"""A while loop with a data-dependent trip count: Newton's method for sqrt."""
ARGS = "f64[]"


def inputs(rng):
    import numpy as np
    return (np.float64(rng.uniform(1.0, 50.0)),)


def main(a):
    x = a
    steps = 0
    while abs(x * x - a) > 1e-9 * a and steps < 100:
        x = 0.5 * (x + a / x)
        steps += 1
    return x, steps
