import numpy as np
import ppc

def e1(v, w):
    t = 0.0
    for i, a in enumerate(v):
        t = t + i * a
    return t

def z1(v, w):
    t = 0.0
    for a, b in zip(v, w):
        t = t + a * b
    return t

def ez(v, w):
    t = 0.0
    for i, (a, b) in enumerate(zip(v, w)):
        t = t + i * a * b
    return t

def ez_tuple(v, w):
    t = 0.0
    for i, (a, b) in enumerate(zip((v, w), (w, v))):
        t = t + i * (a * b).sum()
    return t

def ze(v, w):
    t = 0.0
    for (i, a), b in zip(enumerate(v), w):
        t = t + i * a * b
    return t

def e_range(v, w):
    t = 0.0
    for i, k in enumerate(range(3)):
        t = t + i * k * v[k]
    return t

def z_range(v, w):
    t = 0.0
    for k, a in zip(range(3), v):
        t = t + k * a
    return t

v = np.array([1., 2., 3.]); w = np.array([4., 5., 6.])
for f in [e1, z1, ez, ez_tuple, ze, e_range, z_range]:
    try:
        print(f.__name__, f(v, w), ppc.compile(f)(v, w))
    except Exception as e:
        print(f.__name__, type(e).__name__, str(e).splitlines()[0][:200])
