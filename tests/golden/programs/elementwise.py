"""The common elementwise functions, where, clip and logaddexp."""
import numpy as np

ARGS = "f32[6],f32[6]"


def main(x, y):
    ax = np.abs(x) + 0.1
    a = np.exp(x) + np.log(ax) + np.sqrt(ax) + np.tanh(y)
    b = np.sin(x) * np.cos(y) + np.arctan(x) + np.log1p(ax) + np.expm1(y)
    c = np.where(x > y, x, y)
    d = np.clip(x, -0.5, 0.5)
    e = np.logaddexp(x, y)
    f = np.maximum(x, 0.0) + np.minimum(y, 0.0) + np.square(x) + np.sign(y)
    g = np.floor(x) + np.ceil(y) + np.round(x * 3.0)
    return a, b, c, d, e, f, g, np.isfinite(a)
