"""What is particular to the TensorFlow backend: functions derived from a TF-compiled one
stay on TF, the boundary (NumPy results, JAX keys in and out), errors raised from TF runs,
and the PRNG's draws against their distributions (KS tests and moments at fixed seeds).
The golden, reference, derivative, batching, recursion, model and NUTS suites run on both
backends through the `backend` fixture (tests/conftest.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import ppc
from ppc.backends.tf import pack_keys, unpack_keys
from ppc.cli import main

import data.ad_programs as P
import data.random_programs as RP
import data.recursion as R
from programs import ROOT

TF_HEADER = "regenerate with ppc-dump --stage tf"


def log_lik(w, X, y):
    logits = X @ w
    return np.sum(y * logits - np.logaddexp(0.0, logits))


rng = np.random.default_rng(0)
W, X, Y = rng.normal(size=3), rng.normal(size=(20, 3)), (rng.uniform(size=20) < 0.5).astype(float)


def test_decorator_and_call_forms():
    @ppc.compile(backend="tf")
    def f(x):
        return x * 2.0 + 1.0
    x = np.arange(3.0)
    out = f(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_allclose(out, x * 2.0 + 1.0)
    np.testing.assert_allclose(f(jnp.arange(3.0)), x * 2.0 + 1.0)  # JAX arrays are accepted too
    assert f.backend == "tf" and TF_HEADER in f.source(x) and "import tensorflow as tf" in f.source(x)
    g = ppc.compile(log_lik, backend="tf")
    assert np.ndim(g(W, X, Y)) == 0
    np.testing.assert_allclose(g(W, X, Y), ppc.compile(log_lik)(W, X, Y), rtol=1e-12)


def test_derived_functions_stay_on_tf():
    f = ppc.compile(log_lik, backend="tf")
    derived = [ppc.grad(f), ppc.value_and_grad(f), ppc.hessian(f), ppc.autobatch(f, strategy="local_static")]
    for d in derived[:3]:
        assert d.backend == "tf" and TF_HEADER in d.source(W, X, Y)
    batched = derived[3]
    assert batched.backend == "tf" and TF_HEADER in batched.source(np.stack([W, W]), X[None], Y[None])
    np.testing.assert_allclose(derived[0](W, X, Y), ppc.grad(log_lik)(W, X, Y), rtol=1e-10)
    np.testing.assert_allclose(derived[2](W, X, Y), ppc.hessian(log_lik)(W, X, Y), rtol=1e-10)
    out, tout = ppc.jvp(f, (W, X, Y), (np.ones(3), np.zeros((20, 3)), np.zeros(20)))
    _, want = ppc.jvp(log_lik, (W, X, Y), (np.ones(3), np.zeros((20, 3)), np.zeros(20)))
    np.testing.assert_allclose(tout, want, rtol=1e-10)


def test_linearize_vjp_and_linear_transpose_on_tf():
    f = ppc.compile(P.mixed_ops, backend="tf")
    x, y = rng.normal(size=4), rng.normal(size=4)
    out, f_lin = ppc.linearize(f, x, y)
    assert f_lin.backend == "tf" and TF_HEADER in f_lin.source
    out_j, f_lin_j = ppc.linearize(P.mixed_ops, x, y)
    np.testing.assert_allclose(out, out_j, rtol=1e-12)
    t = (rng.normal(size=4), rng.normal(size=4))
    np.testing.assert_allclose(f_lin(*t), f_lin_j(*t), rtol=1e-10)
    _, vjp_fn = ppc.vjp(f, x, y)
    _, vjp_j = ppc.vjp(P.mixed_ops, x, y)
    ct = rng.normal(size=np.shape(out))
    for a, b in zip(vjp_fn(ct), vjp_j(ct)):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_errors_from_tf_runs():
    with pytest.raises(ppc.LoopLimitError, match="max_iterations"):
        ppc.grad(ppc.compile(P.newton_sqrt, backend="tf"), max_iterations=2)(np.float64(1e6))
    with pytest.raises(ppc.StackOverflowError, match="max_stack_depth=4"):
        ppc.compile(R.fib, backend="tf", max_stack_depth=4)(10)
    np.testing.assert_allclose(ppc.grad(ppc.compile(P.newton_sqrt, backend="tf"))(np.float64(9.0)), 0.5 / 3.0,
                               rtol=1e-8)


def test_keys_cross_the_boundary_as_jax_keys():
    keys = jax.random.split(jax.random.key(42), 5)
    back = unpack_keys(pack_keys(keys))
    assert back.dtype == keys.dtype
    np.testing.assert_array_equal(jax.random.key_data(back), jax.random.key_data(keys))

    def split3(key):
        return jax.random.split(key, 3)
    out = ppc.compile(split3, backend="tf")(jax.random.key(7))
    assert out.shape == (3,) and jax.dtypes.issubdtype(out.dtype, jax.dtypes.prng_key)
    assert len({tuple(np.asarray(jax.random.key_data(k))) for k in out}) == 3


def test_random_seed_gives_jax_key_words():
    def seeded(seed):
        return jax.random.key(seed)
    k = ppc.compile(seeded, backend="tf")(np.int64(2 ** 33 + 5))
    np.testing.assert_array_equal(jax.random.key_data(k), jax.random.key_data(jax.random.key(2 ** 33 + 5)))


def test_batched_draws_on_tf_equal_per_member_draws_on_tf():
    keys = jax.random.split(jax.random.key(0), 4)
    mus = np.linspace(0.0, 1.5, 4)
    noisy = ppc.compile(RP.noisy, backend="tf")
    got = ppc.autobatch(noisy, strategy="program_counter")(keys, mus)
    for i in range(4):
        for g, w in zip(got, noisy(keys[i], mus[i])):
            np.testing.assert_allclose(np.asarray(g)[i], w, rtol=1e-12)


def nan_extrema(x, y):
    return (np.max(x, axis=0), np.min(x, axis=1), np.max(x, axis=1, keepdims=True), np.min(x, axis=0, keepdims=True),
            np.max(x), np.min(x), np.argmax(x, axis=0), np.argmin(x, axis=0), np.argmax(x, axis=1),
            np.argmin(x, axis=1), np.argmax(x), np.argmin(x),
            np.maximum(x, y), np.minimum(x, y), np.maximum(y, x), np.minimum(y, x))


def nan_division(x, y):
    return x // y, x % y, y // x, y % x


SPECIALS = [0.0, -0.0, 1.0, -1.0, 3.7, -3.7, 2.5, 1e-20, -1e-20, 0.1, 1e30, np.inf, -np.inf, np.nan, 3.7]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_infinities_agree_with_jax(dtype):
    """TF's max/min (reductions and elementwise) and argmax/argmin skip NaN where XLA's, and
    JAX's, propagate it (the first NaN for the arg-reductions); its float floor division is
    floor(x / y) where JAX's is CPython's divmod (inf // 2 is nan, 3.7 // -inf is -1)."""
    with np.errstate(over="ignore"):
        g = np.array(SPECIALS, dtype)
    x, y = (a.reshape(15, 15) for a in np.meshgrid(g, g))
    rows = np.random.default_rng(5).permuted(np.tile(g, (6, 1)), axis=1)[:, :8]  # a NaN in some rows only
    rows[0] = [1.0, 3.0, 3.0, -np.inf, 0.5, 3.0, 1.0, -1.0]  # ties, no NaN
    rows[1] = -np.inf
    for args in ((x, y), (rows, rows[::-1].copy())):
        for got, want in zip(ppc.compile(nan_extrema, backend="tf")(*args), ppc.compile(nan_extrema)(*args)):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    for got, want in zip(ppc.compile(nan_division, backend="tf")(x, y), ppc.compile(nan_division)(x, y)):
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))  # signed zeros too
    assert np.isnan(ppc.compile(nan_division, backend="tf")(np.array([np.inf]), np.array([2.0]))[0][0])
    a = np.array([[7, -7, 7, -7, 1, 5], [3, 3, -1, 2, 4, 0]])  # integers keep their rules, x // 0 XLA's
    b = np.array([[2, 2, -2, -2, 3, 0], [3, -2, 5, 0, -1, -2]])
    for fn in (nan_division, nan_extrema):
        for got, want in zip(ppc.compile(fn, backend="tf")(a, b), ppc.compile(fn)(a, b)):
            np.testing.assert_array_equal(got, want)


def extrema_loss(x, y):
    return (np.sum(np.max(x, axis=0) * 2.0) + np.sum(np.min(x, axis=1) * 3.0) + np.max(x) - np.min(x)
            + np.sum(np.maximum(x, y) * np.arange(1.0, 4.0)) + np.sum(np.minimum(x, y) ** 2))


def test_max_min_gradients_with_ties_agree_with_jax():
    x = np.array([[1.0, 3.0, 3.0], [3.0, -2.0, 3.0], [1.0, -2.0, 0.5]])
    y = np.array([[1.0, 2.0, 4.0], [3.0, -2.0, 0.0], [0.0, -2.0, 0.5]])
    for dtype in (np.float32, np.float64):
        got = ppc.grad(ppc.compile(extrema_loss, backend="tf"), argnums=(0, 1))(x.astype(dtype), y.astype(dtype))
        want = ppc.grad(ppc.compile(extrema_loss), argnums=(0, 1))(x.astype(dtype), y.astype(dtype))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


# ---------------------------------------------------------------------------------- PRNG

def draws(kind, param, n=4000, seed=3, dtype=np.float64):
    """n draws of one kind from n split keys, each key drawing one value (so the draws
    test the key derivation as well as the generator)."""
    def normal(key, p):
        return jax.random.normal(key, ()).astype(p.dtype) + p

    def uniform(key, p):
        return jax.random.uniform(key, ()).astype(p.dtype) + p

    def gamma(key, p):
        return jax.random.gamma(key, p)

    def poisson(key, p):
        return jax.random.poisson(key, p)

    def binomial(key, p):
        return jax.random.binomial(key, 20.0, p)
    fn = {"normal": normal, "uniform": uniform, "gamma": gamma, "poisson": poisson, "binomial": binomial}[kind]
    keys = jax.random.split(jax.random.key(seed), n)
    params = np.full(n, param, dtype)
    return np.asarray(ppc.autobatch(ppc.compile(fn, backend="tf"), strategy="local_static")(keys, params))


@pytest.mark.parametrize("kind,param,ref", [
    ("normal", 0.0, stats.norm()),
    ("uniform", 0.0, stats.uniform()),
    ("gamma", 0.3, stats.gamma(0.3)),     # boosted: alpha < 1
    ("gamma", 1.0, stats.gamma(1.0)),
    ("gamma", 40.0, stats.gamma(40.0)),
], ids=["normal", "uniform", "gamma_small", "gamma_one", "gamma_large"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_continuous_draws_ks(kind, param, ref, dtype):
    x = draws(kind, param, dtype=dtype)
    assert x.dtype == dtype and np.all(np.isfinite(x))
    assert stats.kstest(x.astype(np.float64), ref.cdf).pvalue > 1e-3
    assert abs(x.mean() - ref.mean()) < 5 * ref.std() / np.sqrt(len(x))


@pytest.mark.parametrize("kind,param,mean,var", [
    ("poisson", 0.7, 0.7, 0.7),
    ("poisson", 9.5, 9.5, 9.5),     # the largest rate on Knuth's method
    ("poisson", 40.0, 40.0, 40.0),  # transformed rejection
    ("binomial", 0.3, 6.0, 4.2),
    ("binomial", 0.85, 17.0, 2.55),  # mirrored: p > 1/2
], ids=["poisson_small", "poisson_9.5", "poisson_large", "binomial", "binomial_mirrored"])
def test_discrete_draws_match_their_distribution(kind, param, mean, var):
    x = draws(kind, param)
    n = len(x)
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / n)
    assert abs(x.var() - var) < 0.15 * var
    ref = stats.poisson(param) if kind == "poisson" else stats.binom(20, param)
    values, counts = np.unique(x, return_counts=True)
    expected = ref.pmf(values) * n
    keep = expected > 5  # chi-square over the well-populated values
    chi2 = np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])
    assert stats.chi2(keep.sum() - 1).sf(chi2) > 1e-3


def test_split_keys_draw_independent_streams():
    def pair(key):
        k1, k2 = jax.random.split(key)
        return jax.random.normal(k1, (2000,)), jax.random.normal(k2, (2000,)), jax.random.normal(key, (2000,))
    a, b, c = ppc.compile(pair, backend="tf")(jax.random.key(11))
    for u, v in ((a, b), (a, c), (b, c)):
        assert abs(np.corrcoef(u, v)[0, 1]) < 0.08
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.08  # and successive draws of one key


def test_ppc_dump_stage_tf(capsys):
    prog = str(ROOT / "programs" / "logistic_regression.py")
    assert main([f"{prog}:main", "--args", "f32[5],f32[100,5],f32[100]", "--stage", "tf"]) == 0
    out = capsys.readouterr().out
    assert out == (ROOT / "expected" / "logistic_regression.tf.txt").read_text()
    assert "def main(w, X, y):" in out and "ppc_tf.dot_general" in out


def test_nuts_backend_argument_and_conflicts():
    model = ppc.condition(ppc.compile(RP.mvn_log_density, backend="jax"), x=np.zeros(3))  # any model object
    from ppc.ppl import on_backend
    moved = on_backend(model, "tf")
    assert moved.base.backend == "tf" and moved.observed == model.observed
    assert on_backend(moved, "tf") is moved
    with pytest.raises(ValueError, match="derived function"):
        on_backend(ppc.grad(log_lik), "tf")


def test_an_emission_tf_refuses_is_an_internal_error_naming_the_backend():
    from ppc.ir import REGISTRY
    prim = REGISTRY["sign"]
    saved, prim.tf = prim.tf, "tf.reshape({0}, [7, 7])"  # a broken rule: the wrong number of elements
    try:
        with pytest.raises(ppc.InternalError, match="internal error in pass 'tf backend'.*generated source"):
            ppc.compile(signs, backend="tf")(np.ones(3))
    finally:
        prim.tf = saved


def signs(x):
    return np.sign(x)
