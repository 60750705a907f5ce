"""Recursion on a traced value: runs on the program-counter machine (a batch of one)."""
ARGS = "i64[]"


def fib(n):
    if n <= 1:
        return 1
    return fib(n - 1) + fib(n - 2)


def main(n):
    return fib(n)
