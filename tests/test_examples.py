"""Every example runs, end to end."""
import pathlib
import runpy
import sys

import numpy as np

EXAMPLES = pathlib.Path(__file__).parent.parent / "examples"


def test_logistic_regression_metropolis(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["logistic_regression.py", "--draws", "3000"])
    ns = runpy.run_path(str(EXAMPLES / "logistic_regression.py"))
    mean, sd, true_w = ns["main"](["--draws", "3000"])
    out = capsys.readouterr().out
    assert "compiled result equals the NumPy run" in out
    # the posterior concentrates near the weights that generated the data
    assert np.all(np.abs(mean - true_w) < 4 * sd + 0.1)
