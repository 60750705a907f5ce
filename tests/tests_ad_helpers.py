"""A module-level function calling ppc.grad inside compiled code (for test_ad)."""
import numpy as np

import ppc


def loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


_grad = ppc.grad(loss)


def sgd(w, x):
    for _ in range(5):
        w = w - 0.1 * _grad(w, x)
    return w
