"""Inference recovers known posteriors: a conjugate normal (exact) and eight schools
(published reference values), with HMC and ADVI; both return arviz.InferenceData. The
conjugate normal runs on both backends."""
import warnings

import arviz as az
import numpy as np
import pytest

import ppc
import ppc.infer

import data.ppl_models as M
from data.bars import recorded_bars

Y = np.array([1.2, 0.4, 2.2, 1.5, 0.9])
PREC = 1 / 4 + len(Y)
EXACT_MEAN, EXACT_SD = Y.sum() / PREC, PREC ** -0.5
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y8 = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def conjugate():
    return ppc.condition(M.conjugate_normal, y=Y)


def test_hmc_progress_bar_shows_phase_step_size_and_acceptance(monkeypatch):
    bars = recorded_bars(monkeypatch, "ppc.infer.hmc")
    ppc.infer.hmc(conjugate(), np.ones(len(Y)), num_warmup=20, num_samples=20, chunk=10)
    (bar,) = bars
    assert bar.desc == "hmc" and bar.n == 40 and len(bar.shown) == 4
    assert [text.split(",")[0] for text in bar.shown] == ["warmup", "warmup", "sampling", "sampling"]
    assert all(", step size " in text and ", acceptance " in text for text in bar.shown)


def test_hmc_conjugate_normal(backend):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = ppc.infer.hmc(conjugate(), np.ones(len(Y)), num_warmup=300, num_samples=1000, progress=False,
                              backend=backend)
    assert not [w for w in caught if issubclass(w.category, ppc.infer.SamplerWarning)]
    assert idata.sample_stats.attrs["max_rhat"] == pytest.approx(float(az.rhat(idata)["mu"]))
    assert idata.posterior["mu"].shape == (4, 1000)
    for stat in ("acceptance_rate", "step_size", "lp", "n_steps"):
        assert stat in idata.sample_stats
    s = az.summary(idata)
    assert s.loc["mu", "r_hat"] < 1.01
    assert abs(s.loc["mu", "mean"] - EXACT_MEAN) < 4 * s.loc["mu", "mcse_mean"]
    assert abs(s.loc["mu", "sd"] - EXACT_SD) < 4 * s.loc["mu", "mcse_sd"] + 0.01
    assert 0.6 < float(idata.sample_stats["acceptance_rate"].mean()) < 0.99


@pytest.mark.parametrize("num_warmup,num_samples,chunk", [(30, 100, 50), (5, 5, 50), (0, 7, 3), (12, 1, 5)])
def test_hmc_fixed_step_size_returns_every_draw(num_warmup, num_samples, chunk):
    """With a fixed step size, the chunk that straddles the end of warmup is split there,
    as when adapting: every sampling draw comes back and no warmup draw does."""
    idata = ppc.infer.hmc(conjugate(), np.ones(len(Y)), num_warmup=num_warmup, num_samples=num_samples,
                          chunk=chunk, step_size=0.3, chains=2, progress=False, diagnose=False)
    assert idata.posterior["mu"].shape == (2, num_samples)
    assert np.all(idata.sample_stats["step_size"].values <= 0.3 * 1.3 + 1e-12)


def test_hmc_warns_of_too_few_effective_draws():
    """Chains that barely move (a tiny fixed step size) leave a handful of effective draws."""
    with pytest.warns(ppc.infer.SamplerWarning, match="hmc: (bulk|tail) effective sample size of 'mu' is .* "
                      "\\(below 400\\)"):
        idata = ppc.infer.hmc(conjugate(), np.ones(len(Y)), num_warmup=0, num_samples=40, step_size=1e-3,
                              progress=False)
    assert idata.sample_stats.attrs["min_ess_bulk"] < 400


def test_advi_conjugate_normal(backend):
    idata = ppc.infer.advi(conjugate(), np.ones(len(Y)), num_steps=1500, progress=False, backend=backend)
    mean, sd = idata.posterior.attrs["advi_mean"][0], idata.posterior.attrs["advi_sd"][0]
    assert abs(mean - EXACT_MEAN) < 0.25 * EXACT_SD  # stochastic optimisation: within a quarter sd
    assert abs(sd - EXACT_SD) < 0.15 * EXACT_SD
    assert idata.posterior["mu"].shape == (1, 1000)


@pytest.mark.parametrize("method", ["hmc", "advi"])
def test_eight_schools_against_published_values(method):
    """Non-centered eight schools; reference posterior (Stan, PyMC): mu 4.4 +- 3.3,
    tau 3.6 +- 3.2."""
    model = ppc.condition(M.eight_schools, y=Y8)
    if method == "hmc":
        idata = ppc.infer.hmc(model, SIGMA, num_warmup=1000, num_samples=2000, progress=False)
        s = az.summary(idata, var_names=["mu", "tau"])
        assert (s["r_hat"] < 1.01).all()
        assert abs(s.loc["mu", "mean"] - 4.4) < 4 * s.loc["mu", "mcse_mean"] + 0.05
        assert abs(s.loc["tau", "mean"] - 3.6) < 4 * s.loc["tau", "mcse_mean"] + 0.05
        assert abs(s.loc["mu", "sd"] - 3.3) < 0.3
    else:  # mean-field ADVI is biased for tau (a funnel); it still finds mu
        idata = ppc.infer.advi(model, SIGMA, num_steps=2000, progress=False)
        assert abs(float(idata.posterior["mu"].mean()) - 4.4) < 1.5
        assert idata.posterior["theta_tilde"].shape == (1, 1000, 8)


@pytest.mark.parametrize("method, setting, value, expect", [
    ("nuts", "chains", 0, "an integer >= 1"),
    ("nuts", "chains", 4.0, "an integer >= 1"),
    ("nuts", "num_warmup", -1, "an integer >= 0"),
    ("nuts", "max_tree_depth", 0, "an integer >= 1"),
    ("nuts", "chunk", 0, "an integer >= 1"),
    ("nuts", "target_accept", 1.5, "a number between 0 and 1"),
    ("nuts", "step_size", -1.0, "None or a positive number"),
    ("nuts", "step_size", float("nan"), "None or a positive number"),
    ("hmc", "num_leapfrog", 0, "an integer >= 1"),
    ("hmc", "jitter", 1.0, r"a number in \[0, 1\)"),
    ("hmc", "num_samples", 0, "an integer >= 1"),
    ("advi", "learning_rate", 0.0, "a positive number"),
    ("advi", "num_draws", 0, "an integer >= 1"),
])
def test_settings_out_of_range_are_refused_by_name(method, setting, value, expect):
    """Before anything compiles: without the check these failed inside the compiled
    sampler (chunk=0), raised a bare math domain error (a negative step size), or sampled
    silently (target_accept=1.5, trees of no leapfrog steps at max_tree_depth=0)."""
    with pytest.raises(ValueError, match=f"^{method}: {setting} must be {expect}, got "):
        getattr(ppc.infer, method)(conjugate(), np.ones(len(Y)), progress=False, **{setting: value})


def two_latents():
    lam = ppc.Gamma(2.0, 1.0, name="lam")
    p = ppc.Beta(2.0, 2.0, name="p")
    return ppc.Normal(lam * p, 1.0, name="y")


def test_unconstrained_checks_its_inputs():
    """theta of another length was sliced (extra entries ignored, too few a JAX error), and
    to_unconstrained turned values outside a support into NaN and ignored unknown names."""
    u = ppc.unconstrained(ppc.condition(two_latents, y=np.array(0.5)))
    assert u.size == 2
    for theta in (np.zeros(3), np.zeros(1), 0.0):
        with pytest.raises(ValueError, match=r"theta has shape .*; the model's unconstrained vector has shape "
                                             r"\(2,\): lam takes 1, p takes 1"):
            u.log_density(theta)
        with pytest.raises(ValueError, match="theta has shape"):
            u.to_constrained(theta)
    with pytest.raises(ValueError, match=r"the value of 'lam' lies outside the support of Gamma \(positive\)"):
        u.to_unconstrained({"lam": -1.0, "p": 0.5})
    with pytest.raises(ValueError, match=r"the value of 'p' lies outside the support of Beta \(unit_interval\)"):
        u.to_unconstrained({"lam": 1.0, "p": 1.5})
    with pytest.raises(ValueError, match="'typo' is not a latent random variable of the model"):
        u.to_unconstrained({"lam": 1.0, "p": 0.5, "typo": 3.0})
    with pytest.raises(ValueError, match=r"the value of 'lam' has shape \(3,\); the variable's is \(\)"):
        u.to_unconstrained({"lam": np.ones(3), "p": 0.5})
    theta = u.to_unconstrained({"lam": 1.5, "p": 0.25})
    assert u.to_constrained(theta)["p"] == pytest.approx(0.25, rel=1e-12)
