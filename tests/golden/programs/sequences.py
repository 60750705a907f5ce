"""Loops over tuples (unrolled), enumerate and zip over arrays, comprehensions."""
import numpy as np

ARGS = "f32[4],f32[4]"


def main(x, y):
    powers = [x ** k for k in range(1, 4)]
    total = np.stack(powers).sum(axis=0)
    acc = 0.0
    for i, v in enumerate(x):
        acc = acc + i * v
    dot = 0.0
    for a, b in zip(x, y):
        dot = dot + a * b
    parts = 0.0
    for scale in (1.0, 2.0, 3.0):
        parts = parts + scale * x[0]
    return total, acc, dot, parts
