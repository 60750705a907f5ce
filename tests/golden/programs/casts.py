"""cumsum and dtype conversions: astype, float(), int(), np.float32(...)."""
import numpy as np

ARGS = "f32[5],f64[]"


def main(x, s):
    c = np.cumsum(x)
    c2 = np.cumsum(x.reshape(5, 1), axis=1)
    i = x.astype(np.int32)
    f = float(s) * 2
    n = int(s * 3.7)
    h = np.float32(s) + x
    b = (x > 0).astype(np.float64)
    return c, c2, i, f, n, h, b
