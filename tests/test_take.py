"""Indexing by an integer array (`take` and its transpose `scatter_add`, ppc/ir/prims/gather.py):
values against NumPy on both backends, derivatives, both batching strategies, a
hierarchical model, out-of-range indices and the refusals."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import ppc
from ppc.autobatch import shared
from ppc.frontend.lower import CompileError

BACKENDS = ["jax", "tf"]
STRATEGIES = ["local_static", "program_counter"]
rng = np.random.default_rng(0)
X3 = rng.normal(size=(4, 5, 6))


def fancy(x, i):
    return x[i], x[:, i], x[i, 1], x[..., i], x[1, :, i], np.take(x, i, axis=1), x[i, None, 0], x[::-1, i, 1:3]


def reference(x, i):
    """NumPy's answers (every index in range)."""
    return x[i], x[:, i], x[i, 1], x[..., i], x[1, :, i], np.take(x, i, axis=1), x[i, None, 0], x[::-1, i, 1:3]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_indexing_forms_match_numpy(backend, dtype):
    """Negative, repeated and 2-d indices in every position, incl. x[1, :, i] whose array
    axes come first (NumPy's rule for advanced indices apart from each other)."""
    assert np.asarray(ppc.compile(lambda x, i: x.at[i].get(), backend=backend)(X3, np.array([1]))).shape == (1, 5, 6)
    x = (X3 * 10).astype(dtype)
    f = ppc.compile(fancy, backend=backend)
    for i in (np.array([0, -1, 2, 2, -4]), np.array([[3, 0], [-2, 3]])):
        for got, want in zip(f(x, i), reference(x, i)):
            assert np.asarray(got).dtype == want.dtype
            np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_take_every_axis_and_flattened(backend):
    i = np.array([[1, -1, 0], [0, 0, 2]])
    for axis in (0, 1, 2, -1, None):
        f = ppc.compile(lambda x, i, axis=axis: jnp.take(x, i, axis=axis), backend=backend)
        np.testing.assert_array_equal(f(X3, i), np.take(X3, i, axis=axis))
    g = ppc.compile(lambda x: x[[3, 0, -1]] + x[np.array([1, 1, 1])], backend=backend)
    np.testing.assert_array_equal(g(X3), X3[[3, 0, -1]] + X3[[1, 1, 1]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_of_range_gives_jax_fill(backend):
    """Past the end, or before the start after one wrap: jnp.take's fill, never another element."""
    i = np.array([4, -5, 100, -100, 3, -4])
    f = ppc.compile(lambda x, xi, xu, xb, i: (x[i], xi[i], xu[i], xb[i]), backend=backend)
    x, xi = np.arange(4.0), np.arange(4, dtype=np.int32)
    xu, xb = np.arange(4, dtype=np.uint8), np.zeros(4, bool)
    for got, arr in zip(f(x, xi, xu, xb, i), (x, xi, xu, xb)):
        want = jnp.take(arr, i, mode="fill")
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert np.isnan(np.asarray(f(x, xi, xu, xb, i)[0])[:4]).all()


def loss(x, i):
    return jnp.sum(jnp.sin(x[i]) * jnp.arange(1.0, i.shape[0] + 1.0)[:, None]) + jnp.sum(jnp.take(x, i, axis=1) ** 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_matches_jax_and_finite_differences(backend):
    """Repeated indices accumulate; out-of-range ones get no gradient (not NaN)."""
    x = rng.normal(size=(4, 4))
    i = np.array([1, 1, -1, 0, 1])
    got = np.asarray(ppc.grad(ppc.compile(loss, backend=backend))(x, i))
    np.testing.assert_allclose(got, jax.grad(loss)(x, i), rtol=1e-10)
    eps, fd = 1e-6, np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = eps
        fd[k] = (loss(x + e, i) - loss(x - e, i)) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)
    bad = np.array([0, 9, -9])
    masked = lambda x, i: jnp.sum(jnp.where((i >= -3) & (i < 3), x[i], 0.0))  # noqa: E731
    g = ppc.grad(ppc.compile(masked, backend=backend))(np.arange(1.0, 4.0), bad)
    np.testing.assert_array_equal(np.asarray(g), [1.0, 0.0, 0.0])


def test_hessian_and_grad_of_grad():
    """take's transpose (scatter_add) and its transpose (take) differentiate again."""
    f = lambda x, i: jnp.sum(x[i] ** 3)  # noqa: E731
    x, i = np.array([0.5, -1.0, 2.0]), np.array([2, 0, 2, -1])
    np.testing.assert_allclose(ppc.hessian(f)(x, i), jax.hessian(f)(x, i), rtol=1e-10)
    gg = ppc.grad(lambda x, i: jnp.sum(ppc.grad(f)(x, i)[i] ** 2))
    np.testing.assert_allclose(gg(x, i), jax.grad(lambda x, i: jnp.sum(jax.grad(f)(x, i)[i] ** 2))(x, i), rtol=1e-10)


def picks(x, i, n):
    """A data-dependent loop around the takes, so the program-counter machine steps them."""
    acc = x[:, i] + np.take(x, i, axis=0)[:, :, None]
    k = 0
    while k < n:
        acc = acc + x[i[k % i.shape[0]]].sum()
        k += 1
    return acc


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_matches_per_member(strategy):
    """x batched, idx batched, and both, with per-member out-of-range indices."""
    B = 4
    xs = rng.normal(size=(B, 3, 3))
    idx = rng.integers(-4, 4, size=(B, 2))
    ns = np.arange(B)
    single = ppc.compile(picks)
    f = ppc.autobatch(picks, strategy=strategy)
    for args, member in (((xs, shared(idx[0]), ns), lambda k: (xs[k], idx[0], ns[k])),
                         ((shared(xs[0]), idx, ns), lambda k: (xs[0], idx[k], ns[k])),
                         ((xs, idx, ns), lambda k: (xs[k], idx[k], ns[k]))):
        got = np.asarray(f(*args))
        for k in range(B):
            np.testing.assert_allclose(got[k], single(*member(k)), rtol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_autobatch_of_grad(strategy):
    """scatter_add's batch rules: per-member gradients with per-member indices."""
    B = 3
    xs, idx = rng.normal(size=(B, 4, 4)), rng.integers(-4, 4, size=(B, 5))
    got = np.asarray(ppc.autobatch(ppc.grad(loss), strategy=strategy)(xs, idx))
    for k in range(B):
        np.testing.assert_allclose(got[k], jax.grad(loss)(xs[k], idx[k]), rtol=1e-10)


def varying_intercepts(g):
    alpha = ppc.Normal(np.zeros(3), 1.0, name="alpha")
    return ppc.Normal(alpha[g], 1.0, name="y")


@pytest.mark.parametrize("backend", BACKENDS)
def test_hierarchical_model_log_joint(backend):
    g = np.array([0, 2, 2, 1, 0, 2])
    y, alpha = rng.normal(size=6), rng.normal(size=3)
    model = ppc.condition(ppc.compile(varying_intercepts, backend=backend), y=y)
    got = ppc.log_joint(model)(g, alpha=alpha)
    want = scipy.stats.norm.logpdf(alpha).sum() + scipy.stats.norm.logpdf(y, alpha[g]).sum()
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("src, message", [
    (lambda x, i: x[x > 0], "boolean-mask indexing is not supported"),
    (lambda x, i: x[x.astype(np.float32)], "integer type"),
    (lambda x, i: x[[0, 7]], "index 7 is out of bounds"),
    (lambda x, i: x.at[i].divide(2.0), "x.at.... has no update '.divide'"),
    (lambda x, i: x.at[i, 0].add(1.0), "full slices"),
])
def test_refusals_are_clear(src, message):
    with pytest.raises(CompileError, match=message) as e:
        ppc.compile(src)(np.ones((3, 3)), np.array([0, 1]))
    if "boolean" in message:
        assert "np.where" in str(e.value)


def segment_sums(x, g, y):
    return x.at[g].add(y), x.at[g].add(1.0), jnp.zeros((2, 4)).at[:, g].add(y)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_add_at_an_integer_array_accumulates_as_jax(backend):
    """x.at[idx].add(v): repeated indices accumulate, negatives count from the end once,
    out of range is dropped; its gradient and a batch of it agree with JAX."""
    x, g, y = np.zeros(4), np.array([0, 2, 2, -1, 7]), np.arange(1.0, 6.0)
    for got, want in zip(ppc.compile(segment_sums, backend=backend)(x, g, y), jax.jit(segment_sums)(x, g, y)):
        np.testing.assert_allclose(got, want, rtol=1e-12)

    def loss(y):
        return jnp.sum(jnp.sin(jnp.zeros(4).at[g].add(y)) ** 2)
    np.testing.assert_allclose(ppc.grad(ppc.compile(loss, backend=backend))(y), jax.grad(loss)(y), rtol=1e-10)
    rng = np.random.default_rng(0)
    Y, G = rng.normal(size=(3, 5)), rng.integers(-4, 6, size=(3, 5))
    batched = ppc.autobatch(ppc.compile(lambda y, g: jnp.zeros(4).at[g].add(y), backend=backend))(Y, G)
    np.testing.assert_allclose(batched, [jnp.zeros(4).at[G[i]].add(Y[i]) for i in range(3)], rtol=1e-12)


MULTI = {
    "adjacent": lambda x, i, j, k: x[i, j],
    "apart": lambda x, i, j, k: x[i, :, k],
    "last_two": lambda x, i, j, k: x[:, j, k],
    "an_int_between": lambda x, i, j, k: x[i, 0, k],
    "an_int_first": lambda x, i, j, k: x[1, j, k],
    "slice_between": lambda x, i, j, k: x[i, 1:3, k],
    "all_three": lambda x, i, j, k: x[i, j, k],
}


@pytest.mark.parametrize("backend", ["jax", "tf"])
@pytest.mark.parametrize("name", sorted(MULTI))
def test_several_integer_arrays_index_as_numpy(backend, name):
    """Several integer arrays (and ints beside them) broadcast together; their axes stand
    where they do when adjacent, else first, as in NumPy. Once refused."""
    f = MULTI[name]
    x = np.arange(60.0).reshape(3, 4, 5)
    args = (x, np.array([0, 2, -1, 1]), np.array([[1], [3]]), np.array([4, 0, 2, 1]))
    got, want = ppc.compile(f, backend=backend)(*args), f(*args)
    assert np.shape(got) == want.shape
    np.testing.assert_array_equal(got, want)


def test_several_integer_arrays_fill_out_of_range_and_differentiate():
    x = np.arange(60.0).reshape(3, 4, 5)
    got = ppc.compile(lambda x, i, j: x[i, j])(x, np.array([0, 3]), np.array([1, -5]))
    np.testing.assert_array_equal(got[0], x[0, 1])
    assert np.isnan(got[1]).all()  # 3 is out of range for axis 0 (so is -5 for axis 1)
    i, j = np.array([0, 2, 2]), np.array([[1], [3]])

    def loss(x):
        return jnp.sum(jnp.sin(x[i, j]) ** 2)
    np.testing.assert_allclose(ppc.grad(loss)(x), jax.grad(loss)(x), rtol=1e-12)
    batched = ppc.autobatch(lambda x, i, j: x[i, j], strategy="local_static")
    I, J = np.array([[0, 1], [2, -1]]), np.array([[3, 0], [1, 2]])
    np.testing.assert_array_equal(batched(x[None], I, J), [x[I[0], J[0]], x[I[1], J[1]]])
