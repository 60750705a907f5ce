"""Functional updates: x.at[i].set(v), .add(v) with static and traced indices."""
import jax.numpy as jnp

ARGS = "f32[5,3],i32[]"
REFERENCE = "jax"  # x.at[...] is JAX's spelling, so the eager run uses jax.numpy arrays


def inputs(rng):
    return (rng.normal(size=(5, 3)).astype("float32"), 3)


def main(x, i):
    y = x.at[0].set(1.0)
    y = y.at[i, 1:].add(10.0)
    z = jnp.zeros(4, jnp.float32)
    for k in range(4):
        z = z.at[k].set(k * 2.0)
    return y, z
