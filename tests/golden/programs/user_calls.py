"""Calls to other user functions, each specialized on its argument types; a helper
used at two shapes becomes two functions."""
import numpy as np

ARGS = "f32[3],f32[2,3]"


def norm2(v):
    return np.sqrt(np.sum(v * v))


def normalize(v):
    return v / norm2(v)


def main(a, m):
    return normalize(a), normalize(m), norm2(m[0]) + norm2(a)
