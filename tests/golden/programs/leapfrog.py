"""A leapfrog trajectory for a standard normal target: the inner loop of HMC."""
import numpy as np

ARGS = "f32[3],f32[3],f32[]"


def grad_log_density(q):
    return -q


def main(q, p, eps):
    p = p + 0.5 * eps * grad_log_density(q)
    for _ in range(10):
        q = q + eps * p
        p = p + eps * grad_log_density(q)
    p = p - 0.5 * eps * grad_log_density(q)
    energy = 0.5 * np.dot(q, q) + 0.5 * np.dot(p, p)
    return q, p, energy
