"""NumPy broadcasting and dtype promotion; Python scalars are weakly typed."""
import numpy as np

ARGS = "f32[4,3],f32[3],f64[4,1],i32[3]"


def main(m, row, col64, ints):
    a = m + row                 # (4,3) + (3,)
    b = m * col64               # f32 * f64 -> f64
    c = ints * 2.5              # i32 * weak float -> f32
    d = ints + 1                # stays i32
    e = row * 2                 # weak int keeps f32
    f = np.float32(3.0) * ints  # strong f32 * i32 -> f64 under NumPy rules
    return a, b, c, d, e, f
