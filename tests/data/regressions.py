"""Programs that once compiled wrongly (found by generated programs); each must match eager NumPy."""
import jax
import numpy as np
import scipy.special


def rebinds_in_later_loop(x, t):
    a = x * 0.5
    s = t + 0.0
    for i, v in enumerate(x):
        u = np.tanh(a) * s
        a = a * 0.5 + u
    for i, v in enumerate(x):
        u = x[0] - s
        s = s + u * 0.5
    return a, s, u


def nested_conditional_expressions(x):
    return (x if x > 0.5 else -x) if x > 1.5 else (x + x if x < 0 else x * 3)


def predicate_folds_to_constant(x):
    a = np.zeros_like(x)
    if np.sum(a) > 1.0:
        y = x + 1.0
    else:
        y = x - 1.0
    return y


def rebinds_in_dynamic_loop(x, n):
    u = x
    for i in range(n):
        u = np.sum(x) * i
    return u


def update_at_traced_index(x, i):
    return x.at[i].set(7.0), x.at[i].add(1.0)


def update_row_tail_at_traced_index(m, i):
    return m.at[i, 1:].add(1.0)


def xlogy_sum(x, y):
    return np.sum(scipy.special.xlogy(x, y))


def xlogy_values(x, y):
    return scipy.special.xlogy(x, y)


def relu_sum(x):
    return np.sum(jax.nn.relu(x))


def relu_values(x):
    return jax.nn.relu(x)


def abs_sum(x):
    return np.sum(np.abs(x))


def builtin_min_max(a, b):
    return min(a, b), max(a, b), min(b, a), max(b, a)


def builtin_min_of_pair(x):
    return min(x[0], x[1])
