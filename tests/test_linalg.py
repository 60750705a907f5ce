"""np.linalg / jnp.linalg / (jax.)scipy.linalg in compiled code: cholesky, solve, inv, det,
slogdet, cho_factor/cho_solve against NumPy (both backends, float32 and float64, batched),
derivatives against JAX, autobatching, and a model whose covariance is factored inside."""
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import pytest
import scipy.linalg as sl
from scipy import stats

import ppc
from ppc.ir import CompileError

rng = np.random.default_rng(7)


def general(*shape, dtype=np.float64):
    """Well-conditioned matrices with no need to pivot-free (rows get swapped)."""
    k = shape[-1]
    return (rng.normal(size=shape) + 3 * np.eye(k)[::-1]).astype(dtype)


def spd(*shape, dtype=np.float64):
    a = rng.normal(size=shape)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def everything(s, a, b, bm):
    sign, logabs = np.linalg.slogdet(a)
    return (np.linalg.cholesky(s), np.linalg.solve(a, b), np.linalg.solve(a, bm), np.linalg.inv(a),
            np.linalg.det(a), sign, logabs)


def reference(s, a, b, bm):
    return (np.linalg.cholesky(s), np.linalg.solve(a, b), np.linalg.solve(a, bm), np.linalg.inv(a),
            np.linalg.det(a), *np.linalg.slogdet(a))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("batch", [(), (2, 3)], ids=["single", "batch2"])
def test_matches_numpy(batch, dtype, backend):
    k = 4
    s, a = spd(*batch, k, k, dtype=dtype), general(*batch, k, k, dtype=dtype)
    b, bm = rng.normal(size=k).astype(dtype), rng.normal(size=batch + (k, 2)).astype(dtype)
    got = ppc.compile(everything, backend=backend)(s, a, b, bm)
    want = reference(s.astype(np.float64), a.astype(np.float64), b.astype(np.float64), bm.astype(np.float64))
    tol = 2e-4 if dtype == np.float32 else 1e-10
    for g, w in zip(got, want):
        assert g.dtype == dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def jnp_and_scipy(s, a, b):
    c, lower = jsl.cho_factor(s)
    c2 = sl.cho_factor(s, lower=True)
    return (jnp.linalg.cholesky(s), jnp.linalg.solve(a, b), jnp.linalg.inv(a), jnp.linalg.det(a),
            jnp.linalg.slogdet(a)[1], jsl.cho_solve((c, lower), b), sl.cho_solve(c2, b),
            jsl.cholesky(s), sl.cholesky(s, lower=True), np.linalg.cholesky(s, upper=True))


def test_jnp_and_scipy_spellings(backend):
    s, a, b = spd(3, 3), general(3, 3), rng.normal(size=3)
    got = ppc.compile(jnp_and_scipy, backend=backend)(s, a, b)
    L = np.linalg.cholesky(s)
    want = (L, np.linalg.solve(a, b), np.linalg.inv(a), np.linalg.det(a), np.linalg.slogdet(a)[1],
            np.linalg.solve(s, b), np.linalg.solve(s, b), L.T, L, L.T)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def broadcast_solves(a, b, c):
    return np.linalg.solve(a, b), np.linalg.solve(c, b[0]), jsl.cho_solve((np.linalg.cholesky(c), True), b)


def test_right_hand_sides_broadcast_against_the_matrices():
    a, c = general(3, 4, 4), spd(4, 4)
    b = rng.normal(size=(2, 1, 4, 5))  # batch (2, 1) against a's (3,): (2, 3)
    got = ppc.compile(broadcast_solves)(a, b, c)
    np.testing.assert_allclose(got[0], np.linalg.solve(a, b), rtol=1e-10)
    np.testing.assert_allclose(got[1], np.linalg.solve(c, b[0]), rtol=1e-10)
    np.testing.assert_allclose(got[2], np.linalg.solve(c, b), rtol=1e-10)


def integer_det(a):
    return np.linalg.det(a), np.linalg.inv(a)


def singular(a, b):
    return np.linalg.det(a), np.linalg.slogdet(a), np.linalg.solve(a, b)


def test_integers_become_float64_and_singular_matrices_give_numpys_det():
    a = np.array([[2, 1], [1, 3]])
    d, inv = ppc.compile(integer_det)(a)
    assert d.dtype == np.float64 and np.isclose(d, 5.0) and np.allclose(inv, np.linalg.inv(a))
    for backend in ("jax", "tf"):
        det, (sign, logabs), x = ppc.compile(singular, backend=backend)(np.array([[1.0, 2.0], [2.0, 4.0]]),
                                                                        np.ones(2))
        assert det == 0.0 and sign == 0.0 and logabs == -np.inf  # (NumPy: the same)
        assert not np.isfinite(x).all()  # (NumPy raises LinAlgError)


def nonsquare(a):
    return np.linalg.inv(a)


def misaligned(a, b):
    return np.linalg.solve(a, b)


def test_shape_errors_are_located():
    with pytest.raises(CompileError, match="square"):
        ppc.compile(nonsquare)(np.ones((2, 3)))
    with pytest.raises(CompileError, match=r"b\[\.\.\., None\]"):
        ppc.compile(misaligned)(general(3, 4, 4), np.ones((3, 4)))


# ----------------------------------------------------------------- derivatives against JAX

def chol_logdet(k):
    L = jnp.linalg.cholesky(k)
    return 2.0 * jnp.sum(jnp.log(jnp.sum(L * jnp.eye(k.shape[-1]), axis=-1)))


def quad_form(a, y):
    return y @ jnp.linalg.solve(a, y)


def gp_mll(k, y):
    return -0.5 * y @ jnp.linalg.solve(k, y) - 0.5 * jnp.linalg.slogdet(k)[1]


def mixed(a):
    return jnp.linalg.det(a) + jnp.sum(jnp.linalg.inv(a) ** 2) + jnp.sum(jnp.linalg.cholesky(a @ a.T) ** 2)


def batched_logdet(ks):
    return jnp.sum(jnp.linalg.slogdet(ks)[1]) + jnp.sum(jnp.linalg.cholesky(ks))


@pytest.mark.parametrize("fn,args", [
    (chol_logdet, lambda: (spd(4, 4),)),
    (quad_form, lambda: (general(4, 4), rng.normal(size=4))),
    (gp_mll, lambda: (spd(5, 5), rng.normal(size=5))),
    (mixed, lambda: (general(3, 3),)),
    (batched_logdet, lambda: (spd(2, 3, 3),)),
], ids=["chol_logdet", "quad_form", "gp_mll", "mixed", "batched"])
def test_grad_matches_jax(fn, args):
    args = args()
    got = ppc.grad(fn, argnums=tuple(range(len(args))))(*args)
    want = jax.jit(jax.grad(fn, argnums=tuple(range(len(args)))))(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-10)


def test_grad_on_tf_backend():
    k, y = spd(4, 4), rng.normal(size=4)
    got = ppc.grad(ppc.compile(gp_mll, backend="tf"))(k, y)
    np.testing.assert_allclose(got, jax.jit(jax.grad(gp_mll))(k, y), rtol=1e-8, atol=1e-10)


def test_hessian_matches_jax():
    k, y = spd(3, 3), rng.normal(size=3)
    np.testing.assert_allclose(ppc.hessian(gp_mll)(k, y), jax.jit(jax.hessian(gp_mll))(k, y), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ppc.hessian(chol_logdet)(k), jax.jit(jax.hessian(chol_logdet))(k), rtol=1e-7, atol=1e-9)


# ----------------------------------------------------------------- autobatch

def member(a, s, b):
    sign, logabs = np.linalg.slogdet(a)
    return np.linalg.solve(a, b) + np.linalg.cholesky(s)[:, 0] + sign * logabs + np.linalg.det(s)


@pytest.mark.parametrize("strategy", ["program_counter", "local_static"])
def test_autobatch_matches_each_member(strategy):
    n = 3
    a, s, b = general(n, 4, 4), spd(n, 4, 4), rng.normal(size=(n, 4))
    got = ppc.autobatch(member, strategy=strategy)(a, s, b)
    want = np.stack([member(a[i], s[i], b[i]) for i in range(n)])
    np.testing.assert_allclose(got, want, rtol=1e-10)


def shared_matrix(b, a):
    return np.linalg.solve(a, b), np.linalg.inv(a)


def test_autobatch_with_a_shared_matrix():
    a, b = general(4, 4), rng.normal(size=(3, 4))
    batched = ppc.autobatch(lambda b: shared_matrix(b, a), strategy="local_static")
    x, inv = batched(b)
    np.testing.assert_allclose(x, np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-10)
    np.testing.assert_allclose(inv, np.broadcast_to(np.linalg.inv(a), (3, 4, 4)), rtol=1e-10)


# ----------------------------------------------------------------- a model

def gp(loc, k):
    x = ppc.MultivariateNormal(loc, scale_tril=np.linalg.cholesky(k))
    return x


def test_model_with_a_factored_covariance(backend):
    k, loc, x = spd(4, 4), rng.normal(size=4), rng.normal(size=4)
    got = ppc.log_joint(ppc.compile(gp, backend=backend))(loc, k, x=x)
    np.testing.assert_allclose(got, stats.multivariate_normal(loc, k).logpdf(x), rtol=1e-10)
