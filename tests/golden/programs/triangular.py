"""solve_triangular: one matrix against a vector and against columns, and batches of
matrices (leading axes) against batches of columns and against one shared column, lower
and upper, transposed."""
import numpy as np
from jax.scipy.linalg import solve_triangular

ARGS = "f64[3,3],f64[3],f64[3,2],f64[2,3,3],f64[2,3]"


def inputs(rng):
    def tri(*shape):  # well-conditioned: a strong diagonal
        return rng.normal(size=shape) * 0.3 + 2.0 * np.eye(shape[-1])
    return tri(3, 3), rng.normal(size=3), rng.normal(size=(3, 2)), tri(2, 3, 3), rng.normal(size=(2, 3))


def main(a, v, m, batch, vs):
    x = solve_triangular(a, v, lower=True)
    y = solve_triangular(a, m, lower=False, trans=1)
    z = solve_triangular(batch, vs[..., None], lower=True)[..., 0]
    w = solve_triangular(batch, np.stack([vs, vs + 1.0], axis=-1), lower=True, trans="T")
    u = solve_triangular(batch, v[:, None], lower=True)  # one right side for every matrix
    return x, y, z, w, np.sum(u * u)
