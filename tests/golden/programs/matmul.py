"""@, dot, matmul, outer, inner and einsum with literal subscripts."""
import numpy as np

ARGS = "f32[3,4],f32[4,5],f32[4],f32[2,3,4]"


def main(a, b, v, batch):
    c = a @ b
    d = np.dot(a, v)
    e = v @ b
    f = np.outer(v, v)
    g = np.einsum("ij,jk->ik", a, b)
    h = np.einsum("bij,j->bi", batch, v)
    k = np.einsum("ij->j", a)
    m = np.matmul(batch, b)
    return c, d, e, f, g, h, k, m, np.inner(v, v)
