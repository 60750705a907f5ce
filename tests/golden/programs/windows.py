"""Windows at traced offsets: lax.dynamic_slice and dynamic_update_slice of several
elements, x.at[i, 1:] updates, starts out of range (XLA clamps them), and values that
must move exactly (an infinity)."""
import numpy as np
from jax import lax

ARGS = "f64[6,4],f64[3,2],i64[],i64[]"
REFERENCE = "jax"


def inputs(rng):
    x = rng.normal(size=(6, 4))
    x[rng.integers(6), rng.integers(4)] = np.inf
    return x, rng.normal(size=(3, 2)), int(rng.integers(-2, 7)), int(rng.integers(0, 4))


def main(x, u, i, j):
    window = lax.dynamic_slice(x, (i, j), (3, 2))
    row = lax.dynamic_slice(x, (i, 0), (2, 4))
    y = lax.dynamic_update_slice(x, u, (i, j))
    z = x.at[j, 1:].add(1.0)
    w = lax.dynamic_update_slice(x, u[:1], (j, 2))
    return window, row, y, z, w
