"""Builtins: abs, min, max, float, int, len, range, sum over tuples."""
import numpy as np

ARGS = "f32[4],f32[]"


def main(x, t):
    a = abs(t)
    b = max(t, np.float32(0.5))  # Python's max returns an argument: keep both f32
    c = min(x[0], x[1], t)
    d = max(x)
    e = sum((x[0], x[1], x[2]))
    f = float(len(x)) + int(2.9)
    return a, b, c, d, e, f
