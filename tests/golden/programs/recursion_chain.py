"""A chain of recursive calls on a float (a Horner scheme): its gradient records each
call's residuals on a tape, pushed by `horner_fwd` and read back by `horner_bwd`."""
import numpy as np

ARGS = "f64[],i64[]"


def inputs(rng):
    return rng.normal(), int(rng.integers(0, 6))


def horner(x, n):
    if n <= 0:
        return 1.0
    return x * horner(x, n - 1) + np.cos(n * x)


def main(x, n):
    return horner(x, n)
