"""Integer-array indexing: x[idx], x[:, idx], np.take along an axis (negatives wrap once)."""
import numpy as np

ARGS = "f32[4,5],i64[3]"


def inputs(rng):
    return (rng.normal(size=(4, 5)).astype("float32"), np.array([3, -1, 0]))


def main(x, idx):
    return x[idx], x[:, idx] * 2.0, np.take(x, idx, axis=1).sum()
