"""eigh, eigvalsh, svd, svdvals, qr (np.linalg, jnp.linalg, (jax.)scipy.linalg) and what is
composed from them (norm ord=2/-2/'nuc', pinv, cond, matrix_power) in compiled code: values
against NumPy (both backends, float32 and float64, batched), derivatives against jax.grad and
finite differences, both autobatching strategies, and located errors.

Eigenvector and singular-vector signs are the library's, so everything compared is
invariant under them: reconstructions, |V|, squares, projectors."""
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import pytest
import scipy.linalg as sl

import ppc
from ppc.ir import CompileError

rng = np.random.default_rng(11)


def sym(*shape, dtype=np.float64):
    a = rng.normal(size=shape)
    return ((a + np.swapaxes(a, -1, -2)) / 2).astype(dtype)


def mat(*shape, dtype=np.float64):
    return rng.normal(size=shape).astype(dtype)


def tol(dtype, backend="jax"):
    """(TensorFlow's float64 eigh and svd are refined to NumPy's precision: see
    test_tf_float64_precision.)"""
    return 2e-4 if dtype == np.float32 else 1e-10


def decompositions(s, a, b):
    w, v = np.linalg.eigh(s)
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    u2, sv2, vt2 = np.linalg.svd(b, full_matrices=False)
    q, r = np.linalg.qr(a)
    q2, r2 = np.linalg.qr(b)
    return (w, np.abs(v), (v * w[..., None, :]) @ np.swapaxes(v, -1, -2), np.linalg.eigvalsh(s),
            sv, np.abs(u), np.abs(vt), (u * sv[..., None, :]) @ vt, (u2 * sv2[..., None, :]) @ vt2,
            np.linalg.svd(b, compute_uv=False), np.abs(r), q @ r, np.abs(q2), q2 @ r2, np.linalg.qr(a, mode="r"))


def reference(s, a, b):
    w, v = np.linalg.eigh(s)
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    q, r = np.linalg.qr(a)
    return (w, np.abs(v), s, w, sv, np.abs(u), np.abs(vt), a, b, np.linalg.svd(b, compute_uv=False), np.abs(r),
            a, np.abs(np.linalg.qr(b)[0]), b, r)


@pytest.mark.parametrize("backend,batch,dtype", [
    ("jax", (), np.float32), ("jax", (), np.float64), ("jax", (2, 3), np.float32), ("jax", (2, 3), np.float64),
    ("tf", (), np.float64), ("tf", (2, 3), np.float32)],  # (TF: two of the four, to keep this file fast)
    ids=["jax-single-f32", "jax-single-f64", "jax-batch2-f32", "jax-batch2-f64", "tf-single-f64", "tf-batch2-f32"])
def test_matches_numpy(backend, batch, dtype):
    s, a, b = sym(*batch, 4, 4, dtype=dtype), mat(*batch, 5, 3, dtype=dtype), mat(*batch, 3, 5, dtype=dtype)
    got = ppc.compile(decompositions, backend=backend)(s, a, b)
    want = reference(*(x.astype(np.float64) for x in (s, a, b)))
    t = tol(dtype, backend)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == dtype and g.shape == w.shape, i
        if i == 14:  # (mode='r': R's row signs are the library's)
            g, w = np.abs(g), np.abs(w)
        np.testing.assert_allclose(g, w, rtol=t, atol=t, err_msg=f"result {i}")


def spellings(s, a, sq):
    w, v = jnp.linalg.eigh(s)
    u, sv, vt = sl.svd(a)  # full_matrices=True: U is 5 x 5
    q, r = sl.qr(a)  # mode='full': the complete Q
    qe, re = sl.qr(a, mode="economic")
    (rr,) = jsl.qr(a, mode="r")
    uj, svj, vtj = jsl.svd(sq)
    return (w, v @ jnp.diag(w) @ v.T, jnp.linalg.eigvalsh(s), sl.eigh(s, eigvals_only=True), sl.eigvalsh(s),
            jsl.eigh(s)[0], jnp.linalg.svd(a, compute_uv=False), sv, u.T @ u, (u[:, :3] * sv) @ vt,
            q.T @ q, q @ r, np.abs(r), qe @ re, np.abs(rr), jnp.linalg.qr(a)[1].shape[0], np.linalg.svdvals(a),
            (uj * svj) @ vtj, np.linalg.qr(a, mode="complete")[0].shape)


def test_jnp_and_scipy_spellings(backend):
    s, a, sq = sym(4, 4), mat(5, 3), mat(3, 3)
    got = ppc.compile(spellings, backend=backend)(s, a, sq)
    w, sv, r = np.linalg.eigvalsh(s), np.linalg.svd(a, compute_uv=False), np.abs(sl.qr(a)[1])
    want = (w, s, w, w, w, w, sv, sv, np.eye(5), a, np.eye(5), a, r, a, r, 3, sv, sq, (5, 5))
    t = tol(np.float64, backend)
    for i, (g, x) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, x, rtol=t, atol=t, err_msg=f"result {i}")


def triangles(a):
    return (np.linalg.eigh(a), np.linalg.eigh(a, UPLO="U"), np.linalg.eigvalsh(a, "U"), sl.eigh(a, lower=False)[0],
            jnp.linalg.eigvalsh(a), jsl.eigh(a, eigvals_only=True), jnp.linalg.eigh(a, symmetrize_input=False)[0])


def test_eigh_reads_one_triangle_as_numpy(backend):
    """NumPy and SciPy read one triangle of a matrix that is not symmetric; JAX symmetrizes
    it first unless told not to."""
    a = mat(4, 4)
    (w, v), (wu, vu), wu2, wu3, wj, wj2, wj3 = ppc.compile(triangles, backend=backend)(a)
    t = tol(np.float64, backend)
    for x, want in ((wj, np.linalg.eigvalsh((a + a.T) / 2)), (wj2, np.linalg.eigvalsh((a + a.T) / 2)),
                    (wj3, np.linalg.eigvalsh(a))):
        np.testing.assert_allclose(x, want, rtol=t, atol=t)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(a), rtol=t, atol=t)
    np.testing.assert_allclose(np.abs(v), np.abs(np.linalg.eigh(a)[1]), rtol=t, atol=t)
    for x in (wu, wu2, wu3):
        np.testing.assert_allclose(x, np.linalg.eigvalsh(a, UPLO="U"), rtol=t, atol=t)
    np.testing.assert_allclose(np.abs(vu), np.abs(np.linalg.eigh(a, UPLO="U")[1]), rtol=t, atol=t)


def full_svd(a, b):
    u, s, vt = np.linalg.svd(a)
    u2, s2, vt2 = np.linalg.svd(b, full_matrices=True)
    return u, s, vt, u2, s2, vt2


def test_full_matrices_of_non_square_matrices(backend):
    a, b = mat(2, 5, 3), mat(3, 5)
    u, s, vt, u2, s2, vt2 = ppc.compile(full_svd, backend=backend)(a, b)
    t = tol(np.float64, backend)
    assert u.shape == (2, 5, 5) and vt.shape == (2, 3, 3) and u2.shape == (3, 3) and vt2.shape == (5, 5)
    for uu, ss, vv, x in ((u, s, vt, a), (u2, s2, vt2, b)):
        k = ss.shape[-1]
        np.testing.assert_allclose(np.swapaxes(uu, -1, -2) @ uu, np.broadcast_to(np.eye(uu.shape[-1]), uu.shape),
                                   atol=t)
        np.testing.assert_allclose(vv @ np.swapaxes(vv, -1, -2), np.broadcast_to(np.eye(vv.shape[-1]), vv.shape),
                                   atol=t)
        np.testing.assert_allclose((uu[..., :, :k] * ss[..., None, :]) @ vv[..., :k, :], x, rtol=t, atol=t)
        np.testing.assert_allclose(ss, np.linalg.svd(x, compute_uv=False), rtol=t, atol=t)


# ----------------------------------------------------------------- composed from the SVD

def composed(a, sq, x3, ints):
    return (np.linalg.norm(a, 2), np.linalg.norm(a, -2), np.linalg.norm(a, "nuc"),
            np.linalg.norm(x3, ord=2, axis=(0, 2)), np.linalg.norm(x3, "nuc", axis=(2, 0), keepdims=True),
            np.linalg.norm(a, 1), np.linalg.norm(a[0], 2), np.linalg.pinv(a), np.linalg.pinv(a, rtol=None),
            np.linalg.cond(sq), np.linalg.cond(sq, -2), np.linalg.cond(sq, "fro"), np.linalg.cond(sq, 1),
            np.linalg.matrix_power(sq, 3), np.linalg.matrix_power(sq, 0), np.linalg.matrix_power(sq, -2),
            np.linalg.matrix_power(ints, 5), np.linalg.matrix_power(ints, 0), jnp.linalg.pinv(a), jnp.linalg.cond(sq))


def test_composed_functions_match_numpy(backend):
    a, sq, x3 = mat(5, 3), mat(3, 3) + 3 * np.eye(3), mat(3, 2, 4)
    ints = np.array([[1, 2], [0, 1]])
    got = ppc.compile(composed, backend=backend)(a, sq, x3, ints)
    want = composed(a, sq, x3, ints)
    assert got[16].dtype == np.int64 and got[17].dtype == np.int64 and got[4].shape == (1, 2, 1)
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=tol(np.float64, backend), atol=1e-12, err_msg=f"result {i}")


def batched_composed(a, sq):
    return np.linalg.norm(a, 2, axis=(-2, -1)), np.linalg.pinv(a), np.linalg.cond(sq), np.linalg.matrix_power(sq, -3)


def test_composed_functions_batched():
    a, sq = mat(2, 3, 4, 6), mat(3, 3, 3) + 3 * np.eye(3)
    got = ppc.compile(batched_composed)(a, sq)
    for g, w in zip(got, batched_composed(a, sq)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_pinv_cuts_small_singular_values():
    a = mat(5, 2) @ mat(2, 4)  # rank 2
    got = ppc.compile(lambda a: (np.linalg.pinv(a), jnp.linalg.pinv(a)))(a)
    np.testing.assert_allclose(got[0], np.linalg.pinv(a), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got[1], np.linalg.pinv(a), rtol=1e-8, atol=1e-10)


# ----------------------------------------------------------------- derivatives

C4, C53, C35, C33 = (rng.normal(size=s) for s in ((4, 4), (5, 3), (3, 5), (3, 3)))


def eigh_fn(s):
    w, v = jnp.linalg.eigh(s)
    return jnp.sum(w * jnp.arange(4.0)) + jnp.sum(v ** 2 * C4) + jnp.sum((v * jnp.tanh(w)) @ v.T * C4)


def eigvals_fn(s):
    return jnp.sum(jnp.sin(jnp.linalg.eigvalsh(s)))


def svd_tall(a):
    u, s, vt = jnp.linalg.svd(a, full_matrices=False)
    return jnp.sum(jnp.log(s)) + jnp.sum(u ** 2 * C53) + jnp.sum(vt ** 2 * C33) + jnp.sum((u * s ** 2) @ vt * C53)


def svd_wide(a):
    u, s, vt = jnp.linalg.svd(a, full_matrices=False)
    return jnp.sum(s ** 3) + jnp.sum(u ** 2 * C33) + jnp.sum(vt ** 2 * C35)


def svd_square(a):
    u, s, vt = jnp.linalg.svd(a)
    return jnp.sum(u ** 2 * C33) + jnp.sum(vt ** 2 * C33.T) + jnp.sum(s * jnp.arange(3.0))


def qr_tall(a):
    q, r = jnp.linalg.qr(a)
    return jnp.sum(q ** 2 * C53) + jnp.sum(r ** 2 * C33) + jnp.sum(jnp.abs(jnp.diagonal(r)))


def qr_wide(a):
    q, r = jnp.linalg.qr(a)
    return jnp.sum(q ** 2 * C33) + jnp.sum(r ** 2 * C35)


def norms(a):
    return (jnp.linalg.norm(a, 2) + jnp.linalg.norm(a, -2) + jnp.linalg.norm(a, "nuc")
            + jnp.sum(jnp.linalg.pinv(a) * C35) + jnp.linalg.cond(a))


def powers(a):
    return jnp.sum(jnp.linalg.matrix_power(a, 3) * C33) + jnp.sum(jnp.linalg.matrix_power(a, -2) * C33)


def batched(s, a):
    return jnp.sum(jnp.linalg.eigvalsh(s) ** 2) + jnp.sum(jnp.linalg.svd(a, compute_uv=False)) + \
        jnp.sum(jnp.linalg.qr(a)[1] ** 2)


CASES = [
    (eigh_fn, lambda: (sym(4, 4),)),
    (eigvals_fn, lambda: (sym(4, 4),)),
    (svd_tall, lambda: (mat(5, 3),)),
    (svd_wide, lambda: (mat(3, 5),)),
    (svd_square, lambda: (mat(3, 3),)),
    (qr_tall, lambda: (mat(5, 3),)),
    (qr_wide, lambda: (mat(3, 5),)),
    (norms, lambda: (mat(5, 3),)),
    (powers, lambda: (mat(3, 3) + 3 * np.eye(3),)),
    (batched, lambda: (sym(2, 4, 4), mat(2, 5, 3))),
]


@pytest.mark.parametrize("fn,args", CASES, ids=[f.__name__ for f, _ in CASES])
def test_grad_matches_jax(fn, args):
    args = args()
    argnums = tuple(range(len(args)))
    got = ppc.grad(fn, argnums=argnums)(*args)
    want = jax.jit(jax.grad(fn, argnums=argnums))(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9)


def test_grad_matches_finite_differences():
    """Directional derivatives of the compiled gradient against central differences of the
    function NumPy computes (symmetric directions for eigh, which reads one triangle)."""
    def np_eigh(s):
        w, v = np.linalg.eigh(s)
        return np.sum(w * np.arange(4.0)) + np.sum(v ** 2 * C4) + np.sum((v * np.tanh(w)) @ v.T * C4)

    def np_svd(a):
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        return np.sum(np.log(s)) + np.sum(u ** 2 * C53) + np.sum(vt ** 2 * C33) + np.sum((u * s ** 2) @ vt * C53)

    def np_qr(a):
        q, r = np.linalg.qr(a)
        return np.sum(q ** 2 * C33) + np.sum(r ** 2 * C35)

    for f, x, sym_dir in ((eigh_fn, sym(4, 4), True), (svd_tall, mat(5, 3), False), (qr_wide, mat(3, 5), False)):
        ref = {eigh_fn: np_eigh, svd_tall: np_svd, qr_wide: np_qr}[f]
        g = ppc.grad(f)(x)
        for _ in range(3):
            d = rng.normal(size=x.shape)
            if sym_dir:
                d = (d + d.T) / 2
            h = 1e-6
            fd = (ref(x + h * d) - ref(x - h * d)) / (2 * h)
            np.testing.assert_allclose(np.sum(g * d), fd, rtol=1e-5, atol=1e-7)


def test_hessian_matches_jax():
    s = sym(3, 3)

    def f(s):
        return jnp.sum(jnp.linalg.eigvalsh(s) ** 3) + jnp.sum(jnp.linalg.svd(s, compute_uv=False))
    np.testing.assert_allclose(ppc.hessian(f)(s), jax.jit(jax.hessian(f))(s), rtol=1e-6, atol=1e-8)


def test_grad_on_tf_backend():
    a = mat(5, 3)
    got = ppc.grad(ppc.compile(svd_tall, backend="tf"))(a)
    np.testing.assert_allclose(got, jax.jit(jax.grad(svd_tall))(a), rtol=1e-8, atol=1e-10)


def tf_factors(s, a, b):
    w, v = np.linalg.eigh(s)
    u, sv, vt = np.linalg.svd(a)
    u2, sv2, vt2 = np.linalg.svd(b, full_matrices=False)
    return w, v, u, sv, vt, u2, sv2, vt2


def test_tf_float64_precision():
    """XLA's Jacobi kernels behind tf.linalg.eigh/svd leave float64 vectors at about 1e-7;
    the runtime refines them (ppc/backends/tf/runtime.py): orthogonal to rounding and
    reconstructing the matrix, with repeated eigenvalues and a rank-deficient matrix too."""
    s = sym(3, 12, 12)
    s[1] = np.diag([1.0, 1.0, 1.0, 2.0] * 3)  # repeated eigenvalues
    a, b = mat(3, 12, 12), mat(2, 15, 9)
    a[2, :, 0] = a[2, :, 1]  # rank deficient
    w, v, u, sv, vt, u2, sv2, vt2 = ppc.compile(tf_factors, backend="tf")(s, a, b)
    for q in (v, u, np.swapaxes(vt, -1, -2), u2, np.swapaxes(vt2, -1, -2)):  # orthonormal columns
        k = q.shape[-1]
        np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q, np.broadcast_to(np.eye(k), q.shape[:-2] + (k, k)),
                                   atol=1e-13)
    np.testing.assert_allclose((v * w[..., None, :]) @ np.swapaxes(v, -1, -2), s, atol=1e-13)
    np.testing.assert_allclose((u * sv[..., None, :]) @ vt, a, atol=1e-13)
    np.testing.assert_allclose((u2 * sv2[..., None, :]) @ vt2, b, atol=1e-13)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(s), atol=1e-13)
    np.testing.assert_allclose(sv, np.linalg.svd(a, compute_uv=False), atol=1e-13)


# ----------------------------------------------------------------- autobatch

def member(s, a):
    w, v = np.linalg.eigh(s)
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    q, r = np.linalg.qr(a)
    return np.sum(w) + np.sum(v ** 2 * w) + np.sum(sv * np.abs(vt[0])) + np.sum(np.abs(r)) + np.sum(u ** 2) \
        + np.linalg.norm(a, 2) + np.sum(np.linalg.pinv(a) ** 2)


@pytest.mark.parametrize("strategy", ["program_counter", "local_static"])
def test_autobatch_matches_each_member(strategy):
    n = 3
    s, a = sym(n, 4, 4), mat(n, 5, 3)
    got = ppc.autobatch(member, strategy=strategy)(s, a)
    want = np.stack([member(s[i], a[i]) for i in range(n)])
    np.testing.assert_allclose(got, want, rtol=1e-9)


# ----------------------------------------------------------------- errors

def traced_ord(a, o):
    return np.linalg.norm(a, o)


def full_grad(a):
    u, s, vt = jnp.linalg.svd(a)
    return jnp.sum(u ** 2 * C4[:, :4])


def complete_qr_grad(a):
    q, r = jnp.linalg.qr(a, mode="complete")
    return jnp.sum(q ** 2 * C53[:, :1])


def traced_power(a, n):
    return np.linalg.matrix_power(a, n)


def raw_qr(a):
    return np.linalg.qr(a, mode="raw")


def bad_uplo(a):
    return np.linalg.eigh(a, UPLO="X")


def generalized(a, b):
    return sl.eigh(a, b)


def half_eigh(a):
    return np.linalg.eigvalsh(a.astype(np.float16))


def nonsquare(a):
    return np.linalg.eigh(a)


def complex_svd(a):
    return np.linalg.svd(a)


@pytest.mark.parametrize("call,match", [
    (lambda: ppc.compile(traced_ord)(mat(3, 3), 2.0), "ord must be known at compile time"),
    (lambda: ppc.grad(full_grad)(mat(4, 3)), "full_matrices=True of a non-square matrix"),
    (lambda: ppc.grad(complete_qr_grad)(mat(5, 3)), r"complete QR \(mode='complete'\) of a tall matrix"),
    (lambda: ppc.compile(traced_power)(mat(3, 3), 2), "exponent n must be a Python int known at compile time"),
    (lambda: ppc.compile(raw_qr)(mat(3, 3)), "mode='raw' is not supported"),
    (lambda: ppc.compile(bad_uplo)(sym(3, 3)), "UPLO='X' is not supported"),
    (lambda: ppc.compile(generalized)(sym(3, 3), np.eye(3)), r"generalized problem \(b=\)"),
    (lambda: ppc.compile(half_eigh)(sym(3, 3)), "float32 or float64"),
    (lambda: ppc.compile(nonsquare)(mat(3, 4)), "square"),
    (lambda: ppc.compile(complex_svd)(mat(3, 3) + 1j), "complex128"),
], ids=["traced_ord", "full_matrices_grad", "complete_qr_grad", "traced_power", "qr_raw", "uplo", "generalized",
        "float16", "nonsquare", "complex"])
def test_unsupported_arguments_are_located_errors(call, match):
    with pytest.raises(CompileError, match=match) as e:
        call()
    assert "test_linalg_decomp.py:" in str(e.value)


# ----------------------------------------------------------------- partitioning

def per_matrix(s, a):
    w, v = np.linalg.eigh(s)
    u, sv, vt = np.linalg.svd(a, full_matrices=False)
    q, r = np.linalg.qr(a)
    return w, np.abs(v), sv, np.abs(r), (u * sv[..., None, :]) @ vt, q @ r


@pytest.mark.skipif(len(jax.devices()) < 4, reason="needs 4 (emulated) devices")
def test_batches_of_matrices_partition_without_communication():
    from ppc.ir import walk_ops
    from ppc.partition import Mesh, apply, tile
    s, a = sym(8, 4, 4), mat(8, 5, 3)
    f = ppc.compile(per_matrix)
    p = apply(f, [tile("s", 0, "batch"), tile("a", 0, "batch")], Mesh({"batch": 4}))
    for g, w in zip(p(s, a), f(s, a)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    module = p.ir(s, a)
    prims = {op.prim for fn in module.functions.values() for op in walk_ops(fn.body)}
    assert {"eigh", "svd", "qr"} <= prims and not prims & {"all_reduce", "all_gather", "all_to_all"}
