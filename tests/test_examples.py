"""Every example runs, end to end."""
import pathlib
import runpy
import sys

import numpy as np

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def test_logistic_regression_metropolis(capsys, monkeypatch, backend):
    monkeypatch.setattr(sys, "argv", ["logistic_regression.py", "--draws", "3000"])
    ns = runpy.run_path(str(EXAMPLES / "logistic_regression.py"))
    mean, sd, true_w = ns["main"](["--draws", "3000", "--backend", backend])
    out = capsys.readouterr().out
    assert "compiled result equals the NumPy run" in out and f"ppc ({backend})" in out
    # the posterior concentrates near the weights that generated the data
    assert np.all(np.abs(mean - true_w) < 4 * sd + 0.1)


def _run(name, argv):
    ns = runpy.run_path(str(EXAMPLES / f"{name}.py"))
    return ns["main"](argv)


def test_hmc_by_hand_example(capsys, backend):
    # the script itself checks two batched chains against NumPy running the same function
    kept, acceptance = _run("hmc_by_hand", ["--chains", "32", "--draws", "120", "--backend", backend])
    assert "the batched draws equal eager NumPy's" in capsys.readouterr().out
    assert 0.6 < acceptance <= 1.0
    # the data were drawn with weights (1, -2, 0.5)
    assert np.all(np.abs(kept.mean(0) - [1.0, -2.0, 0.5]) < 4 * kept.std(0) + 0.1)


def test_eight_schools_example(capsys):
    summaries = _run("eight_schools", ["--chains", "16", "--warmup", "500", "--samples", "1000", "--quiet"])
    for method, summary in summaries.items():  # NUTS and HMC
        assert (summary["r_hat"] < 1.02).all(), method
        assert abs(summary.loc["mu", "mean"] - 4.4) < 0.6 and abs(summary.loc["tau", "mean"] - 3.6) < 0.8, method
    assert "NUTS, 16 chains" in capsys.readouterr().out


def test_breast_cancer_example():
    idata, accuracy = _run("breast_cancer", ["--warmup", "300", "--samples", "300", "--quiet"])
    assert accuracy > 0.95
    assert idata.posterior["w"].shape == (4, 300, 30)


def test_hierarchical_example():
    idata, truth = _run("hierarchical_rates", ["--warmup", "300", "--samples", "500", "--quiet"])
    est = idata.posterior["population"].values.reshape(-1, 3)
    assert np.all(np.abs(est.mean(0) - truth["population"]) < 4 * est.std(0) + 0.02)
    assert float(idata.posterior["concentration"].min()) > 0


def test_nuts_benchmark_strategies_runs():
    """The benchmark's strategy comparison, at its smallest: it runs (it broke once when
    autobatch's shared-tuple convention changed, with no test to notice) and the two
    batching strategies draw the same trajectories, which the script itself checks."""
    import subprocess
    script = EXAMPLES.parent / "benchmarks" / "nuts.py"
    out = subprocess.run([sys.executable, str(script), "--strategies", "--chains", "4", "--warmup", "10",
                          "--samples", "10", "--datasets", "breast_cancer"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "breast cancer N=569 D=30        4" in out.stdout


def test_samplers_benchmark_runs():
    """The hand-written-sampler benchmark at its smallest: it runs, and every system's
    draws agree with jax.vmap's (the script checks, and exits non-zero if not)."""
    import subprocess
    script = EXAMPLES.parent / "benchmarks" / "samplers.py"
    out = subprocess.run([sys.executable, str(script), "--chains", "3", "--draws", "10", "--repeats", "1"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "every system's draws equal jax.vmap's" in out.stdout and "ppc local static" in out.stdout
