"""canonicalize: inlining, folding, CSE, DCE; and the pass manager's guarantees."""
import numpy as np
import pytest

import ppc
from ppc.ir import InternalError, Module, print_module, walk_ops
from ppc.passes import PASSES, get_pass, register_pass, run_passes


def prims(module: Module):
    return [op.prim for fn in module.functions.values() for op in walk_ops(fn.body)]


def helper(v):
    return v * 2.0


def uses_helper(x):
    return helper(x) + helper(x + 1.0)


def test_inlines_non_recursive_calls():
    c = ppc.compile(uses_helper)
    x = np.ones(3, np.float32)
    assert "call" in prims(c.ir(x))
    canon = c.canonical_ir(x)
    assert "call" not in prims(canon) and list(canon.functions) == ["uses_helper"]


def fib(n):
    if n < 2:
        return 1
    return fib(n - 1) + fib(n - 2)


def test_keeps_recursive_calls():
    canon = ppc.compile(fib).canonical_ir(5)
    assert prims(canon).count("call") == 2 and list(canon.functions) == ["fib"]


def folds(x):
    a = np.float32(2.0) * np.float32(3.0)
    return x * a + np.exp(np.float32(0.0))


def test_constant_folding():
    canon = ppc.compile(folds).canonical_ir(np.ones(3, np.float32))
    assert "exp" not in prims(canon)
    assert "constant 6.0 : f32[3]" in print_module(canon)


def duplicated(x):
    a = np.exp(x) + 1.0
    b = np.exp(x) + 1.0
    unused = np.log(x)  # noqa: F841
    return a * b


def test_cse_and_dce():
    c = ppc.compile(duplicated)
    x = np.ones(3, np.float32)
    assert prims(c.ir(x)).count("exp") == 2 and "log" in prims(c.ir(x))
    canon = c.canonical_ir(x)
    assert prims(canon).count("exp") == 1 and prims(canon).count("add") == 1
    assert "log" not in prims(canon)


def static_branch(x, flag=True):
    y = x * 2.0 if flag else x
    return y


def test_frontend_ir_is_not_mutated_by_passes():
    c = ppc.compile(duplicated)
    x = np.ones(3, np.float32)
    before = print_module(c.ir(x))
    run_passes(c.ir(x), ["canonicalize"])
    assert print_module(c.ir(x)) == before


def test_pass_manager_names_the_pass_that_breaks_the_ir():
    @register_pass("test_breaks_ir")
    def breaks(module):
        module.entry.body.ops.insert(0, module.entry.body.ops.pop())  # return first
        return module
    try:
        c = ppc.compile(duplicated)
        with pytest.raises(InternalError, match="internal error in pass 'test_breaks_ir'"):
            run_passes(c.ir(np.ones(3, np.float32)), ["canonicalize", "test_breaks_ir"], verify_each=True)
    finally:
        del PASSES["test_breaks_ir"]


def test_unknown_pass():
    with pytest.raises(KeyError, match="unknown pass 'nope'"):
        get_pass("nope")


def dead_loop_value(x):
    unused = 0.0
    total = 0.0
    for i in range(4):
        unused = unused + 1.0
        total = total + x[i]
    return total


def test_dead_loop_carried_values_are_dropped():
    c = ppc.compile(dead_loop_value)
    x = np.arange(4.0)
    (loop,) = [op for op in walk_ops(c.canonical_ir(x).entry.body) if op.prim == "while"]
    assert len(loop.operands) == 2  # the counter and `total`; `unused` is gone
    assert float(c(x)) == 6.0


def sums_of_products(a, b, c, k):
    whole = np.sum(a * b)              # every axis: a full contraction
    rows = np.sum(a * b - c, axis=1)   # a difference with a product: split, then a batched dot
    cols = np.sum(c + a * b, axis=0)
    scaled = np.sum(2.0 * a)           # a product with a constant stays a sum
    counts = np.sum(k * k)             # integers stay a sum
    return whole, rows, cols, scaled, counts


def test_sums_of_products_become_contractions(backend):
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=(4, 6)) for _ in range(3))
    k = rng.integers(-5, 5, size=(4, 6))
    f = ppc.compile(sums_of_products, backend=backend)
    canon = f.canonical_ir(a, b, c, k)
    assert prims(canon).count("dot_general") == 3 and prims(canon).count("mul") == 2
    dots = [op for op in walk_ops(canon.entry.body) if op.prim == "dot_general"]
    assert {op.attrs["batch"] for op in dots} == {((), ()), ((0,), (0,)), ((1,), (1,))}
    for got, want in zip(f(a, b, c, k), sums_of_products(a, b, c, k)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)
    # and under batching, where one factor is shared data (a likelihood's y * logits)
    batched = ppc.autobatch(f)
    out = batched(a[None] * np.arange(1, 4)[:, None, None], b[None], c[None], k[None])
    for i in range(3):
        for got, want in zip(out, sums_of_products(a * (i + 1), b, c, k)):
            np.testing.assert_allclose(np.asarray(got)[i], want, rtol=1e-12, atol=1e-12)
