"""Samplers a user writes in plain NumPy-style Python with jax.random keys (adaptive
Metropolis, SMC with searchsorted resampling, HMC's acceptance and its gradient,
reparameterized draws, parallel-tempering swaps, keys through recursion), compiled by ppc
and checked against the same source run eagerly on JAX with the same keys, under both
batching strategies, and on TF. Also a regression for a bug found writing them."""
import jax
import jax.numpy as jnp
import numpy as np

import ppc

STRATEGIES = ("local_static", "program_counter")


def _close(a, b, **kw):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(np.allclose(np.asarray(x), np.asarray(y), **kw) for x, y in zip(la, lb))


def _member(tree, b):
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[b], tree)


# ------------------------------------------------------------------ adaptive Metropolis
_SCALES = np.array([1.0, 4.0])


def adaptive_mh(key, x0, n):
    """Haario et al.: the proposal's covariance is the chain's running covariance
    (Welford updates with np.outer), factored by np.linalg.cholesky at every step."""
    d = x0.shape[0]
    x, mean, cov = x0, x0, jnp.eye(d)
    lp = -0.5 * np.sum(x * x / _SCALES)
    acc = 0
    for t in range(n):
        key, kz, ku = jax.random.split(key, 3)
        L = np.linalg.cholesky(cov * 2.38 ** 2 / d + 1e-6 * np.eye(d))
        y = x + L @ jax.random.normal(kz, (d,))
        lpy = -0.5 * np.sum(y * y / _SCALES)
        if np.log(jax.random.uniform(ku)) < lpy - lp:
            x, lp = y, lpy
            acc += 1
        delta = x - mean
        mean = mean + delta / (t + 2)
        cov = cov + (np.outer(delta, x - mean) - cov) / (t + 2)
    return x, mean, cov, acc


def test_adaptive_metropolis_matches_jax_batches_and_samples_its_target():
    c = ppc.compile(adaptive_mh, static_argnums=(2,))
    k = jax.random.key(3)
    x0 = np.array([0.5, -0.5])
    assert _close(c(k, x0, 20), adaptive_mh(k, jnp.asarray(x0), 20))
    keys = jax.random.split(k, 3)
    X = np.random.default_rng(0).normal(size=(3, 2))
    refs = [adaptive_mh(keys[b], jnp.asarray(X[b]), 15) for b in range(3)]
    for s in STRATEGIES:
        out = ppc.autobatch(c, strategy=s)(keys, X, 15)
        for b in range(3):
            assert _close(_member(out, b), refs[b]), (s, b)
    xs, _, _, acc = ppc.autobatch(c, strategy="local_static")(jax.random.split(jax.random.key(9), 400),
                                                              np.zeros((400, 2)), 150)
    xs = np.asarray(xs)  # the chains' last states: N(0, diag(1, 4))
    assert np.all(np.abs(xs.mean(0)) < 4 * np.sqrt(_SCALES / 400))
    assert np.allclose(xs.var(0), _SCALES, rtol=0.25)
    assert 0.1 < np.mean(acc) / 150 < 0.6


# ------------------------------------------------------------------ SMC with searchsorted
def smc(key, ys, N):
    """A bootstrap particle filter; systematic resampling by np.cumsum + np.searchsorted."""
    x = jnp.zeros(N)
    logZ = 0.0
    for t in range(ys.shape[0]):
        key, k1, k2 = jax.random.split(key, 3)
        x = 0.9 * x + jax.random.normal(k1, (N,))
        logw = -0.5 * (ys[t] - x) ** 2
        m = np.max(logw)
        w = np.exp(logw - m)
        logZ = logZ + m + np.log(np.mean(w))
        c = np.cumsum(w) / np.sum(w)
        u = (np.arange(N) + jax.random.uniform(k2)) / N
        x = x[np.minimum(np.searchsorted(c, u), N - 1)]
    return logZ, x


def test_smc_with_searchsorted_resampling_matches_jax_and_batches():
    ys = np.random.default_rng(1).normal(size=6)
    c = ppc.compile(smc, static_argnums=(2,))
    k = jax.random.key(4)
    assert _close(c(k, ys, 16), smc(k, jnp.asarray(ys), 16))
    keys = jax.random.split(k, 3)
    refs = [smc(keys[b], jnp.asarray(ys), 16) for b in range(3)]
    for s in STRATEGIES:
        out = ppc.autobatch(c, strategy=s)(keys, ys[None], 16)
        for b in range(3):
            assert _close(_member(out, b), refs[b]), (s, b)


def test_max_of_random_draws_compiles_on_tf():
    """np.max of jax.random draws hung TF's XLA compiler (the CPU compile never finished):
    the TF backend's reduce_max/reduce_min fixed up a zero result's sign with a second
    reduction of the same values, and XLA hung on select(out == 0, f(reduce(g(x))), out)
    over random_normal's output. They now reduce the floats' bits in IEEE total order,
    one reduction. A bootstrap particle filter on TF, batched, hit it."""
    def f(key):
        x = jax.random.normal(key, (8,))
        return x, np.max(x), np.min(x), np.max(x.reshape(2, 4), axis=1)
    x, mx, mn, rows = ppc.compile(f, backend="tf")(jax.random.key(0))
    assert mx == np.max(x) and mn == np.min(x) and np.array_equal(rows, np.max(x.reshape(2, 4), axis=1))
    ys = np.random.default_rng(1).normal(size=3)
    c = ppc.compile(smc, static_argnums=(2,), backend="tf")
    keys = jax.random.split(jax.random.key(0), 2)
    refs = [c(keys[b], ys, 8) for b in range(2)]
    assert all(np.isfinite(r[0]) for r in refs)
    for s in STRATEGIES:
        out = ppc.autobatch(c, strategy=s)(keys, ys[None], 8)
        for b in range(2):
            assert _close(_member(out, b), refs[b]), (s, b)


# ------------------------------------------------------------------ HMC's acceptance, differentiated
_A = np.array([[2.0, 0.5], [0.5, 1.0]])


def _logp(q):
    return -0.5 * q @ _A @ q


def log_accept(eps, q0, p0, L):
    q, p = q0, p0
    i = 0
    while i < L:  # a traced trip count
        p = p + 0.5 * eps * ppc.grad(_logp)(q)
        q = q + eps * p
        p = p + 0.5 * eps * ppc.grad(_logp)(q)
        i += 1
    return np.minimum(0.0, _logp(q) - 0.5 * p @ p - _logp(q0) + 0.5 * p0 @ p0)


def log_accept_jax(eps, q0, p0, L):
    lp = lambda q: -0.5 * q @ _A @ q  # noqa: E731
    q, p = q0, p0
    for i in range(L):
        p = p + 0.5 * eps * jax.grad(lp)(q)
        q = q + eps * p
        p = p + 0.5 * eps * jax.grad(lp)(q)
    return jnp.minimum(0.0, lp(q) - 0.5 * p @ p - lp(q0) + 0.5 * p0 @ p0)


def test_gradient_of_hmc_log_acceptance_in_the_step_size():
    q0, p0 = np.array([1.0, -0.5]), np.array([0.3, 2.0])
    want = {(e, L): jax.grad(log_accept_jax)(e, jnp.asarray(q0), jnp.asarray(p0), L)
            for e, L in ((1.1, 5), (0.5, 1), (0.9, 3))}
    assert want[1.1, 5] != 0.0
    for (e, L), w in want.items():
        assert np.allclose(ppc.grad(log_accept)(e, q0, p0, L), w)
        assert np.allclose(ppc.grad(ppc.compile(log_accept, static_argnums=(3,)))(e, q0, p0, L), w)
    E, Ls = np.array([1.1, 0.5, 0.9]), np.array([5, 1, 3])
    for s in STRATEGIES:
        g = ppc.autobatch(ppc.grad(log_accept), strategy=s)(E, q0[None], p0[None], Ls)
        for b in range(3):
            assert np.allclose(g[b], want[E[b], Ls[b]]), (s, b)


# ------------------------------------------------------------------ reparameterized draws
def reparam(mu, sig, a, key):
    k1, k2, k3 = jax.random.split(key, 3)
    x = mu + sig * jax.random.normal(k1, (5,))
    g = jax.random.gamma(k2, a, (4,))
    u = jax.random.uniform(k3, (3,), minval=mu, maxval=mu + sig)
    return jnp.mean(x ** 2) + jnp.sum(g) * mu + jnp.sum(u ** 2)


def test_gradients_through_draws_match_jax_and_batch():
    k = jax.random.key(0)
    grad, want = ppc.grad(reparam, argnums=(0, 1, 2)), jax.jit(jax.grad(reparam, argnums=(0, 1, 2)))
    assert _close(grad(0.5, 2.0, 2.5, k), want(0.5, 2.0, 2.5, k))
    keys, M = jax.random.split(k, 3), np.array([0.1, 0.5, 1.0])
    refs = [want(M[b], 2.0, 1.5, keys[b]) for b in range(3)]
    for s in STRATEGIES:
        out = ppc.autobatch(grad, strategy=s)(M, 2.0, 1.5, keys)
        for b in range(3):
            assert _close(_member(out, b), refs[b]), (s, b)


# ------------------------------------------------------------------ parallel tempering swap
def pt_swap(x, lps, betas, i, u):
    la = (betas[i] - betas[i + 1]) * (lps[i + 1] - lps[i])
    if np.log(u) < la:
        idx = np.array([i, i + 1])
        x = x.at[idx].set(x[idx[::-1]])
        lps = lps.at[idx].set(lps[idx[::-1]])
    return x, lps


def _pt_swap_np(x, lps, betas, i, u):
    x, lps = x.copy(), lps.copy()
    if np.log(u) < (betas[i] - betas[i + 1]) * (lps[i + 1] - lps[i]):
        x[[i, i + 1]] = x[[i + 1, i]]
        lps[[i, i + 1]] = lps[[i + 1, i]]
    return x, lps


def test_parallel_tempering_swap_at_a_traced_index():
    rng = np.random.default_rng(2)
    x, lps, betas = rng.normal(size=(4, 2)), rng.normal(size=4), np.array([1.0, 0.5, 0.25, 0.1])
    c = ppc.compile(pt_swap)
    for i in range(3):
        for u in (0.01, 0.99):
            assert _close(c(x, lps, betas, i, u), _pt_swap_np(x, lps, betas, i, u))
    X, LPS, I, U = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4)), np.array([0, 1, 2]), np.array([0.01, 0.5, 0.9])
    for s in STRATEGIES:
        out = ppc.autobatch(pt_swap, strategy=s)(X, LPS, betas[None], I, U)
        for b in range(3):
            assert _close(_member(out, b), _pt_swap_np(X[b], LPS[b], betas, I[b], U[b])), (s, b)


# ------------------------------------------------------------------ keys through recursion and branches
def split_tree(key, n):
    if n <= 0:
        return key, jax.random.normal(key)
    k1, k2 = jax.random.split(key)
    ka, a = split_tree(k1, n - 1)
    kb, b = split_tree(k2, n - 1)
    if a > b:
        return ka, a + 0.5 * b
    return kb, b + 0.5 * a


def test_keys_through_recursion_and_branches_batch_as_jax():
    keys, N = jax.random.split(jax.random.key(3), 4), np.array([0, 1, 2, 3])
    refs = [split_tree(keys[b], int(N[b])) for b in range(4)]
    for s in STRATEGIES:
        kout, v = ppc.autobatch(split_tree, strategy=s)(keys, N)
        for b in range(4):
            assert np.array_equal(jax.random.key_data(kout[b]), jax.random.key_data(refs[b][0])), (s, b)
            assert np.allclose(v[b], refs[b][1]), (s, b)
