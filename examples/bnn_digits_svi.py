"""Bayesian neural network on scikit-learn's digits by synchronous data-parallel SVI.

A one-hidden-layer network (64 -> 32 tanh -> 10) with standard-normal priors on every
weight and a mean-field Gaussian posterior (mean `mu`, scale softplus(`rho`)) is fitted by
stochastic variational inference: each step draws one set of weights by
reparameterization, takes the gradient of the negative ELBO on a minibatch (likelihood
scaled by N/B, the Gaussian KL in closed form) with ppc.grad, and applies Adam. The
whole step is one ppc-compiled NumPy function; ppc.partition tiles the minibatch over the
`batch` axis of a mesh, so each device computes the gradient of its slice and one
all-reduce per parameter vector sums them: synchronous data parallelism, written apart
from the model. On CPU the devices are emulated (XLA_FLAGS, set below before JAX loads).

    python examples/bnn_digits_svi.py [--steps 1500] [--devices 8] [--batch-size 256]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    _n = next((a.split("=")[1] for a in sys.argv if a.startswith("--devices=")), None)
    if _n is None and "--devices" in sys.argv:
        _n = sys.argv[sys.argv.index("--devices") + 1]
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + f" --xla_force_host_platform_device_count={_n or 8}").strip()
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from scipy.special import logsumexp  # noqa: E402
from tqdm import tqdm  # noqa: E402

import ppc  # noqa: E402
from ppc.ir import walk_ops  # noqa: E402
from ppc.partition import Mesh, apply, tile  # noqa: E402

D, H, K = 64, 32, 10                       # pixels, hidden units, classes
P = D * H + H + H * K + K                  # weights in all
B1, W2, B2 = D * H, D * H + H, D * H + H + H * K   # where each block starts in the flat vector


def network(w, x):
    """Class log-probabilities for rows of `x` under the flat weight vector `w`."""
    w1 = np.reshape(w[0:B1], (D, H))
    b1 = w[B1:W2]
    w2 = np.reshape(w[W2:B2], (H, K))
    b2 = w[B2:P]
    logits = np.tanh(x @ w1 + b1) @ w2 + b2
    return logits - logsumexp(logits, axis=1, keepdims=True)


def negative_elbo(mu, rho, eps, x, y, scale):
    """-(N/B x minibatch log-likelihood at one reparameterized draw - KL(q || prior))."""
    sigma = np.logaddexp(0.0, rho)
    w = mu + sigma * eps
    log_lik = np.sum(y * network(w, x))
    kl = np.sum(0.5 * (sigma * sigma + mu * mu - 1.0) - np.log(sigma))
    return kl - scale * log_lik


elbo_grad = ppc.grad(negative_elbo, argnums=(0, 1))


def svi_step(mu, rho, m_mu, v_mu, m_rho, v_rho, t, eps, x, y, scale, lr):
    """One Adam step on the negative ELBO (moments m, v; step count t)."""
    g_mu, g_rho = elbo_grad(mu, rho, eps, x, y, scale)
    t = t + 1.0
    m_mu = 0.9 * m_mu + 0.1 * g_mu
    v_mu = 0.999 * v_mu + 0.001 * g_mu * g_mu
    m_rho = 0.9 * m_rho + 0.1 * g_rho
    v_rho = 0.999 * v_rho + 0.001 * g_rho * g_rho
    c1 = 1.0 - 0.9 ** t
    c2 = 1.0 - 0.999 ** t
    mu = mu - lr * (m_mu / c1) / (np.sqrt(v_mu / c2) + 1e-8)
    rho = rho - lr * (m_rho / c1) / (np.sqrt(v_rho / c2) + 1e-8)
    return mu, rho, m_mu, v_mu, m_rho, v_rho, t


def predictive(mu, rho, eps, x):
    """Posterior-predictive class probabilities, averaged over the draws in `eps`."""
    sigma = np.logaddexp(0.0, rho)
    total = np.zeros((x.shape[0], K), dtype=x.dtype)
    for s in range(eps.shape[0]):
        total = total + np.exp(network(mu + sigma * eps[s], x))
    return total / eps.shape[0]


def load_digits(seed=0):
    """(x_train, y_train one-hot, x_test, labels_test), pixels scaled to [0, 1], float32."""
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split
    data = sk_digits()
    x = (data.data / 16.0).astype(np.float32)
    x_tr, x_te, l_tr, l_te = train_test_split(x, data.target, test_size=0.2, random_state=seed, stratify=data.target)
    return x_tr, np.eye(K, dtype=np.float32)[l_tr], x_te, l_te


def build(devices: int):
    """The compiled step and the same step partitioned data-parallel over `devices`."""
    step = ppc.compile(svi_step)
    mesh = Mesh({"batch": devices})
    return step, apply(step, [tile("x", 0, "batch"), tile("y", 0, "batch")], mesh)


def init_state(seed=0):
    rng = np.random.default_rng(seed)
    mu = (rng.normal(size=P) * 0.1).astype(np.float32)
    rho = np.full(P, -5.0, np.float32)
    zeros = np.zeros(P, np.float32)
    return [mu, rho, zeros, zeros, zeros, zeros, np.float32(0.0)]


def count(module, prim: str) -> int:
    """Ops of `prim` in every function of `module`, nested regions included, so that
    collectives inside loops and branches are not missed."""
    return sum(1 for f in module.functions.values() for op in walk_ops(f.body) if op.prim == prim)


def train(step, data, steps: int, batch_size: int, lr: float = 0.01, seed: int = 0, progress: bool = True):
    """Run `steps` SVI steps of `step` (partitioned or not); returns the final state and
    the median seconds per step (after the first, which compiles)."""
    x_tr, y_tr = data[0], data[1]
    n = x_tr.shape[0]
    rng = np.random.default_rng(seed + 1)
    state = init_state(seed)
    scale, rate = np.float32(n / batch_size), np.float32(lr)
    times = []
    for _ in tqdm(range(steps), desc="svi", disable=not progress):
        rows = rng.choice(n, batch_size, replace=False)
        eps = rng.normal(size=P).astype(np.float32)
        start = time.perf_counter()
        state = [np.asarray(s) for s in step(*state, eps, x_tr[rows], y_tr[rows], scale, rate)]
        times.append(time.perf_counter() - start)
    return state, float(np.median(times[1:])) if len(times) > 1 else float("nan")


def accuracy(state, data, draws: int = 20, seed: int = 0) -> float:
    mu, rho = state[0], state[1]
    eps = np.random.default_rng(seed + 2).normal(size=(draws, P)).astype(np.float32)
    probs = np.asarray(ppc.compile(predictive)(mu, rho, eps, data[2]))
    return float(np.mean(np.argmax(probs, axis=1) == data[3]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--devices", type=int, default=None,
                   help="size of the mesh's batch axis (default: 8 emulated devices on CPU, else every accelerator)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.devices is None:  # a GPU host has as many devices as it has GPUs, often fewer than 8
        a.devices = 8 if jax.default_backend() == "cpu" else jax.device_count()
    if a.devices > jax.device_count():
        p.error(f"--devices {a.devices}: JAX sees {jax.device_count()} {jax.default_backend()} devices")
    if a.batch_size % a.devices:
        p.error(f"--batch-size {a.batch_size} must split evenly over {a.devices} devices")
    data = load_digits(a.seed)
    step, parallel = build(a.devices)
    sample = init_state(a.seed) + [np.zeros(P, np.float32), data[0][:a.batch_size], data[1][:a.batch_size],
                                   np.float32(1.0), np.float32(0.01)]
    per_device = parallel.ir(*sample)
    print(f"digits: {data[0].shape[0]} training and {data[2].shape[0]} test images; {P} weights; "
          f"minibatch {a.batch_size} over {a.devices} devices ({a.batch_size // a.devices} rows each); "
          f"{count(per_device, 'all_reduce')} all_reduce ops per step")
    state, seconds = train(parallel, data, a.steps, a.batch_size, seed=a.seed, progress=not a.quiet)
    acc = accuracy(state, data, seed=a.seed)
    print(f"{seconds * 1e3:.2f} ms per step; test accuracy {acc:.3f} (posterior predictive, 20 draws); "
          f"mean posterior sd {np.mean(np.logaddexp(0.0, state[1])):.3f}")
    return acc


if __name__ == "__main__":
    main()
