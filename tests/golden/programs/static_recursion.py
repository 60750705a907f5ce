"""Recursion on compile-time values unrolls while lowering, as Python would run it."""
ARGS = "f32[]"


def fib(n):
    if n < 2:
        return 1
    return fib(n - 1) + fib(n - 2)


def poly(x, n):
    if n == 0:
        return 1.0
    return 1.0 + x * poly(x, n - 1)


def main(x):
    return fib(10) * x, poly(x, 4)
