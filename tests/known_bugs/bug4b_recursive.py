# same shape as bug4, recursive -> affects ppc.compile too
import numpy as np
import ppc

def f(n, x, v):
    y = x * 0.5
    if n <= 0:
        return x, v
    if v[1] > v[2]:
        if v[n % 3] > 0.5 * float(n):
            v = np.tanh(v * float(n) + (v[0] + x))
            return f(n - 1, v[0], v[::-1])
        y = np.tanh(np.where(1.5 * v.sum() + 0.5 > v.sum(), 1.5 * v.sum() + 0.5, v.sum() * 0.5))
        v = np.tanh(v * np.tanh(x) + v[n % 3])
    return x + y, v

rng = np.random.default_rng(2)
N = 16
ns = rng.integers(0, 6, N); xs = rng.normal(size=N); vs = rng.normal(size=(N, 3))
for name, run in [("pc", lambda: ppc.autobatch(f)(ns, xs, vs)), ("local_static", lambda: ppc.autobatch(f, strategy="local_static")(ns, xs, vs)),
                  ("compile", lambda: ppc.compile(f)(ns[0], xs[0], vs[0]))]:
    try:
        run(); print(name, "ran")
    except Exception as e:
        print(name, type(e).__name__, str(e)[:200])
