"""Integer arithmetic and bitwise operators: & | ^ << >> ~ // %."""
ARGS = "i32[4],i32[4]"


def inputs(rng):
    return (rng.integers(-50, 50, size=4).astype("int32"), rng.integers(1, 9, size=4).astype("int32"))


def main(a, b):
    c = (a & b) | (a ^ 3)
    d = (b << 2) >> 1
    e = ~a
    f = a // b + a % b
    return c, d, e, f, -a
