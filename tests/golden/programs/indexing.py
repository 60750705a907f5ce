"""Integer (static, negative and traced), slice, None, Ellipsis and tuple indexing."""
ARGS = "f32[4,5,6],i32[]"


def inputs(rng):
    return (rng.normal(size=(4, 5, 6)).astype("float32"), 2)


def main(x, i):
    a = x[1]
    b = x[-1, 2:4, ::2]
    c = x[:, None, 0, -2]
    d = x[..., 3]
    e = x[i, i + 1]
    f = x[1:3, ::-1, i]
    g = x[(0, 1)]
    return a, b, c, d, e, f, g
