"""Models as compiler input: log_joint against NumPyro's log_density (values and
gradients), sample, condition, unconstrained (transforms and log-Jacobians), and the
errors for badly named random variables."""
import re

import jax
import numpy as np
import pytest
from numpyro.infer.util import log_density

import ppc

import data.ppl_models as M
import data.rv_models as R

SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y8 = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
rng = np.random.default_rng(0)
X = rng.normal(size=(40, 3))
YB = (rng.uniform(size=40) < 0.5).astype(np.int64)
GROUP = np.zeros(6)
TOTALS = rng.uniform(1.0, 3.0, size=6)
COUNTS = rng.integers(0, 6, size=6)
Y_MIX = np.concatenate([rng.normal(-2.0, 1.0, 30), rng.normal(3.0, 1.0, 20)])
LABELLED = rng.normal(-2.0, 1.0, 5)

CASES = [
    ("eight_schools", M.eight_schools, M.eight_schools_numpyro, (SIGMA,), {"y": Y8},
     {"mu": 1.3, "tau": 2.5, "theta_tilde": rng.normal(size=8)}),
    ("logistic", M.logistic, M.logistic_numpyro, (X,), {"y": YB}, {"w": rng.normal(size=3), "b": 0.7}),
    ("hierarchical", M.hierarchical, M.hierarchical_numpyro, (GROUP, TOTALS), {"counts": COUNTS},
     {"weights": np.array([0.2, 0.5, 0.3]), "scale": 0.8, "rates": np.array([0.5, 1.5, 2.0])}),
    ("mixture_factor", M.mixture, M.mixture_numpyro, (Y_MIX, np.ones(5)), {"labelled": LABELLED},
     {"w": 0.6, "mu": np.array([-1.5, 2.5]), "sigma": 1.3}),
]


@pytest.mark.parametrize("name,model,reference,args,observed,latent", CASES, ids=[c[0] for c in CASES])
def test_log_joint_matches_numpyro(name, model, reference, args, observed, latent, backend):
    got = ppc.log_joint(ppc.condition(ppc.compile(model, backend=backend), **observed))(*args, **latent)
    want, _ = log_density(reference, args, observed, latent)
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("name,model,reference,args,observed,latent", CASES, ids=[c[0] for c in CASES])
def test_log_joint_gradient_matches_numpyro(name, model, reference, args, observed, latent, backend):
    """Central differences of the log joint (every variable a parameter) against
    jax.grad of NumPyro's log density."""
    names = list(latent)
    lj = ppc.log_joint(ppc.condition(ppc.compile(model, backend=backend), **observed))

    def ours(*values):
        return lj(*args, **dict(zip(names, values)))
    vals = [np.asarray(latent[n], dtype=float) for n in names]
    ref = jax.grad(lambda *v: log_density(reference, args, observed, dict(zip(names, v)))[0],
                   argnums=tuple(range(len(names))))(*vals)
    eps = 1e-6
    for i, (v, r) in enumerate(zip(vals, ref)):
        fd = np.zeros_like(v)
        for j in range(v.size):
            e = np.zeros_like(v)
            e.flat[j] = eps
            up, down = list(vals), list(vals)
            up[i], down[i] = v + e, v - e
            fd.flat[j] = (ours(*up) - ours(*down)) / (2 * eps)
        np.testing.assert_allclose(fd, np.asarray(r), rtol=1e-5, atol=1e-6)


def test_grad_of_unconstrained_density_matches_numpyro(backend):
    u = ppc.unconstrained(ppc.condition(ppc.compile(M.eight_schools, backend=backend), y=Y8), SIGMA)
    theta = rng.normal(size=u.size)
    got = ppc.grad(u.log_density_fn)(theta, *u.args)
    from numpyro.infer.util import potential_energy
    # NumPyro orders latent sites alphabetically in its flat vector: mu, tau, theta_tilde (as ours here)
    params = {"mu": theta[0], "tau": theta[1], "theta_tilde": theta[2:]}
    want = jax.grad(lambda p: -potential_energy(M.eight_schools_numpyro, (SIGMA,), {"y": Y8}, p))(params)
    np.testing.assert_allclose(got, np.concatenate([[want["mu"]], [want["tau"]], want["theta_tilde"]]), rtol=1e-9)


def test_unconstrained_transforms_and_jacobians():
    """The density of theta is the constrained density plus log|det J|, and the maps
    between theta and constrained values invert each other."""
    u = ppc.unconstrained(ppc.condition(M.hierarchical, counts=COUNTS), GROUP, TOTALS)
    assert u.names == ["weights", "scale", "rates"] and u.size == 2 + 1 + 3
    theta = rng.normal(size=u.size)
    values = u.to_constrained(theta)
    w = np.asarray(values["weights"])
    assert np.isclose(w.sum(), 1.0) and np.all(w > 0) and float(values["scale"]) > 0
    np.testing.assert_allclose(u.to_unconstrained(values), theta, rtol=1e-9, atol=1e-12)
    lj = ppc.log_joint(ppc.condition(M.hierarchical, counts=COUNTS))(GROUP, TOTALS, **values)

    def to_flat_constrained(t):  # weights[:2], scale, rates: a bijection of R^6
        v = u.to_constrained(t)
        return np.concatenate([np.asarray(v["weights"])[:2], [float(v["scale"])], np.asarray(v["rates"])])
    eps = 1e-6
    J = np.stack([(to_flat_constrained(theta + eps * e) - to_flat_constrained(theta - eps * e)) / (2 * eps)
                  for e in np.eye(u.size)], axis=1)
    np.testing.assert_allclose(u.log_density(theta), lj + np.linalg.slogdet(J)[1], rtol=1e-7)


def test_sample_draws_every_latent():
    draws = ppc.sample(M.eight_schools, jax.random.key(0), SIGMA)
    assert set(draws) == {"mu", "tau", "theta_tilde", "y"}
    assert draws["theta_tilde"].shape == (8,) and float(draws["tau"]) > 0
    cond = ppc.sample(ppc.condition(M.eight_schools, y=Y8), jax.random.key(0), SIGMA)
    assert set(cond) == {"mu", "tau", "theta_tilde"}
    again = ppc.sample(M.eight_schools, jax.random.key(0), SIGMA)
    np.testing.assert_array_equal(draws["theta_tilde"], again["theta_tilde"])  # keys are explicit


def test_names_come_from_assignments_and_name_argument():
    draws = ppc.sample(R.named, jax.random.key(0), 0.0)
    assert set(draws) == {"alpha", "b"}


@pytest.mark.parametrize("model,message", [
    (R.duplicate, "two random variables are named 'z'"),
    (R.unnamed, "this random variable has no name"),
    (R.in_branch, "random variables inside an `if` or loop"),
])
def test_random_variable_errors(model, message):
    with pytest.raises(ppc.CompileError, match=message) as info:
        ppc.log_joint(model)(np.zeros(2), alpha=0.0)
    assert info.value.loc is not None and info.value.loc.file.endswith("rv_models.py")


def test_factor_joins_the_densities_and_leaves_draws_alone():
    """ppc.factor's term (summed) is the whole difference between the unconstrained
    densities with and without it; ppc.sample's draws ignore it; run eagerly it does nothing."""
    ones = np.ones(5)
    with_factor = ppc.unconstrained(ppc.condition(M.mixture, labelled=LABELLED), Y_MIX, ones)
    without = ppc.unconstrained(ppc.condition(M.mixture_without_factor, labelled=LABELLED), Y_MIX, ones)
    from scipy.stats import norm
    for _ in range(3):
        theta = rng.normal(size=with_factor.size)
        v = with_factor.to_constrained(theta)
        w, mu, sigma = float(v["w"]), np.asarray(v["mu"]), float(v["sigma"])
        term = np.log(w * norm.pdf(Y_MIX, mu[0], sigma) + (1 - w) * norm.pdf(Y_MIX, mu[1], sigma)).sum()
        assert float(with_factor.log_density(theta)) - float(without.log_density(theta)) == pytest.approx(term, rel=1e-9)
    key = jax.random.key(3)
    drawn, plain = ppc.sample(M.mixture, key, Y_MIX, ones), ppc.sample(M.mixture_without_factor, key, Y_MIX, ones)
    assert set(drawn) == {"w", "mu", "sigma", "labelled"}
    for name in drawn:
        np.testing.assert_array_equal(drawn[name], plain[name])
    assert np.shape(M.mixture(Y_MIX, ones)) == (5,)  # eagerly: a draw of `labelled`


def test_factor_prints_and_parses_back():
    from ppc.ir import parse, print_module, verify
    ir = ppc.compile(M.mixture).specialize(Y_MIX, np.ones(5)).ir
    text = print_module(ir)
    assert '  factor %' in text and '{name="unlabelled"}' in text
    module = parse(text)
    verify(module)
    assert print_module(module) == text


@pytest.mark.parametrize("model,message,hint", [
    (R.factor_in_branch, "ppc.factor inside an `if` or loop on traced values is not supported", "np.where"),
    (R.factor_of_integers, "ppc.factor needs a floating-point log density, got i64", "1.0 * x"),
    (R.only_a_factor, "'only_a_factor' is a model (its factor 'penalty' is here)", "ppc.log_joint(only_a_factor)"),
])
def test_factor_errors_point_at_the_line(model, message, hint):
    import pathlib
    call = ppc.compile(model) if model is R.only_a_factor else ppc.log_joint(model)
    with pytest.raises(ppc.CompileError, match=re.escape(message)) as info:
        call(np.ones(3)) if model is R.only_a_factor else call(np.ones(3), mu=0.0)
    err = info.value
    assert hint in err.hint and err.loc.file == R.__file__
    assert pathlib.Path(R.__file__).read_text().splitlines()[err.loc.line - 1].rstrip().endswith("# ERR")


def test_log_joint_value_errors():
    lj = ppc.log_joint(M.eight_schools)
    with pytest.raises(TypeError, match="needs a value for random variable 'y'"):
        lj(SIGMA, mu=0.0, tau=1.0, theta_tilde=np.zeros(8))
    with pytest.raises(TypeError, match="'nu', which is not a latent random variable"):
        lj(SIGMA, mu=0.0, tau=1.0, theta_tilde=np.zeros(8), y=Y8, nu=1.0)


def test_log_joint_checks_value_shapes_and_takes_lists():
    lj = ppc.log_joint(M.eight_schools)
    with pytest.raises(ValueError, match=re.escape("shape (2, 8) for random variable 'theta_tilde', whose "
                                                   "shape is (8,)")):
        lj(SIGMA, mu=0.0, tau=1.0, theta_tilde=np.zeros((2, 8)), y=Y8)
    with pytest.raises(ValueError, match=re.escape("shape (2,) for random variable 'mu', whose shape is ()")):
        lj(SIGMA, mu=np.zeros(2), tau=1.0, theta_tilde=np.zeros(8), y=Y8)
    assert float(lj(SIGMA, mu=0.0, tau=1.0, theta_tilde=[0.0] * 8, y=list(Y8))) == pytest.approx(
        float(lj(SIGMA, mu=0.0, tau=1.0, theta_tilde=np.zeros(8), y=Y8)))
    batched = jax.vmap(lambda mu: lj(SIGMA, mu=mu, tau=1.0, theta_tilde=np.zeros(8), y=Y8))(np.array([0.0, 1.0]))
    assert batched.shape == (2,)
    assert float(batched[1]) == pytest.approx(float(lj(SIGMA, mu=1.0, tau=1.0, theta_tilde=np.zeros(8), y=Y8)))


def test_sample_takes_typed_and_legacy_keys_alike():
    typed = ppc.sample(M.eight_schools, jax.random.key(3), SIGMA)
    legacy = ppc.sample(M.eight_schools, jax.random.PRNGKey(3), SIGMA)
    assert typed.keys() == legacy.keys()
    for name in typed:
        np.testing.assert_array_equal(np.asarray(typed[name]), np.asarray(legacy[name]))
    with pytest.raises(TypeError, match=r"expected a PRNG key \(jax.random.key\(seed\)\), got int"):
        ppc.sample(M.eight_schools, 3, SIGMA)


def test_sample_compiles_once_per_model_and_argument_types():
    """Drawing in a loop compiles nothing after the first call (each call compiled afresh
    before: ~0.25 s a draw of a small model), and new argument types get their own program."""
    compiles = []

    def listen(event, secs, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(secs)
    first = ppc.sample(M.eight_schools, jax.random.key(0), SIGMA)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        draws = [ppc.sample(M.eight_schools, jax.random.key(i), SIGMA) for i in range(1, 4)]
        repeated = len(compiles)
        ppc.sample(M.eight_schools, jax.random.key(0), SIGMA.astype(np.float32))
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert repeated == 0 and len(compiles) > 0
    assert draws[0].keys() == first.keys()
    assert not np.array_equal(np.asarray(draws[0]["mu"]), np.asarray(first["mu"]))


def test_factor_names_are_unique_among_model_sites():
    def clash_with_rv():
        z = ppc.Normal(0.0, 1.0)
        ppc.factor(-z * z, name="z")
        return z

    def clash_with_factor():
        z = ppc.Normal(0.0, 1.0)
        ppc.factor(-z * z, name="pen")
        ppc.factor(-z * z, name="pen")
        return z

    def unnamed_twice():
        z = ppc.Normal(0.0, 1.0)
        ppc.factor(-z * z)
        ppc.factor(-z * z)
        return z
    with pytest.raises(ppc.CompileError, match="this factor and a random variable are both named 'z'"):
        ppc.log_joint(clash_with_rv)(z=0.5)
    def numpyro_order():
        z = ppc.Normal(0.0, 1.0)
        ppc.factor("pen", -z * z)
        return z
    with pytest.raises(ppc.CompileError, match="takes the log density first") as info:
        ppc.log_joint(numpyro_order)(z=0.5)
    assert "ppc.factor(log_prob, name='pen')" in info.value.hint
    with pytest.raises(ppc.CompileError, match="this factor and another factor are both named 'pen'"):
        ppc.log_joint(clash_with_factor)(z=0.5)
    assert float(ppc.log_joint(unnamed_twice)(z=0.5)) == pytest.approx(
        -0.5 * 0.25 - 0.5 * np.log(2 * np.pi) - 2 * 0.25)


def _gaussian_likelihood(y, mu):  # no `return`: called for its factor alone
    ppc.factor(-0.5 * np.sum((y - mu) ** 2), name="lik")


def test_factor_in_a_helper_without_return():
    def with_helper(y):
        mu = ppc.Normal(0.0, 1.0)
        _gaussian_likelihood(y, mu)
        return mu

    def inlined(y):
        mu = ppc.Normal(0.0, 1.0)
        ppc.factor(-0.5 * np.sum((y - mu) ** 2), name="lik")
        return mu

    def helper_value_is_none(y):
        mu = ppc.Normal(0.0, 1.0)
        r = _gaussian_likelihood(y, mu)
        assert r is None
        return mu
    y = np.array([1.0, 2.0, 0.5])
    want = float(ppc.log_joint(inlined)(y, mu=0.3))
    assert want == pytest.approx(-0.5 * 0.09 - 0.5 * np.log(2 * np.pi) - 0.5 * np.sum((y - 0.3) ** 2))
    assert float(ppc.log_joint(with_helper)(y, mu=0.3)) == pytest.approx(want, rel=1e-12)
    assert float(ppc.log_joint(helper_value_is_none)(y, mu=0.3)) == pytest.approx(want, rel=1e-12)
    a, b = ppc.unconstrained(with_helper, y), ppc.unconstrained(inlined, y)
    theta = np.array([0.7])
    assert float(a.log_density(theta)) == pytest.approx(float(b.log_density(theta)), rel=1e-12)


def test_condition_errors():
    with pytest.raises(ppc.CompileError, match="no random variable of that name"):
        ppc.log_joint(ppc.condition(M.eight_schools, nope=1.0))(SIGMA, mu=0.0)


def test_discrete_latent_is_refused_for_unconstrained():
    with pytest.raises(ppc.CompileError, match="discrete"):
        ppc.unconstrained(M.logistic, X)


def test_to_unconstrained_with_interval_bounds_from_other_latents():
    u = ppc.unconstrained(R.interval_model, np.zeros(3))
    theta = rng.normal(size=u.size)
    values = u.to_constrained(theta)
    assert float(values["lo"]) < float(values["x"]) < float(values["lo"]) + 2.0
    np.testing.assert_allclose(u.to_unconstrained(values), theta, rtol=1e-9, atol=1e-12)


def counts32(rate_scale):
    r = ppc.Gamma(np.float32(2.0), np.float32(1.0))
    k = ppc.Poisson(r * rate_scale)
    n = ppc.Binomial(np.full(3, 5, np.int64), 1.0 / (1.0 + r))  # an integer count keeps float32 probs
    return k, n


def test_float32_model_keeps_float32_with_integer_observations():
    """Integer (or float 0/1) observations do not widen a float32 model's density to
    float64, and the density equals the float64 model's to float32 precision."""
    X32, y32 = X.astype(np.float32), YB.astype(np.float32)  # 0/1 labels given as floats
    u = ppc.unconstrained(ppc.condition(M.logistic_in_dtype_of_x, y=y32), X32)
    theta = rng.normal(size=3).astype(np.float32)
    lp = u.log_density(theta)
    assert u.dtype == np.float32 and lp.dtype == np.float32
    u64 = ppc.unconstrained(ppc.condition(M.logistic_in_dtype_of_x, y=YB), X)
    lp64 = u64.log_density(theta.astype(np.float64))
    assert np.isclose(lp, lp64, rtol=1e-5)
    v, g = ppc.value_and_grad(u.log_density_fn)(theta, *u.args)
    assert v.dtype == g.dtype == np.float32
    c = ppc.unconstrained(ppc.condition(counts32, k=np.array([1, 4, 2]), n=np.array([0, 3, 5])),
                          np.full(3, 1.5, np.float32))
    assert c.dtype == np.float32 and c.log_density(np.array([0.3], np.float32)).dtype == np.float32


def mixed_precision(X):
    w = ppc.Normal(np.zeros(X.shape[1], np.float32), 1.0)
    b = ppc.Normal(0.0, 10.0)  # Python floats: a float64 latent
    y = ppc.Bernoulli(logits=X @ w + b)
    return y


def test_theta_takes_the_widest_latent_dtype():
    u = ppc.unconstrained(ppc.condition(mixed_precision, y=YB), X.astype(np.float32))
    assert u.dtype == np.float64
    theta = np.array([0.1, -0.2, 0.3, 0.123456789012])
    assert u.to_constrained(theta)["b"] == theta[-1]  # not rounded through float32


def test_observed_data_of_the_wrong_shape_is_a_clear_error():
    with pytest.raises(ppc.CompileError, match="the data for 'y' has shape \\(39,\\), but the random variable "
                                               "has shape \\(40,\\)"):
        ppc.unconstrained(ppc.condition(M.logistic_in_dtype_of_x, y=YB[:39]), X)


def test_calling_a_density_built_for_float32_with_float64_is_a_clear_error():
    u = ppc.unconstrained(ppc.condition(M.logistic_in_dtype_of_x, y=YB), X.astype(np.float32))
    lp = u.log_density_fn

    @ppc.compile
    def twice(theta, X, y):
        return 2.0 * lp(theta, X, y)
    with pytest.raises(ppc.CompileError, match="log_density_logistic_in_dtype_of_x_conditioned takes theta as "
                                               "f32\\[3\\], got f64\\[3\\]"):
        twice(np.zeros(3), *u.args)
    assert np.isclose(twice(np.zeros(3, np.float32), *u.args), 2.0 * u.log_density(np.zeros(3, np.float32)))


def test_conditioning_alike_shares_one_program_and_otherwise_not():
    """ppc.condition on data of the same names, shapes and dtypes gives one program (one
    compile cache); other names, shapes or dtypes give others, and each conditioned model
    evaluates its own data."""
    y = np.array([1.2, 0.4, 2.2, 1.5, 0.9])
    a, b = ppc.condition(M.conjugate_normal, y=y), ppc.condition(M.conjugate_normal, y=y + 1.0)
    assert a._program is b._program
    assert ppc.condition(M.conjugate_normal, y=y[:4])._program is not a._program
    assert ppc.condition(M.conjugate_normal, y=y.astype(np.float32))._program is not a._program
    ones = np.ones(len(y))
    la, lb = ppc.log_joint(a)(ones, mu=0.5), ppc.log_joint(b)(ones, mu=0.5)
    normal = lambda x, m, s: -0.5 * ((x - m) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)  # noqa: E731
    assert np.isclose(float(la) - float(lb), normal(y, 0.5, 1.0).sum() - normal(y + 1.0, 0.5, 1.0).sum())
