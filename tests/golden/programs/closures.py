"""Nested functions and lambdas, inlined where called, capturing local variables."""
import numpy as np

ARGS = "f32[4],f32[]"


def main(x, scale):
    offset = scale * 2.0

    def affine(v, k=1.0):
        return v * scale * k + offset

    sq = lambda v: v * v
    y = affine(x) + affine(x, k=0.5)
    return sq(y), np.sum(sq(x))
