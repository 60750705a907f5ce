"""The MLP training step and the strategies the partitioning tests share (and the
two-process worker): one program, many ways to cut it."""
import numpy as np

import ppc
from ppc.partition import Mesh, tile


def loss(w1, w2, x, y):
    h = np.tanh(x @ w1)
    return np.mean((h @ w2 - y) ** 2)


mlp_grad = ppc.grad(loss, argnums=(0, 1))


def train_step(w1, w2, x, y):
    g1, g2 = mlp_grad(w1, w2, x, y)
    return w1 - 0.1 * g1, w2 - 0.1 * g2


step = ppc.compile(train_step)
MESH = Mesh({"batch": 4, "model": 2})
DATA = [tile("x", 0, "batch"), tile("y", 0, "batch")]
STRATEGIES = {
    "none": [],
    "batch": DATA,
    "megatron": [tile("w1", 1, "model"), tile("w2", 0, "model")],
    "batch+megatron": DATA + [tile("w1", 1, "model"), tile("w2", 0, "model")],
    "zero": DATA + [tile("w1", 1, "batch"), tile("w2", 0, "batch")],
    "zero+megatron": DATA + [tile("w1", 1, "model"), tile("w1", 0, "batch")],
}
