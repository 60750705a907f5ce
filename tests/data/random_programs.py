"""Programs drawing random numbers from explicit keys (for batching tests)."""
import jax
import numpy as np
from jax.scipy.linalg import solve_triangular


def noisy(key, mu):
    k1, k2 = jax.random.split(key)
    z = jax.random.normal(k1, (3,))
    u = jax.random.uniform(k2, (3,))
    g = jax.random.gamma(k2, mu * mu + 1.0)
    return mu + z, u, g


def walk(key, steps):
    x = 0.0
    for _ in range(steps):
        key, sub = jax.random.split(key)
        x = x + jax.random.normal(sub, ())
    return x


def mvn_log_density(x, scale_tril):
    z = solve_triangular(scale_tril, x, lower=True)
    return -0.5 * np.sum(z * z)
