"""Positional parameters with defaults: defaults not passed are compile-time constants."""
ARGS = "f32[3]"


def scaled(x, factor=2.0, shift=0.0):
    return x * factor + shift


def main(x, power=2, clip=True):
    y = scaled(x) + scaled(x, 3.0) + scaled(x, shift=1.0)
    if clip:
        y = y * (y > 0)
    return y ** power
