"""`for` over a range whose bounds are traced values, stepping up and down."""
ARGS = "f32[8],i32[],i32[]"


def inputs(rng):
    return (rng.normal(size=8).astype("float32"), 2, 7)


def main(x, lo, hi):
    up = 0.0
    for i in range(lo, hi):
        up = up + x[i]
    down = 0.0
    for j in range(hi, lo, -2):
        down = down * 0.5 + x[j]
    return up, down
