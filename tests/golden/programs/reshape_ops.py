"""reshape, transpose, expand_dims, squeeze, concatenate, stack, ravel."""
import numpy as np

ARGS = "f32[2,3],f32[2,3]"


def main(a, b):
    r = a.reshape(3, 2)
    r2 = np.reshape(b, (-1,))
    t = np.transpose(a)
    t2 = a.reshape(1, 2, 3).transpose(2, 0, 1)
    e = np.expand_dims(a, 0)
    s = np.squeeze(e, axis=0)
    c = np.concatenate([a, b], axis=1)
    st = np.stack((a, b), axis=-1)
    return r, r2, t, t2, s, c, st, np.ravel(t)
