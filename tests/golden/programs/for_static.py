"""`for i in range(...)` with static bounds: a while with a static trip count."""
import numpy as np

ARGS = "f32[6]"


def main(x):
    acc = 0.0
    for i in range(1, 6, 2):
        acc = acc + x[i] * i
    prod = np.ones(6, np.float32)
    for i in range(6):
        prod = prod * (x[i] + 1.0)
    return acc, prod
