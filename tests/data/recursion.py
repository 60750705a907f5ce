"""The recursion corpus: single-example programs with recursion on traced values."""
import numpy as np


def fib(n):
    if n <= 1:
        return 1
    return fib(n - 1) + fib(n - 2)


def is_even(n):
    if n == 0:
        return True
    return is_odd(n - 1)


def is_odd(n):
    if n == 0:
        return False
    return is_even(n - 1)


def gcd(a, b):
    if b == 0:
        return a
    return gcd(b, a % b)


def tail_sum(n, acc):
    """Tail recursive: must lower with no stack push."""
    if n == 0:
        return acc
    return tail_sum(n - 1, acc + n)


def ackermann(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return ackermann(m - 1, 1)
    return ackermann(m - 1, ackermann(m, n - 1))


def tree_sum(depth, x, w):
    """A NUTS-shaped recursion: float state, a vector, data (w) handed down unchanged, and a
    loop around the recursive calls."""
    if depth == 0:
        return np.tanh(x * w).sum() + x
    left = tree_sum(depth - 1, x * 0.5, w)
    right = tree_sum(depth - 1, left - 1.0, w)
    return left + 0.25 * right


def halving(depth, x, scale, w):
    """build_tree's shape: the second half runs only if the first did not stop, and
    `scale` goes down the recursion unchanged."""
    if depth == 0:
        return np.tanh(scale * x * w).sum()
    left = halving(depth - 1, x * 0.5, scale, w)
    if left > scale:
        return left
    right = halving(depth - 1, left - 1.0, scale, w)
    return left + scale * right


def two_halvings(depth, x, scale, w):
    """halving twice, with a different unchanged parameter each time."""
    return halving(depth, x, scale, w) - halving(depth + 1, x, 2.0 * scale, w)


def doubling(x, w, limit):
    """Tree doubling: a while loop whose body recurses, stopping at a data-dependent depth."""
    depth = 0
    total = 0.0
    while depth < limit and total < 3.0:
        total = total + abs(tree_sum(depth, x, w)) * 0.1
        depth += 1
    return total, depth


def collatz_steps(n):
    if n == 1:
        return 0
    if n % 2 == 0:
        return 1 + collatz_steps(n // 2)
    return 1 + collatz_steps(3 * n + 1)


def power_sum(x, n):
    """Float recursion with a value (x) live across the call."""
    if n == 0:
        return 1.0
    return 1.0 + x * power_sum(x, n - 1)


def walk_log(n, x):
    """A walk's first n points logged into a preallocated array, a loop-carried register
    changed one row per step (the recursive call makes the loop machine blocks). Past the
    end, rows are dropped, as JAX's x.at[i].set drops them."""
    log = np.zeros((5, 2))
    i = 0
    while i < n:
        x = 0.5 * x + fib(i % 4)
        log = log.at[i].set(np.stack([x, 1.0 * i]))
        i += 1
    return log, x


def countdown_log(n, log):
    """Recursion that returns its argument with one row more set on the way back up."""
    if n == 0:
        return log
    log = countdown_log(n - 1, log)
    return log.at[n - 1].set(np.stack([1.0 * n, 1.0 * n * n]))
