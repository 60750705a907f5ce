"""Mutual recursion in tail position: the calls become jumps, with no stack push."""
ARGS = "i64[]"


def is_even(n):
    if n == 0:
        return True
    return is_odd(n - 1)


def is_odd(n):
    if n == 0:
        return False
    return is_even(n - 1)


def main(n):
    return is_even(n), is_odd(n + 3)
