"""More of jax.random in compiled code (ppc/frontend/random_more.py): the draws JAX builds
from uniform, normal and gamma draws equal JAX's own (same key, to rounding) on the JAX
backend; every draw, on both backends, passes a Kolmogorov-Smirnov or chi-square test
against scipy.stats; batching over keys equals per-key runs; misuse is a located error."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as ss
from jax import random as jr

import ppc


def draws(key, p, df, lo, hi, a, b, alpha, mean, cov):
    ks = jr.split(key, 14)
    return (jr.exponential(ks[0], (5,)), jr.bernoulli(ks[1], p), jr.laplace(ks[2], (5,)), jr.logistic(ks[3], (5,)),
            jr.cauchy(ks[4], (5,)), jr.gumbel(ks[5], (5,)), jr.lognormal(ks[6], 0.5, (5,)),
            jr.truncated_normal(ks[7], lo, hi, (5,)), jr.t(ks[8], df, (5,)), jr.rademacher(ks[9], (5,)),
            jr.chisquare(ks[10], df, (5,)), jr.beta(ks[11], a, b, (5,)), jr.dirichlet(ks[12], alpha, (2,)),
            jr.multivariate_normal(ks[13], mean, cov))


ARGS = (np.array([0.1, 0.5, 0.9]), 4.0, -0.5, 1.5, 2.0, 3.0, np.array([1.0, 2.0, 3.0]), np.zeros(2),
        np.array([[2.0, 0.3], [0.3, 1.0]]))


DRAWS = ppc.compile(draws)  # (compiled once for every seed; JAX's reference jitted too)
JAX_DRAWS = jax.jit(draws)


@pytest.mark.parametrize("seed", [0, 3, 11])
def test_draws_equal_jaxs_own(seed):
    got = DRAWS(jr.key(seed), *ARGS)
    want = JAX_DRAWS(jr.key(seed), *ARGS)
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-12)


def float32_draws(key):
    ks = jr.split(key, 4)
    return (jr.exponential(ks[0], (3,), jnp.float32), jr.laplace(ks[1], (3,), jnp.float32),
            jr.truncated_normal(ks[2], -1.0, 2.0, (3,), jnp.float32), jr.beta(ks[3], 2.0, 5.0, (3,), jnp.float32))


def test_float32_draws_equal_jaxs_own():
    got, want = ppc.compile(float32_draws)(jr.key(5)), float32_draws(jr.key(5))
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.float32
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-6)


N = 4000


def many(key):
    ks = jr.split(key, 13)
    return (jr.exponential(ks[0], (N,)), jr.laplace(ks[1], (N,)), jr.logistic(ks[2], (N,)), jr.cauchy(ks[3], (N,)),
            jr.gumbel(ks[4], (N,)), jr.lognormal(ks[5], 0.7, (N,)), jr.truncated_normal(ks[6], -0.5, 1.5, (N,)),
            jr.t(ks[7], 3.0, (N,)), jr.chisquare(ks[8], 5.0, (N,)), jr.beta(ks[9], 2.0, 3.0, (N,)),
            jr.dirichlet(ks[10], jnp.array([1.0, 2.0, 3.0]), (N,)), jr.bernoulli(ks[11], 0.3, (N,)),
            jr.randint(ks[12], (N,), -3, 4))


REFERENCES = [ss.expon(), ss.laplace(), ss.logistic(), ss.cauchy(), ss.gumbel_r(), ss.lognorm(0.7),
              ss.truncnorm(-0.5, 1.5), ss.t(3.0), ss.chi2(5.0), ss.beta(2.0, 3.0)]


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_draws_follow_their_distributions(backend):
    out = [np.asarray(v) for v in ppc.compile(many, backend=backend)(jr.key(7))]
    for x, ref in zip(out, REFERENCES):
        assert ss.kstest(x, ref.cdf).pvalue > 1e-4, ref.dist.name
    simplex = out[10]
    np.testing.assert_allclose(simplex.sum(-1), 1.0, rtol=1e-12)
    assert ss.kstest(simplex[:, 0], ss.beta(1.0, 5.0).cdf).pvalue > 1e-4  # (a Dirichlet's margin)
    assert abs(out[11].mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / N)
    ints = out[12]
    assert ints.min() == -3 and ints.max() == 3
    assert ss.chisquare(np.bincount(ints + 3, minlength=7)).pvalue > 1e-4


def shuffle(key, x):
    return jr.permutation(key, x), jr.permutation(key, 5)


def test_permutations_are_uniform():
    x = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    keys = jr.split(jr.key(0), 3000)
    got, ints = ppc.autobatch(shuffle)(keys, x[None])  # (x shared: a leading axis of 1)
    got, ints = np.asarray(got), np.asarray(ints)
    assert (np.sort(got, axis=1) == x).all() and (np.sort(ints, axis=1) == np.arange(5)).all()
    counts = np.array([[np.sum(ints[:, j] == v) for v in range(5)] for j in range(5)])
    assert ss.chisquare(counts.ravel()).pvalue > 1e-4  # every value equally often at every place
    one_key, _ = ppc.compile(shuffle)(keys[7], x)
    np.testing.assert_array_equal(one_key, got[7])  # (a batch member draws what it draws alone)


def reparameterized(sigma, lo):
    key = jr.key(1)
    return jnp.sum(jr.lognormal(key, sigma, (4,))) + jnp.sum(jr.truncated_normal(key, lo, lo + 2.0, (4,)))


def test_reparameterized_draws_differentiate_as_jax():
    got = ppc.grad(reparameterized, argnums=(0, 1))(0.6, -0.3)
    want = jax.grad(reparameterized, argnums=(0, 1))(0.6, -0.3)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-10)


def per_key(key, p):
    ks = jr.split(key)
    return jr.bernoulli(ks[0], p, (3,)), jr.t(ks[1], 4.0, (2,))


@pytest.mark.parametrize("strategy", ["program_counter", "local_static"])
def test_batched_over_keys_equals_each_key_alone(strategy):
    keys = jr.split(jr.key(2), 5)
    batched = ppc.autobatch(per_key, strategy=strategy)(keys, 0.4)
    single = ppc.compile(per_key)
    for i in range(5):
        for b, s in zip(batched, single(keys[i], 0.4)):
            np.testing.assert_allclose(np.asarray(b)[i], np.asarray(s), rtol=1e-12)


def bad_dirichlet(key):
    return jr.dirichlet(key, 2.0)


def bad_mvn(key):
    return jr.multivariate_normal(key, jnp.zeros(3), jnp.eye(2))


def bad_method(key):
    return jr.multivariate_normal(key, jnp.zeros(2), jnp.eye(2), method="svd")


def bad_integer_exponential(key):
    return jr.exponential(key, (2,), jnp.int32)


@pytest.mark.parametrize("f, message", [
    (bad_dirichlet, "at least one axis"), (bad_mvn, r"mean \(..., n\) and cov"), (bad_method, "method='svd'"),
    (bad_integer_exponential, "floating dtype"),
])
def test_misuse_is_a_located_error(f, message):
    with pytest.raises(ppc.CompileError, match=message) as err:
        ppc.compile(f)(jr.key(0))
    assert "test_random_more.py" in str(err.value)


def chosen(key, x, p):
    ks = jr.split(key, 4)
    return (jr.choice(ks[0], 5, (3,)), jr.choice(ks[1], x, (2, 2), p=p), jr.choice(ks[2], x, (3,), replace=False),
            jr.choice(ks[3], 5, (5,), replace=False, p=p))


def test_choice_with_and_without_replacement():
    x, p = np.array([10.0, 20.0, 30.0, 40.0, 50.0]), np.array([0.1, 0.2, 0.3, 0.3, 0.1])
    keys = jr.split(jr.key(1), 3000)
    uniform, weighted, distinct, ranked = [np.asarray(v) for v in ppc.autobatch(chosen)(keys, x[None], p[None])]
    assert uniform.shape == (3000, 3) and weighted.shape == (3000, 2, 2)
    assert ss.chisquare(np.bincount(uniform.ravel(), minlength=5)).pvalue > 1e-4
    counts = np.array([np.sum(weighted == v) for v in x])
    assert ss.chisquare(counts, p * weighted.size).pvalue > 1e-4
    assert all(len(set(row)) == 3 and set(row) <= set(x) for row in distinct)
    assert all(sorted(row) == list(range(5)) for row in ranked)  # (all five, without replacement)
    assert ss.chisquare(np.bincount(ranked[:, 0], minlength=5), p * len(ranked)).pvalue > 1e-4  # first pick ~ p


def too_many(key):
    return jr.choice(key, 3, (4,), replace=False)


def bad_p(key):
    return jr.choice(key, 3, (2,), p=jnp.ones(4) / 4)


@pytest.mark.parametrize("f, message", [(too_many, "cannot take 4 rows without replacement"),
                                        (bad_p, r"p must have shape \(3,\)")])
def test_choice_misuse_is_a_located_error(f, message):
    with pytest.raises(ppc.CompileError, match=message):
        ppc.compile(f)(jr.key(0))


def folded(key, n):
    s = 0.0
    for i in range(n):
        s = s + jr.normal(jr.fold_in(key, i)) * (i + 1)
    return s, jr.uniform(jr.fold_in(jr.fold_in(key, n), 7), (3,))


def test_fold_in_equals_jaxs_and_batches():
    keys = jr.split(jr.key(4), 3)
    ns = np.array([0, 2, 6])
    want = [folded(k, int(n)) for k, n in zip(keys, ns)]
    single = ppc.compile(folded)
    for k, n, w in zip(keys, ns, want):
        for g, x in zip(single(k, int(n)), w):
            np.testing.assert_allclose(np.asarray(g), np.asarray(x), rtol=1e-12)
    for strategy in ("program_counter", "local_static"):
        total, u = ppc.autobatch(folded, strategy=strategy)(keys, ns)
        np.testing.assert_allclose(total, [float(w[0]) for w in want], rtol=1e-12)
        np.testing.assert_allclose(u, np.stack([np.asarray(w[1]) for w in want]), rtol=1e-12)


def fold_many(key):
    return lax_normals(key)


def lax_normals(key):
    return jax.lax.map(lambda i: jr.normal(jr.fold_in(key, i)), jnp.arange(2000))


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_fold_in_keys_draw_independent_normals(backend):
    z = np.asarray(ppc.compile(fold_many, backend=backend)(jr.key(9)))
    assert ss.kstest(z, ss.norm().cdf).pvalue > 1e-4
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 4 / np.sqrt(len(z))  # (neighbouring data, unrelated keys)


def legacy(key, x):
    k1, k2 = jr.split(key)
    return jr.normal(k1, (2,)) + x, jr.uniform(jr.fold_in(k2, 3))


def legacy_seeded(seed):
    return jr.normal(jr.PRNGKey(seed), (3,))


def test_legacy_prngkey_data_draws_as_jax():
    """A jax.random.PRNGKey (uint32 key data) was "expected a PRNG key (from
    jax.random.key)": it is wrapped as jax.random.wrap_key_data wraps it, and PRNGKey(seed)
    inside compiled code is the typed key of the same words."""
    got, want = ppc.compile(legacy)(jr.PRNGKey(5), 1.0), legacy(jr.PRNGKey(5), 1.0)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12)
    np.testing.assert_allclose(ppc.compile(legacy_seeded)(4), legacy_seeded(4), rtol=1e-12)
    keys = jr.split(jr.PRNGKey(1), 3)  # (uint32 (3, 2): a batch of three legacy keys)
    for strategy in ("program_counter", "local_static"):
        batched = ppc.autobatch(legacy, strategy=strategy)(keys, np.zeros(3))[0]
        np.testing.assert_allclose(batched, np.stack([np.asarray(legacy(k, 0.0)[0]) for k in keys]), rtol=1e-12)
    on_tf = ppc.compile(legacy, backend="tf")(jr.PRNGKey(5), 1.0)  # (TF draws its own bits: a valid draw)
    assert np.asarray(on_tf[0]).shape == (2,) and 0.0 <= float(on_tf[1]) < 1.0
