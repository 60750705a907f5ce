"""Textbook MCMC/SMC samplers written in plain Python, as a user would write them, run
through ppc: compiled against the same source on NumPy (random numbers passed in) or JAX
(same keys), gradients against jax.grad, and both batching strategies against a loop over
members. Also regressions for bugs found writing them."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppc

STRATEGIES = ("local_static", "program_counter")


def _close(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(np.allclose(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def _member(tree, b):
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[b], tree)


# ------------------------------------------------------------------ random-walk Metropolis
def _rwm_logp(x):
    return -0.5 * np.sum(x * x) - 0.1 * np.sum(np.log1p(x * x))


def rwm(x0, eps, us, zs):
    x = x0
    lp = _rwm_logp(x)
    n_acc = 0
    for t in range(zs.shape[0]):
        prop = x + eps * zs[t]
        lp_prop = _rwm_logp(prop)
        if np.log(us[t]) < lp_prop - lp:
            x = prop
            lp = lp_prop
            n_acc += 1
    return x, lp, n_acc


def test_random_walk_metropolis_matches_numpy_and_batches():
    rng = np.random.default_rng(0)
    x0, us, zs = rng.normal(size=3), rng.uniform(size=30), rng.normal(size=(30, 3))
    assert _close(ppc.compile(rwm)(x0, 0.8, us, zs), rwm(x0, 0.8, us, zs))
    B = 4
    X0, U, Z = rng.normal(size=(B, 3)), rng.uniform(size=(B, 30)), rng.normal(size=(B, 30, 3))
    E = np.linspace(0.1, 2.0, B)
    for s in STRATEGIES:
        out = ppc.autobatch(rwm, strategy=s)(X0, E, U, Z)
        for b in range(B):
            assert _close(_member(out, b), rwm(X0[b], E[b], U[b], Z[b])), (s, b)


# ------------------------------------------------------------------ HMC, leapfrog for loop
_A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])


def _gauss_logp(x, mu):
    d = x - mu
    return -0.5 * d @ _A @ d


def _hmc_step(x, mu, eps, p0, u, grad_fn):
    p, q = p0, x
    g = grad_fn(q, mu)
    for i in range(8):
        p = p + 0.5 * eps * g
        q = q + eps * p
        g = grad_fn(q, mu)
        p = p + 0.5 * eps * g
    h0 = -_gauss_logp(x, mu) + 0.5 * np.sum(p0 * p0)
    h1 = -_gauss_logp(q, mu) + 0.5 * np.sum(p * p)
    if np.log(u) < h0 - h1:
        return q, True
    return x, False


def hmc_closure(x, mu, eps, p0, u):  # ppc.grad of a lambda closing over the traced mu
    return _hmc_step(x, mu, eps, p0, u, lambda q, m: ppc.grad(lambda v: _gauss_logp(v, mu))(q))


def hmc_numpy(x, mu, eps, p0, u):
    return _hmc_step(x, mu, eps, p0, u, lambda q, m: -(_A @ (q - m)))


def test_hmc_leapfrog_matches_numpy_and_batches():
    rng = np.random.default_rng(1)
    x, mu, p0 = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    for u in (0.3, 0.999):
        out, ref = ppc.compile(hmc_closure)(x, mu, 0.2, p0, u), hmc_numpy(x, mu, 0.2, p0, u)
        assert np.allclose(out[0], ref[0]) and bool(out[1]) == ref[1]
    B = 4
    X, P, U = rng.normal(size=(B, 3)), rng.normal(size=(B, 3)), rng.uniform(size=B)
    E = np.array([0.1, 0.5, 1.0, 1.5])
    for s in STRATEGIES:
        q, acc = ppc.autobatch(hmc_closure, strategy=s)(X, mu[None], E, P, U)
        for b in range(B):
            ref = hmc_numpy(X[b], mu, E[b], P[b], U[b])
            assert np.allclose(q[b], ref[0]) and bool(acc[b]) == ref[1], (s, b)


def test_gradient_through_leapfrog_matches_jax():
    def final(mu, x, p0):
        p, q = p0, x
        for i in range(5):
            p = p + 0.05 * ppc.grad(lambda v: _gauss_logp(v, mu))(q)
            q = q + 0.1 * p
            p = p + 0.05 * ppc.grad(lambda v: _gauss_logp(v, mu))(q)
        return np.sum(q * q)

    def final_jax(mu, x, p0):
        lp = lambda v: -0.5 * (v - mu) @ _A @ (v - mu)  # noqa: E731
        p, q = p0, x
        for i in range(5):
            p = p + 0.05 * jax.grad(lp)(q)
            q = q + 0.1 * p
            p = p + 0.05 * jax.grad(lp)(q)
        return jnp.sum(q * q)
    rng = np.random.default_rng(2)
    args = rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    assert np.allclose(ppc.grad(final)(*args), jax.grad(final_jax)(*args))


# ------------------------------------------------------------------ MALA with jax.random keys
_PREC = np.array([1.0, 4.0, 0.25])


def _mala_logp(x):
    return -0.5 * np.sum(x * x / _PREC) + np.sum(np.logaddexp(x, -x))


def mala(key, x, eps, n):
    state = (x, ppc.value_and_grad(_mala_logp)(x))
    acc = 0
    for i in range(n):
        x, (lp, g) = state
        key, kz, ku = jax.random.split(key, 3)
        mean_f = x + 0.5 * eps * eps * g
        y = mean_f + eps * jax.random.normal(kz, x.shape, dtype=x.dtype)
        lpy, gy = ppc.value_and_grad(_mala_logp)(y)
        mean_b = y + 0.5 * eps * eps * gy
        log_a = lpy - lp - np.sum((x - mean_b) ** 2) / (2 * eps * eps) + np.sum((y - mean_f) ** 2) / (2 * eps * eps)
        if np.log(jax.random.uniform(ku, dtype=x.dtype)) < log_a:
            state = (y, (lpy, gy))
            acc = acc + 1
    return state[0], acc


def mala_jax(key, x, eps, n):
    def logp(x):
        return -0.5 * jnp.sum(x * x / _PREC) + jnp.sum(jnp.logaddexp(x, -x))
    lp, g = jax.value_and_grad(logp)(x)
    acc = 0
    for i in range(n):
        key, kz, ku = jax.random.split(key, 3)
        mean_f = x + 0.5 * eps * eps * g
        y = mean_f + eps * jax.random.normal(kz, x.shape, dtype=x.dtype)
        lpy, gy = jax.value_and_grad(logp)(y)
        mean_b = y + 0.5 * eps * eps * gy
        log_a = lpy - lp - jnp.sum((x - mean_b) ** 2) / (2 * eps * eps) + jnp.sum((y - mean_f) ** 2) / (2 * eps * eps)
        if jnp.log(jax.random.uniform(ku, dtype=x.dtype)) < log_a:
            x, lp, g = y, lpy, gy
            acc += 1
    return x, acc


def test_mala_matches_jax_and_batches_in_float32():
    c = ppc.compile(mala, static_argnums=(3,))
    x0 = np.array([0.1, -0.3, 0.2])
    out, ref = c(jax.random.key(3), x0, 0.7, 15), mala_jax(jax.random.key(3), x0, 0.7, 15)
    assert np.allclose(out[0], ref[0]) and int(out[1]) == ref[1]
    keys = jax.random.split(jax.random.key(2), 3)
    X = np.random.default_rng(0).normal(size=(3, 3)).astype(np.float32)
    for s in STRATEGIES:
        xs, accs = ppc.autobatch(c, strategy=s)(keys, X, 0.5, 10)
        assert xs.dtype == np.float32
        for b in range(3):
            r = c(keys[b], X[b], 0.5, 10)
            assert np.allclose(xs[b], r[0], atol=1e-6) and accs[b] == r[1], (s, b)


# ------------------------------------------------------------------ slice sampling
def _slice_logp(x):
    return -0.5 * x * x - np.log1p(np.exp(-x))


def slice_step(x, w, u0, u_l, us):
    """Neal (2003): stepping out, then shrinkage; data-dependent trip counts, `and` in
    the conditions, an early return inside the loop."""
    y = _slice_logp(x) + np.log(u0)
    L = x - w * u_l
    R = L + w
    while _slice_logp(L) > y and L > -100.0:
        L = L - w
    while _slice_logp(R) > y and R < 100.0:
        R = R + w
    k = 0
    while k < us.shape[0]:
        x1 = L + us[k] * (R - L)
        if _slice_logp(x1) > y:
            return x1, k
        if x1 < x:
            L = x1
        else:
            R = x1
        k += 1
    return x, k


def test_slice_sampler_matches_numpy_and_batches():
    rng = np.random.default_rng(2)
    c = ppc.compile(slice_step)
    for _ in range(3):
        args = rng.normal(), 0.5, rng.uniform(), rng.uniform(), rng.uniform(size=40)
        assert _close(c(*args), slice_step(*args))
    B = 6
    X, U0, UL, US = rng.normal(size=B), rng.uniform(size=B), rng.uniform(size=B), rng.uniform(size=(B, 40))
    W = np.array([0.1, 0.3, 1.0, 2.0, 0.05, 5.0])
    for s in STRATEGIES:
        out = ppc.autobatch(slice_step, strategy=s)(X, W, U0, UL, US)
        for b in range(B):
            assert _close(_member(out, b), slice_step(X[b], W[b], U0[b], UL[b], US[b])), (s, b)


def slice_chain(key, x, w, n):
    draws = np.zeros(n)
    for t in range(n):
        key, k0, k1, k2 = jax.random.split(key, 4)
        y = -0.5 * x * x + np.log(jax.random.uniform(k0))
        L = x - w * jax.random.uniform(k1)
        R = L + w
        while -0.5 * L * L > y:
            L = L - w
        while -0.5 * R * R > y:
            R = R + w
        while True:
            k2, sub = jax.random.split(k2)
            x1 = L + jax.random.uniform(sub) * (R - L)
            if -0.5 * x1 * x1 > y:
                x = x1
                break
            if x1 < x:
                L = x1
            else:
                R = x1
        draws = draws.at[t].set(x)
    return draws


def test_slice_chain_with_keys_samples_a_normal_and_batches():
    c = ppc.compile(slice_chain, static_argnums=(3,))
    keys = jax.random.split(jax.random.key(1), 200)
    for s in STRATEGIES:
        d = np.asarray(ppc.autobatch(c, strategy=s)(keys, np.zeros(200), 1.0, 40))
        if s == STRATEGIES[0]:
            first = d
            tail = d[:, 10:]
            assert abs(tail.mean()) < 0.05 and abs(tail.var() - 1.0) < 0.08
        else:
            assert np.array_equal(d, first)
    for b in (0, 7):
        assert np.array_equal(first[b], c(keys[b], 0.0, 1.0, 40))


# ------------------------------------------------------------------ elliptical slice sampling
def _ess_loglik(f, y):
    return np.sum(-np.logaddexp(0.0, -y * f))


def ess_step(f, nu, y, u, theta0, thetas):
    logy = _ess_loglik(f, y) + np.log(u)
    theta = theta0
    lo, hi = theta - 2 * np.pi, theta
    k = 0
    fp = f * np.cos(theta) + nu * np.sin(theta)
    while _ess_loglik(fp, y) <= logy:
        if theta < 0:
            lo = theta
        else:
            hi = theta
        theta = lo + thetas[k] * (hi - lo)
        k = k + 1
        fp = f * np.cos(theta) + nu * np.sin(theta)
    return fp, k


def test_elliptical_slice_sampling_matches_numpy_and_batches():
    rng = np.random.default_rng(3)
    N, B = 5, 5
    y = np.sign(rng.normal(size=N))
    c = ppc.compile(ess_step)
    for _ in range(3):
        args = rng.normal(size=N), rng.normal(size=N), y, rng.uniform(), rng.uniform(0, 2 * np.pi), rng.uniform(size=200)
        assert _close(c(*args), ess_step(*args))
    F, NU, U = rng.normal(size=(B, N)), rng.normal(size=(B, N)), rng.uniform(size=B)
    TH, THS = rng.uniform(0, 2 * np.pi, size=B), rng.uniform(size=(B, 200))
    for s in STRATEGIES:
        out = ppc.autobatch(ess_step, strategy=s)(F, NU, y[None], U, TH, THS)
        for b in range(B):
            assert _close(_member(out, b), ess_step(F[b], NU[b], y, U[b], TH[b], THS[b])), (s, b)


# ------------------------------------------------------------------ Gibbs, conjugate models
def gibbs_normal(key, y, n_iter):
    """y_i ~ N(mu, 1/tau), mu ~ N(0, 100), tau ~ Gamma(1, 1)."""
    n = y.shape[0]
    mu, tau = 0.0, 1.0
    mus, taus = np.zeros(n_iter), np.zeros(n_iter)
    ybar = np.mean(y)
    for it in range(n_iter):
        key, k1, k2 = jax.random.split(key, 3)
        prec = 0.01 + n * tau
        mu = n * tau * ybar / prec + jax.random.normal(k1) / np.sqrt(prec)
        tau = jax.random.gamma(k2, 1.0 + 0.5 * n) / (1.0 + 0.5 * np.sum((y - mu) ** 2))
        mus = mus.at[it].set(mu)
        taus = taus.at[it].set(tau)
    return mus, taus


def gibbs_normal_jax(key, y, n_iter):
    n = y.shape[0]
    mu, tau, mus, taus = 0.0, 1.0, [], []
    for it in range(n_iter):
        key, k1, k2 = jax.random.split(key, 3)
        prec = 0.01 + n * tau
        mu = n * tau * jnp.mean(y) / prec + jax.random.normal(k1) / jnp.sqrt(prec)
        tau = jax.random.gamma(k2, 1.0 + 0.5 * n) / (1.0 + 0.5 * jnp.sum((y - mu) ** 2))
        mus.append(mu)
        taus.append(tau)
    return jnp.stack(mus), jnp.stack(taus)


def test_gibbs_conjugate_normal_matches_jax_and_its_posterior():
    rng = np.random.default_rng(5)
    y = rng.normal(2.0, 0.5, size=50)
    c = ppc.compile(gibbs_normal, static_argnums=(2,))
    assert _close(c(jax.random.key(7), y, 15), gibbs_normal_jax(jax.random.key(7), y, 15))
    mus, _ = c(jax.random.key(0), y, 2000)
    assert abs(np.mean(np.asarray(mus)[200:]) - y.mean()) < 0.02  # the prior on mu is flat here
    keys = jax.random.split(jax.random.key(1), 3)
    Y = rng.normal(size=(3, 50))
    for s in STRATEGIES:
        out = ppc.autobatch(c, strategy=s)(keys, Y, 10)
        for b in range(3):
            assert _close(_member(out, b), c(keys[b], Y[b], 10)), (s, b)


K = 3


def gibbs_mixture(key, y, mu, n_iter):
    """A Gaussian mixture: categorical assignments, counts by scatter-add, Dirichlet
    weights through gamma draws (jnp.zeros, so that the same source runs on JAX too)."""
    pi = jnp.ones(K) / K
    for it in range(n_iter):
        key, kz, kp, km = jax.random.split(key, 4)
        logits = np.log(pi)[None, :] - 0.5 * (y[:, None] - mu[None, :]) ** 2
        z = jax.random.categorical(kz, logits)
        counts = jnp.zeros(K).at[z].add(1.0)
        sums = jnp.zeros(K).at[z].add(y)
        g = jax.random.gamma(kp, 1.0 + counts)
        pi = g / np.sum(g)
        prec = 0.01 + counts
        mu = sums / prec + jax.random.normal(km, (K,)) / np.sqrt(prec)
    return mu, pi, z


def test_gibbs_mixture_matches_jax_and_batches():
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(-3, 1, 20), rng.normal(0, 1, 20), rng.normal(4, 1, 20)])
    mu0 = np.array([-1.0, 0.0, 1.0])
    c = ppc.compile(gibbs_mixture, static_argnums=(3,))

    def ref(key, y, mu, n_iter):  # the same source on JAX arrays
        return gibbs_mixture(key, jnp.asarray(y), jnp.asarray(mu), n_iter)
    assert _close(c(jax.random.key(0), y, mu0, 6), ref(jax.random.key(0), y, mu0, 6))
    keys = jax.random.split(jax.random.key(1), 3)
    MU0 = rng.normal(size=(3, K))
    for s in STRATEGIES:
        out = ppc.autobatch(c, strategy=s)(keys, y[None], MU0, 4)
        for b in range(3):
            assert _close(_member(out, b), c(keys[b], y, MU0[b], 4)), (s, b)


# ------------------------------------------------------------------ SMC: bootstrap particle filter
def systematic(w, u):
    """Systematic resampling's indices: a while loop with `and`, as searchsorted would."""
    n = w.shape[0]
    c = np.cumsum(w / np.sum(w))
    pos = (np.arange(n) + u) / n
    idx = np.zeros(n, dtype=np.int64)
    j = 0
    for i in range(n):
        while j < n - 1 and c[j] < pos[i]:
            j += 1
        idx = idx.at[i].set(j)
    return idx


def _systematic_np(w, u):
    n = w.shape[0]
    c = np.cumsum(w / np.sum(w))
    return np.minimum(np.searchsorted(c, (np.arange(n) + u) / n), n - 1)


def bootstrap_pf(ys, z, us, sig_x, sig_y):
    T, N = z.shape
    x = np.zeros(N)
    logZ = 0.0
    means = np.zeros(T)
    for t in range(T):
        x = 0.9 * x + sig_x * z[t]
        logw = -0.5 * ((ys[t] - x) / sig_y) ** 2 - np.log(sig_y) - 0.5 * np.log(2 * np.pi)
        m = np.max(logw)
        w = np.exp(logw - m)
        logZ = logZ + m + np.log(np.mean(w))
        means = means.at[t].set(np.sum(w * x) / np.sum(w))
        x = x[systematic(w, us[t])]
    return logZ, means


def _bootstrap_pf_np(ys, z, us, sig_x, sig_y):
    T, N = z.shape
    x, logZ, means = np.zeros(N), 0.0, np.zeros(T)
    for t in range(T):
        x = 0.9 * x + sig_x * z[t]
        logw = -0.5 * ((ys[t] - x) / sig_y) ** 2 - np.log(sig_y) - 0.5 * np.log(2 * np.pi)
        m = np.max(logw)
        w = np.exp(logw - m)
        logZ = logZ + m + np.log(np.mean(w))
        means[t] = np.sum(w * x) / np.sum(w)
        x = x[_systematic_np(w, us[t])]
    return logZ, means


def test_particle_filter_matches_numpy_differentiates_and_batches():
    rng = np.random.default_rng(4)
    w, u = rng.uniform(size=8), rng.uniform()
    assert np.array_equal(ppc.compile(systematic)(w, u), _systematic_np(w, u))
    T, N = 8, 12
    ys, z, us = rng.normal(size=T), rng.normal(size=(T, N)), rng.uniform(size=T)
    assert _close(ppc.compile(bootstrap_pf)(ys, z, us, 1.0, 0.5), _bootstrap_pf_np(ys, z, us, 1.0, 0.5))
    g, _ = ppc.grad(bootstrap_pf, argnums=4, has_aux=True)(ys, z, us, 1.0, 0.5)
    h = 1e-6  # (the resampled indices stay put for so small a step)
    fd = (_bootstrap_pf_np(ys, z, us, 1.0, 0.5 + h)[0] - _bootstrap_pf_np(ys, z, us, 1.0, 0.5 - h)[0]) / (2 * h)
    assert np.allclose(g, fd, rtol=1e-5)
    B = 3
    Y, Z, US, SX = rng.normal(size=(B, T)), rng.normal(size=(B, T, N)), rng.uniform(size=(B, T)), np.array([0.5, 1.0, 2.0])
    for s in STRATEGIES:
        out = ppc.autobatch(bootstrap_pf, strategy=s)(Y, Z, US, SX, 0.5)
        for b in range(B):
            assert _close(_member(out, b), _bootstrap_pf_np(Y[b], Z[b], US[b], SX[b], 0.5)), (s, b)


# ------------------------------------------------------------------ NUTS-like recursive tree doubling
def _nuts_logp(q):
    return -0.5 * q @ np.array([[1.5, 0.4], [0.4, 0.8]]) @ q


def _leapfrog(q, p, eps):
    p = p + 0.5 * eps * ppc.grad(_nuts_logp)(q)
    q = q + eps * p
    p = p + 0.5 * eps * ppc.grad(_nuts_logp)(q)
    return q, p


def _leapfrog_np(q, p, eps):
    A = np.array([[1.5, 0.4], [0.4, 0.8]])
    p = p - 0.5 * eps * (A @ q)
    q = q + eps * p
    p = p - 0.5 * eps * (A @ q)
    return q, p


def build_tree(q, p, logu, v, j, eps, us, lf):
    """Hoffman & Gelman's naive NUTS (their Algorithm 2), recursive on a traced depth."""
    if j == 0:
        q1, p1 = lf(q, p, v * eps)
        H = _nuts_logp(q1) - 0.5 * np.sum(p1 * p1)
        n1 = np.where(logu <= H, 1, 0)
        return q1, p1, q1, p1, q1, n1, logu < H + 1000.0
    qm, pm, qp, pp, q1, n1, s1 = build_tree(q, p, logu, v, j - 1, eps, us, lf)
    if s1:
        if v == -1:
            qm, pm, _, _, q2, n2, s2 = build_tree(qm, pm, logu, v, j - 1, eps, us, lf)
        else:
            _, _, qp, pp, q2, n2, s2 = build_tree(qp, pp, logu, v, j - 1, eps, us, lf)
        if us[j] * (n1 + n2) < n2:
            q1 = q2
        s1 = s2 and np.dot(qp - qm, pm) >= 0 and np.dot(qp - qm, pp) >= 0
        n1 = n1 + n2
    return qm, pm, qp, pp, q1, n1, s1


def _nuts_step(q0, p0, eps, u, vs, us, lf):
    logu = np.log(u) + _nuts_logp(q0) - 0.5 * np.sum(p0 * p0)
    qm, qp, pm, pp = q0, q0, p0, p0
    j, q, n, s = 0, q0, 1, True
    while s and j < 6:
        v = vs[j]
        if v == -1:
            qm, pm, _, _, q1, n1, s1 = build_tree(qm, pm, logu, v, j, eps, us, lf)
        else:
            _, _, qp, pp, q1, n1, s1 = build_tree(qp, pp, logu, v, j, eps, us, lf)
        if s1 and us[j] * n < n1:
            q = q1
        n = n + n1
        s = s1 and np.dot(qp - qm, pm) >= 0 and np.dot(qp - qm, pp) >= 0
        j = j + 1
    return q, j


def nuts_step(q0, p0, eps, u, vs, us):
    return _nuts_step(q0, p0, eps, u, vs, us, _leapfrog)


def test_recursive_nuts_matches_numpy_and_batches():
    rng = np.random.default_rng(6)
    c = ppc.compile(nuts_step)
    for _ in range(2):
        args = rng.normal(size=2), rng.normal(size=2), 0.3, rng.uniform(), rng.choice([-1, 1], size=8), rng.uniform(size=8)
        assert _close(c(*args), _nuts_step(*args, _leapfrog_np))
    B = 8
    Q, P, E = rng.normal(size=(B, 2)), rng.normal(size=(B, 2)), rng.uniform(0.05, 1.0, size=B)
    U, VS, US = rng.uniform(size=B), rng.choice([-1, 1], size=(B, 8)), rng.uniform(size=(B, 8))
    refs = [_nuts_step(Q[b], P[b], E[b], U[b], VS[b], US[b], _leapfrog_np) for b in range(B)]
    assert len({r[1] for r in refs}) > 1  # members stop at different depths
    for s in STRATEGIES:
        out = ppc.autobatch(nuts_step, strategy=s)(Q, P, E, U, VS, US)
        for b in range(B):
            assert _close(_member(out, b), refs[b]), (s, b)


# ------------------------------------------------------------------ regressions
def test_unsupported_library_functions_are_refused_at_the_users_line():
    """Functions of jax, NumPy or SciPy that ppc has no rule for were compiled from their
    own source: the error pointed into site-packages (`'try' statements are not
    supported`, `getattr() is not supported`, `fori_loop() missing argument 'unroll'`)
    or was a TypeError with no location (`dtype object has no IR equivalent`)."""
    # (each once one of these; bernoulli, exponential, fold_in, randint, interp, one_hot and
    # fori_loop have rules now, so others that still have none stand in)
    ones = jnp.ones((2, 4, 1, 3))
    cases = [
        (lambda k: jax.random.pareto(k, 3.0, (5,)), "jax.random.pareto", "supported from jax.random: key, split"),
        (lambda k: jax.random.weibull_min(k, 1.0, 2.0, (3,)), "jax.random.weibull_min", "normal, uniform"),
        (lambda k: jax.random.orthogonal(k, 3), "jax.random.orthogonal", "categorical"),
        (lambda k: jax.random.ball(k, 3), "jax.random.ball", "binomial"),
        (lambda k: jnp.unique(jnp.arange(3.0)), "jax.numpy.unique", "README"),
        (lambda k: jax.nn.dot_product_attention(ones, ones, ones), "jax.nn.dot_product_attention", "README"),
        (lambda k: jax.lax.associative_scan(jnp.add, jnp.arange(3.0)), "jax.lax.associative_scan", "README"),
    ]
    for f, name, hint in cases:
        with pytest.raises(ppc.CompileError) as e:
            ppc.compile(f)(jax.random.key(0))
        msg = str(e.value)
        assert f"calling {name} is not supported in compiled code" in msg, msg
        assert "test_user_samplers.py" in msg and "site-packages" not in msg, msg
        assert hint in msg, msg


def test_key_arithmetic_is_a_located_error():
    """`key + 1` failed inside the IR builder (TypeError: dtype key has no numpy equivalent)."""
    def f(k):
        return jax.random.normal(k + 1)
    with pytest.raises(ppc.CompileError, match=r"PRNG keys have no arithmetic or math \('add' of a key\)") as e:
        ppc.compile(f)(jax.random.key(0))
    assert "test_user_samplers.py" in str(e.value) and "jax.random.split" in str(e.value)


def test_traced_slice_bound_hints_dynamic_slice():
    def f(x, i):
        return x[i:i + 2]
    with pytest.raises(ppc.CompileError, match="a slice bound must be a Python int") as e:
        ppc.compile(f)(np.arange(5.0), 1)
    assert "jax.lax.dynamic_slice" in str(e.value)


def _tuple_loss(state, scale):
    x, (y, z) = state
    return np.sum(x * y) * scale + np.sum(np.sin(z))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_batched_gradient_of_a_tuple_argument(strategy):
    """autobatch(ppc.grad(f)) of a state tuple crashed (AttributeError: 'TupleType' object
    has no attribute 'shape'): the gradient is one tuple-typed result."""
    rng = np.random.default_rng(0)
    X, Y, Z = rng.normal(size=(4, 3)), rng.normal(size=(1, 3)), rng.normal(size=(4, 2))

    def loss_jax(state, scale):
        x, (y, z) = state
        return jnp.sum(x * y) * scale + jnp.sum(jnp.sin(z))
    g = ppc.autobatch(ppc.grad(_tuple_loss), strategy=strategy)((X, (Y, Z)), 2.0)
    v, g2 = ppc.autobatch(ppc.value_and_grad(_tuple_loss), strategy=strategy)((X, (Y, Z)), 2.0)
    for b in range(4):
        state = (X[b], (Y[0], Z[b]))
        ref = jax.grad(loss_jax)(state, 2.0)
        assert _close(_member(g, b), ref) and _close(_member(g2, b), ref)
        assert np.allclose(v[b], loss_jax(state, 2.0))


def multinomial_resample(key, logw, x):
    idx = jax.random.categorical(key, logw, shape=(logw.shape[0],))
    return x[idx]


def test_categorical_with_shape_draws_as_jax():
    """`jax.random.categorical(key, logw, shape=(n,))`, multinomial resampling's usual
    idiom, was refused (unexpected keyword argument 'shape')."""
    k = jax.random.key(0)
    lw, L2 = np.log(np.array([0.1, 0.2, 0.7])), np.log(np.array([[0.1, 0.9], [0.5, 0.5], [0.99, 0.01]]))
    for logits, shape in ((lw, (6,)), (lw, (2, 3)), (L2, (4, 3)), (L2, (3,))):
        f = lambda k, logits: jax.random.categorical(k, logits, shape=shape)  # noqa: E731
        assert np.array_equal(ppc.compile(f)(k, logits), f(k, logits))
    keys = jax.random.split(k, 3)
    rng = np.random.default_rng(0)
    LW, X = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    for s in STRATEGIES:
        out = ppc.autobatch(multinomial_resample, strategy=s)(keys, LW, X)
        for b in range(3):
            assert np.allclose(out[b], multinomial_resample(keys[b], LW[b], X[b])), (s, b)


def test_argument_of_no_ir_dtype_is_a_located_error():
    """A complex, bfloat16 or object array argument was a bare TypeError (`dtype complex128
    has no IR equivalent`) naming neither the argument nor the function."""
    def f(x, y):
        return x + y
    for bad in (np.array([1j]), jnp.ones(2, jnp.bfloat16), np.array([1, "a"], dtype=object)):
        with pytest.raises(ppc.CompileError, match=r"argument 0 of 'f' has dtype \w+, which compiled code") as e:
            ppc.compile(f)(bad, 1.0)
        assert "test_user_samplers.py" in str(e.value)


def test_softmax_of_infinite_weights_is_nan_as_in_jax_and_scipy():
    """softmax([inf, 0]) was [nan, 0] (computed as exp(x - logsumexp(x))); JAX and SciPy
    give [nan, nan]. Its values and gradient elsewhere are unchanged."""
    import scipy.special
    x = np.array([[0.3, -1.2, 2.0], [1.0, 1.0, -np.inf], [np.inf, 0.0, 1.0]])
    for ax in (0, 1):
        f = lambda x: scipy.special.softmax(x, axis=ax)  # noqa: E731
        with np.errstate(invalid="ignore"):
            assert np.allclose(ppc.compile(f)(x), f(x), equal_nan=True)
        assert np.allclose(ppc.compile(lambda x: jax.nn.softmax(x, axis=ax))(x), jax.nn.softmax(x, axis=ax),
                           equal_nan=True)
    g = lambda x: np.sum(scipy.special.softmax(x, axis=1)[:, 0] * np.array([1.0, 2.0]))  # noqa: E731
    gj = lambda x: jnp.sum(jax.nn.softmax(x, axis=1)[:, 0] * jnp.array([1.0, 2.0]))  # noqa: E731
    assert np.allclose(ppc.grad(g)(x[:2]), jax.grad(gj)(x[:2]))


# A recursive call's result, while the function's result type is still being inferred,
# stands for "unknown"; three places did not expect it there, and refused valid code.
def _rec_fill(n, x):
    out = jnp.zeros(4)  # (jnp, so that the same source runs eagerly on JAX)
    if n <= 0:
        return out
    sub = _rec_fill(n - 1, x * 2)
    for i in range(4):
        out = out.at[i].set(sub[(i + 1) % 4] + x[i])  # was: "expected an array or a number, got Bottom"
    return out


def _rec_iter(n, x):
    if n <= 0:
        return x
    y = _rec_iter(n - 1, x + 1.0)
    s = 0.0
    for v in y:  # was: "cannot iterate over Bottom"
        s = s + v
    return y * 0.5 + s


def _rec_grad(n, x):
    if n <= 0:
        return x
    y = _rec_grad(n - 1, x * 0.5)
    return ppc.grad(lambda v: np.sum(np.sin(v) * y))(x)  # was: "returns Bottom, which is not an array"


def _rec_grad_jax(n, x):
    if n <= 0:
        return x
    y = _rec_grad_jax(n - 1, x * 0.5)
    return jax.grad(lambda v: jnp.sum(jnp.sin(v) * y))(x)


@pytest.mark.parametrize("f, ref", [(_rec_fill, _rec_fill), (_rec_iter, _rec_iter), (_rec_grad, _rec_grad_jax)],
                         ids=["at_set_in_loop", "for_over_result", "grad_of_closure_over_result"])
def test_recursive_result_used_in_loops_updates_and_closures(f, ref):
    N = np.array([0, 2, 3])
    X = np.stack([np.arange(4.0), np.arange(4.0) * 0.5 - 1.0, -np.arange(4.0)])
    refs = [ref(int(N[b]), jnp.asarray(X[b])) for b in range(3)]
    c = ppc.compile(f)
    for b in range(3):
        assert np.allclose(c(N[b], X[b]), refs[b])
    for s in STRATEGIES:
        out = ppc.autobatch(f, strategy=s)(N, X)
        for b in range(3):
            assert np.allclose(out[b], refs[b]), (s, b)
