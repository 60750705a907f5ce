"""Differentiable programs written twice: with NumPy for ppc, with jax.numpy for jax.grad."""
import jax
import jax.numpy as jnp
import numpy as np


def branchy(x):
    s = np.sum(x)
    if s > 0:
        y = np.sin(x) * s
    else:
        y = np.cos(x) - s
    return np.sum(y * y)


def branchy_jax(x):
    s = jnp.sum(x)
    y = jax.lax.cond(s > 0, lambda: jnp.sin(x) * s, lambda: jnp.cos(x) - s)
    return jnp.sum(y * y)


def static_loop(x, w):
    h = x
    for i in range(4):
        h = np.tanh(h * w + i)
    return np.sum(h ** 2)


def static_loop_jax(x, w):
    h = x
    for i in range(4):
        h = jnp.tanh(h * w + i)
    return jnp.sum(h ** 2)


def dynamic_range(x, n):
    acc = 0.0
    for i in range(n):
        acc = acc + np.sum(np.exp(-x * i))
    return acc


def dynamic_range_jax(x, n):
    return jax.lax.fori_loop(0, n, lambda i, acc: acc + jnp.sum(jnp.exp(-x * i)), 0.0)


def early_exit(x):
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] < -1.0:
            break
        total = total + x[i] ** 3
    return total


def newton_sqrt(a):
    """A data-dependent while loop: reverse mode through it is what jax.grad refuses."""
    x = a
    while np.abs(x * x - a) > 1e-10:
        x = 0.5 * (x + a / x)
    return x


def mixed_ops(x, y):
    a = np.maximum(x, y) + np.minimum(x, 0.5) + np.abs(y)
    b = np.logaddexp(x, y) + np.arctan2(x, y + 3.0)
    c = np.where(x > 0, x ** 3, y ** 2)
    d = np.concatenate([x, y])[1:4]
    e = np.cumsum(x)[-1] + np.max(y) + np.prod(x + 2.0)
    f = (x.reshape(2, 2) @ y.reshape(2, 2)).T
    return np.sum(a * b) + np.sum(c) + np.sum(d) + e + np.sum(f) + np.sum(np.sqrt(x * x + 1.0))


def mixed_ops_jax(x, y):
    a = jnp.maximum(x, y) + jnp.minimum(x, 0.5) + jnp.abs(y)
    b = jnp.logaddexp(x, y) + jnp.arctan2(x, y + 3.0)
    c = jnp.where(x > 0, x ** 3, y ** 2)
    d = jnp.concatenate([x, y])[1:4]
    e = jnp.cumsum(x)[-1] + jnp.max(y) + jnp.prod(x + 2.0)
    f = (x.reshape(2, 2) @ y.reshape(2, 2)).T
    return jnp.sum(a * b) + jnp.sum(c) + jnp.sum(d) + e + jnp.sum(f) + jnp.sum(jnp.sqrt(x * x + 1.0))


def scalar_poly(x):
    return x ** 4 - 3.0 * x ** 2 + np.sin(x)


def quad_form(x, m):
    return np.dot(x, m @ x) + np.sum(np.exp(x))


def quad_form_jax(x, m):
    return jnp.dot(x, m @ x) + jnp.sum(jnp.exp(x))


def with_aux(w):
    loss = np.sum(w ** 2)
    return loss, w * 2.0


def vector_out(x):
    return x * 2.0


def int_arg(x, k):
    return np.sum(x * k)


def pair_loss(params, x):
    a, b = params
    return np.sum((a * x + b) ** 2)


def linear_fn(x, y):
    return 3.0 * x - y[::-1], np.sum(x)
