"""return anywhere: in a branch, inside a loop, and a final fallback."""
ARGS = "f32[6],f32[]"


def first_above(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            return i
    return -1


def main(x, t):
    if t > 10.0:
        return 0.0, -2
    idx = first_above(x, t)
    return x[0] * t, idx
