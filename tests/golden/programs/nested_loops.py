"""Nested loops, the inner bound depending on the outer counter."""
ARGS = "f32[3,4]"


def main(x):
    total = 0.0
    for i in range(3):
        for j in range(i, 4):
            total = total + x[i, j] * j
    return total
