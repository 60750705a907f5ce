"""Module-level constants and captured arrays become IR constants."""
import numpy as np

N_TERMS = 3
WEIGHTS = np.array([0.5, -1.0, 2.0], dtype=np.float32)
TABLE = np.arange(20, dtype=np.float32).reshape(4, 5)

ARGS = "f32[3]"


def main(x):
    y = 0.0
    for k in range(N_TERMS):
        y = y + WEIGHTS[k] * x[k]
    return y, TABLE @ np.ones(5, np.float32) + y
