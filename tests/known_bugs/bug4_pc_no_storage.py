# program_counter strategy: InternalError "Value(v) (temp) is read in block 3 (@f else) but
# has no storage" on a NON-recursive program: nested if, early return of a helper's tuple,
# and a largish amount of work after the inner if (so the pc pass cuts the branch into blocks).
import numpy as np
import ppc

def h(x, v):
    return x, np.tanh(v + x)

def f(n, x, v):
    y = x * 0.5
    if v[1] > v[2]:
        if v[n % 3] > 0.5 * float(n):
            v = np.tanh(v * float(n) + (v[0] + x))
            return h(v[0], v[::-1])
        y = np.tanh(np.where(1.5 * v.sum() + 0.5 > v.sum(), 1.5 * v.sum() + 0.5, v.sum() * 0.5))
        v = np.tanh(v * np.tanh(x) + v[n % 3])
    return x + y, v

rng = np.random.default_rng(2)
N = 16
ns = rng.integers(0, 6, N); xs = rng.normal(size=N); vs = rng.normal(size=(N, 3))
ref = [f(ns[i], xs[i], vs[i]) for i in range(N)]
ls = ppc.autobatch(f, strategy="local_static")(ns, xs, vs)
print("local_static ok:", np.allclose(ls[0], [r[0] for r in ref]) and np.allclose(ls[1], [r[1] for r in ref]))
print("compile ok:", np.allclose(ppc.compile(f)(ns[0], xs[0], vs[0])[0], ref[0][0]))
try:
    out = ppc.autobatch(f)(ns, xs, vs)
    print("pc ok:", np.allclose(out[0], [r[0] for r in ref]) and np.allclose(out[1], [r[1] for r in ref]))
except Exception as e:
    print("pc:", type(e).__name__, str(e)[:400])
