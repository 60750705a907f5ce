"""Arithmetic, comparisons (chained too), boolean operators, unary minus,
conditional expressions and augmented assignment on scalars."""
ARGS = "f32[],f32[]"


def main(a, b):
    c = a * b - a / (b * b + 1.0)
    c += 2.0
    c *= -a
    in_range = 0.0 < a < 1.0
    both = (a > 0) and (b > 0) or not (a > b)
    d = c if both else -c
    e = a ** 2 + b ** 3
    return d, e, in_range, a // 1.5, a % 1.5
