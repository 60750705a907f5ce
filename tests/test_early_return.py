"""An early `return` ends its path: the variables of a path that has surely returned are
dead at later joins (they may differ in shape from, or be missing on, the other path)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppc
from ppc.ir import CompileError


def shape_on_returned_path(x, t):
    y = x
    if t > 0:
        y = y[:3]
        return y.sum()
    return y.sum() + 1.0


def bound_only_on_continuing_path(x, t):
    if t > 0:
        return x[:2].sum()
    else:
        y = x[:2] * 3
    return y.sum()


def else_returns(x, t):
    y = x
    if t > 0:
        y = x[1:] * 2.0
    else:
        y = x[:1]
        return y.sum() - 1.0
    return y.sum()


def nested_ifs(x, t):
    y = x * 2.0
    if t > 0:
        if t > 2:
            y = y[:1]
            return (y * 3.0).sum()
        y = y + 1.0
    else:
        z = y[:4]
        if t < -2:
            return z.sum()
        y = y * z.sum()
    return y.sum()


def static_test_inside_traced(x, t):
    y = x
    if t > 0:
        if x.shape[0] > 3:  # known at compile time
            y = y[:3]
            return y.sum()
        y = y + 1.0
    return y.sum()


def returns_in_sequence(x, t):
    y = x
    if t > 3:
        y = y[:1]
        return y.sum()
    y = y * 2.0
    if t > 1:
        y = y[:2]
        return y.sum()
    y = y[3:]
    return y.sum()


def tuple_on_returned_path(x, t):
    p = (x, x[0])
    if t > 0:
        p = (x[:2], x[1])
        return p[0].sum() + p[1]
    return p[0].sum() * p[1]


def for_loop(x, t):
    for i in range(3):
        y = x
        if t > i:
            y = x[:2]
            return y.sum()
    return y.sum()


def while_loop(x, t):
    i = 0
    acc = x * 1.0
    while i < 5:
        acc = acc * 0.5
        if acc.sum() < t:
            acc = acc[:2]
            return acc.sum() * 10.0
        i += 1
    return acc.sum()


def nested_loops(x, t):
    s = x * 0.0
    for i in range(3):
        for j in range(2):
            s = s + x
            if s.sum() > t:
                s = s[:2]
                return s.sum()
    return s.sum()


def unrolled_loop(x, t):
    for k in (1, 2):
        if t > k:
            return x.sum()
        y = x[:k]
    return y.sum()


def body_surely_returns(x, t):
    y = x
    for i in range(x.shape[0] * (t > 0)):  # may run no iterations
        y = x[:2]
        return y.sum()
    return y.sum()


PROGRAMS = [shape_on_returned_path, bound_only_on_continuing_path, else_returns, nested_ifs,
            static_test_inside_traced, returns_in_sequence, tuple_on_returned_path, for_loop, while_loop,
            nested_loops, unrolled_loop, body_surely_returns]
TS = [-5.0, -1.0, 0.5, 1.5, 2.5, 5.0, 40.0]  # every path of every program
X = np.arange(6.0, dtype=np.float32) + 1.0


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_matches_python(f):
    cf = ppc.compile(f)
    for t in TS:
        assert np.allclose(cf(X, np.float32(t)), f(X, t), rtol=1e-5), t


@pytest.mark.parametrize("f", [shape_on_returned_path, nested_ifs, for_loop, while_loop, unrolled_loop],
                         ids=lambda f: f.__name__)
def test_grad(f):
    g = ppc.grad(f)
    for t in TS:
        assert np.allclose(g(X, np.float32(t)), jax.grad(f)(jnp.asarray(X), t), rtol=1e-5), t


@pytest.mark.parametrize("strategy", ["local_static", "program_counter"])
@pytest.mark.parametrize("f", [shape_on_returned_path, bound_only_on_continuing_path, for_loop, while_loop],
                         ids=lambda f: f.__name__)
def test_autobatch(f, strategy):
    xs = np.stack([X * (1 + 0.1 * k) for k in range(len(TS))]).astype(np.float32)
    want = np.stack([np.asarray(f(xs[k], t)) for k, t in enumerate(TS)])
    got = ppc.autobatch(f, strategy=strategy)(xs, np.asarray(TS, np.float32))
    assert np.allclose(got, want, rtol=1e-5)


def read_after_return_only(x, t):
    if t > 0:
        y = x
        return y.sum()
    return y.sum()


def continuing_paths_disagree(x, t):
    y = x
    if t > 0:
        y = x[:2]
    elif t < -1:
        return x.sum()
    return y.sum()


def return_shapes_differ(x, t):
    if t > 0:
        return x[:2]
    return x


@pytest.mark.parametrize("f,match", [
    (read_after_return_only, "'y' may be undefined here: it is assigned only on a path that returns"),
    (continuing_paths_disagree, r"'y' may be undefined here: it has shape \(2,\) on one path and \(6,\)"),
    (return_shapes_differ, "the returned value may be undefined"),
])
def test_still_refused(f, match):
    with pytest.raises(CompileError, match=match):
        ppc.compile(f)(X, np.float32(1.0))
