"""Edge cases of random variables and inference found by testing as a demanding user:
each test pins a bug that once gave a silent wrong answer or refused a valid model."""
import jax
import numpy as np
import pytest

import data.rv_models as R
import ppc
import ppc.infer


def simplex_and_scale():
    p = ppc.Dirichlet(np.ones(3))
    s = ppc.HalfNormal(1.0)
    return p


def test_a_value_off_the_simplex_is_outside_the_support_not_renormalized():
    """The stick-breaking inverse reads only the first K-1 entries, so [.2, .3, .1] once
    became [.2, .3, .5] without a word, in to_unconstrained and in init=."""
    u = ppc.unconstrained(simplex_and_scale)
    good = u.to_unconstrained({"p": np.array([0.2, 0.3, 0.5]), "s": 1.0})
    np.testing.assert_allclose(u.to_constrained(good)["p"], [0.2, 0.3, 0.5], rtol=1e-12)
    with pytest.raises(ValueError, match="'p' lies outside the support of Dirichlet"):
        u.to_unconstrained({"p": np.array([0.2, 0.3, 0.1]), "s": 1.0})
    with pytest.raises(ValueError, match=r"init\['p'\] lies outside"):
        ppc.infer.hmc(simplex_and_scale, init={"p": np.array([0.2, 0.3, 0.1]), "s": 1.0}, num_warmup=0,
                      num_samples=1, chains=1, progress=False, diagnose=False)


def sized(n, y):
    mu = ppc.Normal(np.zeros(n), 1.0)
    y = ppc.Normal(mu, 1.0)
    return y


def test_a_model_with_static_arguments_runs_through_every_transformation():
    """A static size (static_argnums) once met a key or theta in its position (sample,
    unconstrained) or travelled into compiled samplers as an array (hmc, advi, nuts)."""
    model = ppc.compile(sized, static_argnums=(0,))
    y = np.array([1.0, 2.0, 3.0])
    draws = ppc.sample(model, jax.random.key(0), 3, y)
    assert draws["mu"].shape == (3,) and draws["y"].shape == (3,)
    assert ppc.sample(model, jax.random.key(0), 2, y[:2])["mu"].shape == (2,)
    conditioned = ppc.condition(model, y=y)
    u = ppc.unconstrained(conditioned, 3, y)
    theta = np.array([0.1, 0.2, 0.3])
    want = float(ppc.log_joint(conditioned)(3, y, mu=theta))
    assert float(u.log_density(theta)) == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(ppc.grad(u.log_density_fn)(theta, *u.args), y - 2 * theta, rtol=1e-12)
    kw = dict(num_samples=5, progress=False)
    assert ppc.infer.hmc(conditioned, 3, y, num_warmup=5, chains=2, diagnose=False, **kw).posterior.mu.shape == (2, 5, 3)
    assert ppc.infer.advi(conditioned, 3, y, num_steps=5, **kw).posterior.mu.shape == (1, 5, 3)


def exponential(rate):
    x = ppc.Exponential(rate)
    return x


def test_exponential_at_minus_infinity_is_minus_infinity_not_nan():
    lj = ppc.log_joint(exponential)
    assert float(lj(2.0, x=-np.inf)) == -np.inf
    assert float(lj(2.0, x=-1.0)) == -np.inf
    assert float(lj(2.0, x=0.5)) == pytest.approx(np.log(2.0) - 1.0, rel=1e-12)


def test_observed_data_of_no_ir_dtype_names_the_variable():
    for data in (np.array(1j), np.array(None), np.array("a")):
        with pytest.raises(TypeError, match="the data for 'x' has dtype"):
            ppc.condition(exponential, x=data)


def named_like_dimensions():
    w = ppc.Normal(np.zeros(2), 1.0)
    w_dim_0 = ppc.Normal(0.0, 1.0)
    return w


def named_draw():
    draw = ppc.Normal(0.0, 1.0)
    return draw


@pytest.mark.parametrize("model,name", [(named_like_dimensions, "w_dim_0"), (named_draw, "draw")])
def test_a_latent_named_as_an_inference_data_dimension_is_refused_before_sampling(model, name):
    """ArviZ took such a latent for a coordinate and dropped it: the posterior lost the
    variable (or the whole group) without a word."""
    kw = dict(num_samples=2, progress=False)
    with pytest.raises(ValueError, match=f"'{name}' has the name of a dimension"):
        ppc.infer.hmc(model, num_warmup=0, chains=1, diagnose=False, **kw)
    with pytest.raises(ValueError, match=f"'{name}' has the name of a dimension"):
        ppc.infer.advi(model, num_steps=1, **kw)


def normal_defaults():
    x = ppc.Normal()
    y = ppc.Normal(x)
    return y


def test_normal_takes_numpyros_defaults_and_bad_calls_read_plainly():
    lj = ppc.log_joint(normal_defaults)
    want = -0.5 * 0.25 - 0.5 * 0.0625 - np.log(2 * np.pi)
    assert float(lj(x=0.5, y=0.25)) == pytest.approx(want, rel=1e-12)
    with pytest.raises(TypeError, match=r"bad call to ppc.Gamma: missing 1 required positional argument: "
                                        r"'concentration'$"):
        ppc.Gamma()
    with pytest.raises(TypeError, match=r"^bad call to ppc.Bernoulli: got an unexpected keyword argument 'p'$"):
        ppc.Bernoulli(p=0.3)


def returns_nothing(x):
    mu = ppc.Normal(0.0, 1.0)
    ppc.Normal(mu + 0.0 * x, 1.0, name="y")


def test_a_model_may_return_nothing_as_numpyros_do():
    """Once refused ("the compiled function returns nothing"); its sites are what counts.
    A plain function returning nothing is still an error."""
    from scipy import stats
    x = np.array([0.5, 1.0, 1.5])
    got = ppc.log_joint(returns_nothing)(x, mu=0.3, y=x)
    want = stats.norm.logpdf(0.3) + stats.norm.logpdf(x, 0.3).sum()
    np.testing.assert_allclose(got, want, rtol=1e-12)
    draws = ppc.sample(returns_nothing, jax.random.key(0), x)
    assert set(draws) == {"mu", "y"} and np.shape(draws["y"]) == (3,)
    u = ppc.unconstrained(ppc.condition(returns_nothing, y=x), x)
    np.testing.assert_allclose(u.log_density(np.array([0.3])), want, rtol=1e-12)

    def nothing(x):
        y = x + 1.0  # noqa: F841
    with pytest.raises(ppc.CompileError, match="returns nothing"):
        ppc.compile(nothing)(x)


def test_beta_and_dirichlet_draws_with_tiny_concentrations_are_finite_and_right():
    """Both gamma draws of a float32 Beta(0.05, 0.05) underflowed to 0 about 0.03% of the
    time: 0 / 0 = NaN. Draws now come from log-gamma draws; their distribution is
    NumPy's (two-sample KS), in float64 where NumPy's draws are exact enough to compare."""
    from scipy import stats
    n = 100_000
    p32 = np.asarray(ppc.sample(R.beta, jax.random.key(0), np.full(n, 0.05, np.float32), np.float32(0.05))["x"])
    assert p32.dtype == np.float32 and np.isfinite(p32).all()
    d32 = np.asarray(ppc.sample(R.dirichlet, jax.random.key(1), np.full((n // 4, 3), 0.05, np.float32))["x"])
    assert np.isfinite(d32).all() and np.allclose(d32.sum(-1), 1.0, atol=1e-5)
    rng = np.random.default_rng(0)
    for a, b in ((0.05, 0.05), (3.0, 0.2)):
        p = np.asarray(ppc.sample(R.beta, jax.random.key(2), np.full(n, a), b)["x"])
        assert stats.ks_2samp(p, rng.beta(a, b, n)).pvalue > 1e-3
    c = np.array([0.05, 0.5, 2.0])
    d = np.asarray(ppc.sample(R.dirichlet, jax.random.key(3), np.tile(c, (n, 1)))["x"])
    want = rng.dirichlet(c, n)
    assert min(stats.ks_2samp(d[:, i], want[:, i]).pvalue for i in range(3)) > 1e-3
