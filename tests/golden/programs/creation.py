"""Array creation: zeros, ones, full, arange, linspace, eye, *_like, array of values."""
import numpy as np

ARGS = "f32[3],f32[]"


def main(v, s):
    z = np.zeros((2, 3))
    o = np.ones(3, dtype=np.int32)
    f = np.full((2,), 7.0, dtype=np.float32)
    a = np.arange(5)
    a2 = np.arange(1.0, 2.0, 0.25)
    ls = np.linspace(0.0, 1.0, 5)
    e = np.eye(3, dtype=np.float32)
    zl = np.zeros_like(v) + np.ones_like(v)
    arr = np.array([s, 2.0 * s, 3.0])
    return z, o, f, a, a2, ls, e @ v, zl, arr
