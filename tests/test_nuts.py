"""ppc.infer.nuts recovers known posteriors: exact moments (100-d standard normal, a
correlated Gaussian) and NumPyro's NUTS on the same models (eight schools, logistic
regression), with R-hat < 1.01 and moments within Monte Carlo error. The correlated Gaussian
and eight schools run on TensorFlow too."""
import warnings

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ppc
import ppc.infer
from ppc.infer.common import dual_averaging
from ppc.infer.nuts import warmup_windows

import data.ppl_models as M
from data.bars import recorded_bars

SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])
Y8 = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])


def standard_normal_100():
    x = ppc.Normal(np.zeros(100), 1.0)
    return x


L_CORR = np.linalg.cholesky(np.array([[1.0, 0.95 * 3.0], [0.95 * 3.0, 9.0]]))  # sds 1 and 3, correlation 0.95


def correlated():
    z = ppc.MultivariateNormal(np.array([1.0, -2.0]), L_CORR)
    return z


def within_mc_error(s, name, value, k=4.0, slack=0.0):
    return abs(s.loc[name, "mean"] - value) < k * s.loc[name, "mcse_mean"] + slack


def test_standard_normal_100d_exact_moments():
    """Eight chains: with four, the largest of the 100 R-hats exceeded 1.01 on 4 of 16
    seeds (passing at one seed was partly luck); with eight, on none of 16 (at most 1.0088)."""
    idata = ppc.infer.nuts(standard_normal_100, chains=8, num_warmup=400, num_samples=600, progress=False)
    assert idata.posterior["x"].shape == (8, 600, 100)
    s = az.summary(idata)
    assert float(az.rhat(idata)["x"].max()) < 1.01
    z = (s["mean"] / s["mcse_mean"]).abs()
    assert (z < 4.5).all() and z.mean() < 1.3  # each mean within MC error of 0
    assert abs(s["sd"].mean() - 1.0) < 0.03
    st = idata.sample_stats
    for name in ("n_steps", "tree_depth", "diverging", "acceptance_rate", "step_size", "lp"):
        assert st[name].shape == (8, 600), name
    assert not bool(st["diverging"].any())
    assert 0.6 < float(st["acceptance_rate"].mean()) < 0.97
    assert (st["n_steps"] <= 2 ** st["tree_depth"]).all() and (st["n_steps"] >= 1).all()
    # the energy at each draw less its potential (-lp) is the kinetic energy of a momentum
    # drawn (near enough) from N(0, M): twice it is chi-square with 100 degrees of freedom
    kinetic2 = 2.0 * (st["energy"].values + st["lp"].values)
    assert abs(kinetic2.mean() - 100.0) < 2.0 and abs(kinetic2.std() - np.sqrt(200.0)) < 1.5
    assert st.attrs["bfmi"] == pytest.approx(list(az.bfmi(idata))) and min(st.attrs["bfmi"]) > 0.8


def test_correlated_gaussian_exact_moments(backend):
    """Eight chains: with four, this sampler's R-hat exceeded the 1.01 bar on 4 of 40 seeds
    (at either of XLA's LLVM optimization levels 1 and 2, whose rounding gives different
    trajectories), so passing at one seed was partly luck; with eight, on none of 28."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = ppc.infer.nuts(correlated, chains=8, num_warmup=500, num_samples=1000, progress=False,
                               backend=backend)
    assert not [w for w in caught if issubclass(w.category, ppc.infer.SamplerWarning)]  # a healthy run is quiet
    z = idata.posterior["z"].values.reshape(-1, 2)
    s = az.summary(idata)
    assert float(az.rhat(idata)["z"].max()) < 1.01
    attrs = idata.sample_stats.attrs  # the convergence check's record: ArviZ's worst values
    assert attrs["max_rhat"] == pytest.approx(float(az.rhat(idata)["z"].max()))
    assert attrs["min_ess_bulk"] == pytest.approx(float(az.ess(idata)["z"].min())) and attrs["min_ess_bulk"] > 400
    assert attrs["min_ess_tail"] == pytest.approx(float(az.ess(idata, method="tail")["z"].min()))
    assert within_mc_error(s, "z[0]", 1.0) and within_mc_error(s, "z[1]", -2.0)
    assert abs(np.corrcoef(z.T)[0, 1] - 0.95) < 0.02
    assert abs(z[:, 1].std() - 3.0) < 0.2


SHAPE_C = np.array([[1.0, 0.0], [0.6, 0.8]])  # the Cholesky factor of [[1, 0.6], [0.6, 1]]


def group_scales(y):
    """Three groups of 2-d observations, each group's covariance its own latent scale
    squared times one correlation: a batch of three scale_tril matrices, each a latent's."""
    sigma = ppc.HalfNormal(np.ones(3), name="sigma")
    L = sigma[:, None, None, None] * SHAPE_C  # (3, 1, 2, 2): shared by a group's n points
    y = ppc.MultivariateNormal(np.zeros(y.shape), L, name="y")
    return y


def test_latent_scale_trils_match_quadrature():
    """Each group's posterior of its scale is one-dimensional: its mean by quadrature on a
    grid, p(s | y) ∝ exp(-s²/2) s^(-2n) exp(-Q / 2s²), Q the data's Mahalanobis sum."""
    y = np.random.default_rng(11).normal(size=(3, 12, 2)) @ SHAPE_C.T * np.array([0.5, 1.0, 2.0])[:, None, None]
    idata = ppc.infer.nuts(ppc.condition(group_scales, y=y), y, chains=4, num_warmup=500, num_samples=1000,
                           progress=False)
    z = np.linalg.solve(SHAPE_C, y.reshape(-1, 2).T).T.reshape(3, 12, 2)
    q = (z ** 2).sum(axis=(1, 2))
    s = np.linspace(1e-3, 8.0, 200_001)[:, None]
    log_p = -0.5 * s ** 2 - 2 * 12 * np.log(s) - q / (2 * s ** 2)
    w = np.exp(log_p - log_p.max(axis=0))
    exact = (s * w).sum(axis=0) / w.sum(axis=0)
    summary = az.summary(idata, var_names=["sigma"])
    for g in range(3):
        assert within_mc_error(summary, f"sigma[{g}]", exact[g]), (g, summary.loc[f"sigma[{g}]"], exact[g])
    assert float(az.rhat(idata)["sigma"].max()) < 1.01


def numpyro_nuts(model, *args, seed=0, **kw):
    from numpyro.infer import MCMC, NUTS
    mcmc = MCMC(NUTS(model), num_warmup=1000, num_samples=1000, num_chains=4, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), *args, **kw)
    return az.from_numpyro(mcmc)


def close_to_numpyro(ours, theirs, names):
    a, b = az.summary(ours, var_names=names), az.summary(theirs, var_names=names)
    rhat = az.rhat(ours, var_names=names)
    assert max(float(rhat[n].max()) for n in names) < 1.01, a
    for name in a.index:
        err = np.hypot(a.loc[name, "mcse_mean"], b.loc[name, "mcse_mean"])
        assert abs(a.loc[name, "mean"] - b.loc[name, "mean"]) < 4.5 * err, (name, a.loc[name], b.loc[name])
        sd_err = np.hypot(a.loc[name, "mcse_sd"], b.loc[name, "mcse_sd"])
        assert abs(a.loc[name, "sd"] - b.loc[name, "sd"]) < 4.5 * sd_err + 0.02 * b.loc[name, "sd"], name


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_eight_schools_matches_numpyro(backend):
    model = ppc.condition(ppc.compile(M.eight_schools, backend=backend), y=Y8)
    ours = ppc.infer.nuts(model, SIGMA, chains=4, num_warmup=1000, num_samples=1000, target_accept=0.9,
                          progress=False)
    assert ours.sample_stats.attrs["backend"] == backend
    theirs = numpyro_nuts(M.eight_schools_numpyro, jnp.asarray(SIGMA), y=jnp.asarray(Y8))
    close_to_numpyro(ours, theirs, ["mu", "tau"])


def test_logistic_regression_matches_numpyro():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    y = (rng.uniform(size=300) < 1 / (1 + np.exp(-(X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.3)))).astype(float)
    ours = ppc.infer.nuts(ppc.condition(M.logistic, y=y), X, chains=4, num_warmup=500, num_samples=1000,
                          progress=False)
    theirs = numpyro_nuts(M.logistic_numpyro, jnp.asarray(X), y=jnp.asarray(y))
    close_to_numpyro(ours, theirs, ["w", "b"])
    attrs = ours.sample_stats.attrs
    assert 0 < attrs["batch_utilization"] <= 1 and 0.5 < attrs["leapfrog_utilization"] <= 1


def test_stan_warmup_windows():
    # Stan's schedule for 1000 warmup draws: slow windows 25, 50, 100, 200, then the rest (500)
    assert warmup_windows(1000) == [(75, False), (25, True), (50, True), (100, True), (200, True), (500, True),
                                    (50, False)]
    assert sum(n for n, _ in warmup_windows(1000)) == 1000
    for n in (0, 10, 60, 149, 150, 151, 500, 2000):
        assert sum(k for k, _ in warmup_windows(n)) == n


def test_progress_bar_and_fixed_step_size(capsys):
    idata = ppc.infer.nuts(correlated, chains=2, num_warmup=0, num_samples=30, step_size=0.3, progress=True)
    assert np.allclose(idata.sample_stats["step_size"], 0.3)
    assert "nuts" in capsys.readouterr().err


def test_more_chains_than_draws_raise_no_warning():
    """Chains outnumbering draws (1,024 chains of 200 draws, say) are laid out right: no
    warning from ArviZ's guess that the array was passed transposed."""
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = ppc.infer.nuts(correlated, chains=6, num_warmup=0, num_samples=2, step_size=0.3, progress=False,
                               save_warmup=True)
    assert idata.posterior["z"].shape == (6, 2, 2)
    assert not [w for w in caught if "chains" in str(w.message)]


def test_bad_arguments():
    with pytest.raises(ValueError, match="chains"):
        ppc.infer.nuts(correlated, chains=0)


def test_warmup_is_pooled_across_chains_unless_asked_not_to():
    """Pooled warmup gives every chain the step size and mass matrix learned from all of
    them (so their trajectories are alike and the batch stays full); per-chain warmup, as
    Stan's, gives each its own."""
    kw = dict(chains=6, num_warmup=150, num_samples=20, progress=False, seed=2)
    pooled = ppc.infer.nuts(correlated, **kw)
    alone = ppc.infer.nuts(correlated, adapt_across_chains=False, **kw)
    steps = pooled.sample_stats["step_size"].values
    assert np.allclose(steps, steps[0, 0])
    assert np.allclose(np.asarray(pooled.sample_stats.attrs["inv_mass"]), pooled.sample_stats.attrs["inv_mass"][0])
    assert np.ptp(alone.sample_stats["step_size"].values[:, 0]) > 1e-3
    assert np.ptp(np.asarray(alone.sample_stats.attrs["inv_mass"]), axis=0).max() > 1e-3


def test_pooled_warmup_is_one_controller_fed_the_mean_acceptance():
    """Replayed on the host: one dual-averaging controller, fed each draw's acceptance
    averaged over the chains, gives the step size every chain used at every warmup draw
    (windows restart it from the averaged step size)."""
    idata = ppc.infer.nuts(correlated, chains=5, num_warmup=60, num_samples=10, progress=False, seed=3,
                           save_warmup=True)
    assert idata.warmup_posterior["z"].shape == (5, 60, 2) and idata.posterior["z"].shape == (5, 10, 2)
    eps = idata.warmup_sample_stats["step_size"].values
    accept = idata.warmup_sample_stats["acceptance_rate"].values.mean(axis=0)
    assert np.allclose(eps, eps[:1], rtol=1e-12)  # one step size per draw, shared by the chains
    log_eps, k = np.log(0.1), 0
    for length, _ in warmup_windows(60):
        mu, t, h_bar, x_bar = log_eps + np.log(10.0), 0.0, 0.0, 0.0
        for _ in range(length):
            assert np.isclose(eps[0, k], np.exp(log_eps), rtol=1e-9), k
            t, h_bar, log_eps, x_bar = dual_averaging(t, h_bar, x_bar, mu, 0.8, accept[k])
            k += 1
        log_eps = x_bar
    assert np.allclose(idata.sample_stats["step_size"].values, np.exp(log_eps), rtol=1e-9)


def normal_3():
    x = ppc.Normal(np.zeros(3), 1.0)
    return x


def test_plain_functions_compile_once_and_wrappers_do_not_borrow_that():
    import functools
    from ppc.ad import as_compiled
    assert as_compiled(normal_3) is as_compiled(normal_3)

    @functools.wraps(normal_3)  # (copies normal_3's attributes, ppc's included)
    def wrapper():
        return normal_3()
    assert as_compiled(wrapper).__ppc_function__ is wrapper
    assert not hasattr(ppc.compile(normal_3), "__ppc_compiled__")


def test_second_run_on_the_same_model_reuses_its_compiled_sampler():
    """The sampler is compiled once per model and data types: a second run compiles
    nothing with XLA (the model conditioned afresh on data of the same names and types,
    or the same plain function), draws the same chains for the same seed, and samples the
    data it is given (new data of the same types, not the first run's)."""
    def model():  # (conditioned afresh each time, as a user writes it inline)
        return ppc.condition(M.logistic_in_dtype_of_x, y=Y_LR)
    kw = dict(chains=2, num_warmup=60, num_samples=60, progress=False, seed=4)
    first = ppc.infer.nuts(model(), X_LR, **kw)
    compiles = []

    def listen(event, secs, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(secs)
    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        again = ppc.infer.nuts(model(), X_LR, **kw)
        flipped = ppc.infer.nuts(model(), -X_LR, **kw)
        conditioned = len(compiles)
        short = dict(chains=2, num_warmup=0, num_samples=2, step_size=0.3, progress=False)
        ppc.infer.nuts(normal_3, **short)  # (a plain function: compiled on its first run only)
        plain_first = len(compiles) - conditioned
        ppc.infer.nuts(normal_3, **short)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert conditioned == 0
    assert plain_first > 0 and len(compiles) == conditioned + plain_first
    np.testing.assert_array_equal(again.posterior["w"].values, first.posterior["w"].values)
    w, w_flipped = first.posterior["w"].values.mean(axis=(0, 1)), flipped.posterior["w"].values.mean(axis=(0, 1))
    assert np.allclose(w_flipped, -w, atol=0.25) and np.abs(w).max() > 1.0


def funnel():
    v = ppc.Normal(0.0, 3.0, name="v")
    x = ppc.Normal(np.zeros(5), np.exp(v / 2), name="x")
    return x


def uniform_around():
    x = ppc.Normal(0.0, 3.0, name="x")
    y = ppc.Uniform(x, x + 10.0, name="y")  # observed at 0: the density is finite only for x in [-10, 0]
    return y


def test_divergences_and_low_bfmi_are_warned_about():
    """Neal's funnel, centered: divergences, and momentum resampling that cannot move the
    energy far enough to reach the neck (E-BFMI 0.10-0.36 at this seed; Stan warns below
    0.3). Measured at seeds 0-7 with the current key stream: 1, 3, 2, 2, 2, 4, 4, 4 chains
    below 0.3, so seed 1 exercises the several-chains message."""
    with pytest.warns(ppc.infer.SamplerWarning) as caught:
        idata = ppc.infer.nuts(funnel, chains=4, num_warmup=200, num_samples=200, progress=False,
                               seed=1)
    messages = [str(w.message) for w in caught]
    assert any("transitions after warmup diverged" in m for m in messages)
    assert idata.sample_stats["diverging"].values.any()
    bfmi = idata.sample_stats.attrs["bfmi"]
    low = sum(b < 0.3 for b in bfmi)
    assert bfmi == pytest.approx(list(az.bfmi(idata))) and low >= 2
    worst = int(np.argmin(bfmi))
    assert any(m.startswith(f"{low} of 4 chains have E-BFMI below 0.3 (chain {worst}: {bfmi[worst]:.2f})")
               for m in messages)


@pytest.mark.parametrize("model", ["funnel", "logistic"])
def test_paired_leaves_change_the_steps_not_the_draws(monkeypatch, model):
    """Ending the recursion at depth 1 (both steps of a depth-1 subtree in one block, the
    second masked where the first diverged or the depth is 0) gives the textbook sampler's
    draws and statistics, divergences included (the funnel), in fewer machine steps (to
    rounding: XLA fuses the two programs differently, and adaptation would amplify it, so
    the step size is fixed)."""
    nuts_module = __import__("ppc.infer.nuts", fromlist=["PAIRED_LEAF_WORK"])
    if model == "funnel":
        target, data, step = funnel, (), 1.5
    else:
        rng = np.random.default_rng(3)
        X = rng.normal(size=(50, 3))
        target, data, step = ppc.condition(M.logistic, y=(rng.uniform(size=50) < 0.5).astype(float)), (X,), 0.05
    runs = {}
    for paired in (False, True):
        monkeypatch.setattr(nuts_module, "PAIRED_LEAF_WORK", float("inf") if paired else 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runs[paired] = ppc.infer.nuts(target, *data, chains=4, num_warmup=0, num_samples=40, step_size=step,
                                          progress=False, diagnose=False)
        assert runs[paired].sample_stats.attrs["paired_leaves"] is paired
    plain, paired = runs[False], runs[True]
    for name in plain.posterior:
        np.testing.assert_allclose(paired.posterior[name].values, plain.posterior[name].values, rtol=1e-6, atol=1e-9)
    for stat in ("n_steps", "tree_depth", "diverging", "acceptance_rate"):
        np.testing.assert_allclose(paired.sample_stats[stat].values, plain.sample_stats[stat].values, rtol=1e-6, atol=1e-9)
    if model == "funnel":
        assert plain.sample_stats["diverging"].values.any()
    a, b = plain.sample_stats.attrs, paired.sample_stats.attrs
    assert a["useful_leapfrogs"] == b["useful_leapfrogs"] >= int(plain.sample_stats["n_steps"].values.sum())
    assert b["machine_steps"] < 0.8 * a["machine_steps"]
    assert 0.3 < b["leapfrog_utilization"] <= 1 and 0.3 < a["leapfrog_utilization"] <= 1


def test_chains_that_disagree_are_warned_about():
    """Two chains started far apart that cannot move (a tiny fixed step size) disagree:
    the warning names the variable and its R-hat, and a second names the low ESS."""
    init = {"z": np.array([[-5.0, -5.0], [5.0, 5.0]])}
    with pytest.warns(ppc.infer.SamplerWarning) as caught:
        idata = ppc.infer.nuts(correlated, chains=2, num_warmup=0, num_samples=20, step_size=1e-3, max_tree_depth=3,
                               init=init, progress=False)
    messages = [str(w.message) for w in caught]
    rhat = float(az.rhat(idata)["z"].max())
    assert rhat > 1.5 and idata.sample_stats.attrs["max_rhat"] == pytest.approx(rhat)
    assert any(m.startswith("nuts: the chains disagree: R-hat of 'z[") and f"{rhat:.4f}" in m for m in messages)
    assert any("effective sample size of 'z[" in m and "(below 200)" in m for m in messages)
    assert all(w.filename == __file__ for w in caught)  # (pointing at the caller)


def test_convergence_check_is_skippable_and_needs_two_chains_for_rhat():
    kw = dict(num_warmup=0, num_samples=20, step_size=1e-3, max_tree_depth=3, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = ppc.infer.nuts(correlated, chains=2, diagnose=False, **kw)
    assert not [w for w in caught if "R-hat" in str(w.message) or "effective" in str(w.message)]
    assert "max_rhat" not in idata.sample_stats.attrs
    with pytest.warns(ppc.infer.SamplerWarning, match="effective sample size of 'z\\[.*\\(below 100\\)"):
        one = ppc.infer.nuts(correlated, chains=1, **kw)  # one chain: ESS only
    assert "max_rhat" not in one.sample_stats.attrs and one.sample_stats.attrs["min_ess_bulk"] < 100


def test_progress_bar_shows_phase_step_size_and_divergences(monkeypatch):
    bars = recorded_bars(monkeypatch, "ppc.infer.nuts")
    ppc.infer.nuts(correlated, chains=2, num_warmup=10, num_samples=10, progress=True)
    (bar,) = bars
    assert bar.desc == "nuts" and bar.n == 20 and len(bar.shown) == 10 + 1  # (warmup: a call a draw)
    assert bar.shown[0].startswith("warmup, step size ") and bar.shown[-1].startswith("sampling, step size ")
    assert all(text.endswith(" divergent") for text in bar.shown)


def test_observed_data_lands_in_inference_data():
    idata = ppc.infer.nuts(ppc.condition(M.logistic_in_dtype_of_x, y=Y_LR), X_LR, chains=2, num_warmup=20,
                           num_samples=20, progress=False)
    np.testing.assert_array_equal(idata.observed_data["y"].values, Y_LR)


@pytest.mark.filterwarnings("ignore:.*diverged")  # (the density's walls at x = -10 and 0)
def test_chains_start_where_the_density_is_finite():
    """Uniform(-2, 2) starting points where the density is -inf are redrawn (as Stan
    does): half of them would start outside x <= 0 here."""
    idata = ppc.infer.nuts(ppc.condition(uniform_around, y=np.array(0.0)), chains=8, num_warmup=100,
                           num_samples=100, progress=False, seed=1)
    x = idata.posterior["x"].values
    assert np.isfinite(x).all() and (x <= 0.0).all() and (x >= -10.0).all()
    assert np.isfinite(idata.sample_stats["lp"].values).all()


@pytest.mark.filterwarnings("ignore:.*max_tree_depth")
def test_init_sets_each_chains_starting_point():
    """With a tiny fixed step size and no warmup the first draw stays by the start: one
    value for every chain, or one per chain along a leading axis."""
    kw = dict(chains=3, num_warmup=0, num_samples=1, step_size=1e-4, max_tree_depth=2, progress=False)
    shared = ppc.infer.nuts(correlated, init={"z": np.array([5.0, 5.0])}, **kw)
    assert np.allclose(shared.posterior["z"].values[:, 0], [5.0, 5.0], atol=1e-2)
    starts = np.array([[0.0, 1.0], [2.0, -3.0], [-1.0, 4.0]])
    per_chain = ppc.infer.nuts(correlated, init={"z": starts}, **kw)
    assert np.allclose(per_chain.posterior["z"].values[:, 0], starts, atol=1e-2)
    schools = ppc.condition(M.eight_schools, y=Y8)
    start = {"mu": 1.0, "tau": 2.0, "theta_tilde": np.linspace(-1.0, 1.0, 8)}
    hmc = ppc.infer.hmc(schools, SIGMA, chains=2, num_warmup=0, num_samples=1, step_size=1e-4, num_leapfrog=1,
                        progress=False, init=start)
    for name, value in start.items():
        assert np.allclose(hmc.posterior[name].values[:, 0], value, atol=1e-2), name
    with pytest.raises(ValueError, match=r"init\['tau'\] lies outside the variable's support"):
        ppc.infer.hmc(schools, SIGMA, chains=2, num_warmup=0, num_samples=1, progress=False,
                      init={**start, "tau": -1.0})


def test_init_errors_name_the_variable():
    model = ppc.condition(uniform_around, y=np.array(0.0))
    kw = dict(chains=2, num_warmup=0, num_samples=1, progress=False)
    with pytest.raises(ValueError, match="'w', which is not a latent"):
        ppc.infer.nuts(model, init={"x": -1.0, "w": 0.0}, **kw)
    with pytest.raises(ValueError, match="'x' has none"):
        ppc.infer.nuts(model, init={}, **kw)
    with pytest.raises(ValueError, match=r"init\['x'\] has shape \(3,\)"):
        ppc.infer.nuts(model, init={"x": np.zeros(3)}, **kw)
    with pytest.raises(ValueError, match=r"outside the bounds of its Uniform .*: 0.0, where low = 1.0, high = 11.0 "
                       r"at chain 1's init values; the bounds depend on latent values"):
        ppc.infer.nuts(model, init={"x": np.array([-1.0, 1.0])}, **kw)  # (one value per chain)
    with pytest.raises(ValueError, match="not finite at chain 1's starting values"):
        ppc.infer.nuts(walled, init={"x": np.array([1.0, 3.0])}, **kw)


def walled():
    x = ppc.Normal(0.0, 1.0, name="x")
    ppc.factor(np.where(x > 2.0, -np.inf, 0.0), name="wall")
    return x


LOGISTIC32_RNG = np.random.default_rng(5)
X_LR = LOGISTIC32_RNG.normal(size=(200, 3))
Y_LR = (LOGISTIC32_RNG.uniform(size=200) < 1 / (1 + np.exp(-(X_LR @ np.array([1.0, -1.5, 0.5]))))).astype(float)
LR_KW = dict(chains=4, num_warmup=300, num_samples=600, progress=False)


@pytest.fixture(scope="module")
def logistic_float64():
    return ppc.infer.nuts(ppc.condition(M.logistic_in_dtype_of_x, y=Y_LR), X_LR, seed=1, **LR_KW)


@pytest.mark.parametrize("backend", ["jax", "tf"])
def test_float32_model_samples_in_float32(backend, logistic_float64):
    """A float32 model (NumPyro's default precision) runs the whole sampler in float32
    (the chains' state, the step size and the draws) and samples the posterior the same
    model gives in float64."""
    model = ppc.condition(ppc.compile(M.logistic_in_dtype_of_x, backend=backend),
                          y=Y_LR.astype(np.float32))
    ours32 = ppc.infer.nuts(model, X_LR.astype(np.float32), **LR_KW)
    assert ours32.sample_stats.attrs["backend"] == backend
    assert ours32.posterior["w"].dtype == np.float32 and ours32.sample_stats["lp"].dtype == np.float32
    assert logistic_float64.posterior["w"].dtype == np.float64
    close_to_numpyro(ours32, logistic_float64, ["w"])  # (two ppc runs: the float64 one is the reference here)
