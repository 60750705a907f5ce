"""Tuple packing and unpacking, swaps, tuple results, starred call arguments."""
import numpy as np

ARGS = "f32[3],f32[3]"


def pair(a, b):
    return a + b, a - b


def main(x, y):
    x, y = y, x
    s, d = pair(x, y)
    args = (s, d)
    t = pair(*args)
    (p, q), r = t, x[0]
    return p, q * r, (s, d)
