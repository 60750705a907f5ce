"""ppc-dump: each stage prints; bad invocations get a usage error, not a traceback."""
import subprocess
import sys

import pytest

from ppc.cli import main

from programs import ROOT

PROG = str(ROOT / "programs" / "logistic_regression.py")
ARGS = "f32[5],f32[100,5],f32[100]"
PART = [f"{PROG}:main", "--args", ARGS, "--stage", "partitioned", "--mesh", "batch=4", "--tactic", "tile:X:0:batch"]


@pytest.mark.parametrize("stage,expect", [
    ("ir", "func @main(%w: f32[5], %X: f32[100,5], %y: f32[100]) -> (f32[])"),
    ("canonical", "%logits = dot_general %X, %w"),
    ("jax", "def main(w, X, y):"),
])
def test_stages(stage, expect, capsys):
    assert main([f"{PROG}:main", "--args", ARGS, "--stage", stage]) == 0
    assert expect in capsys.readouterr().out


def test_partitioned_stage(capsys):
    argv = [f"{PROG}:main", "--args", ARGS, "--stage", "partitioned", "--grad", "0", "--mesh", "batch=4",
            "--tactic", "tile:X:0:batch", "--tactic", "tile:y:0:batch"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "%X: f32[25,5]" in out and out.count("all_reduce %") == 1
    assert "collectives: all_reduce 20 B" in out
    # a tactic naming no input is a compile error: message, exit code 1
    assert main(argv[:-4] + ["--tactic", "tile:Z:0:batch"]) == 1
    assert "no input named 'Z'" in capsys.readouterr().err


def test_passes_option(capsys):
    assert main([f"{PROG}:main", "--args", ARGS, "--passes", "canonicalize"]) == 0
    assert "%logits = dot_general" in capsys.readouterr().out


def test_matches_golden(capsys):
    main([f"{PROG}:main", "--args", ARGS, "--stage", "canonical"])
    assert capsys.readouterr().out == (ROOT / "expected" / "logistic_regression.canonical.txt").read_text()


@pytest.mark.parametrize("argv,message", [
    (["nofile.py:main"], "no such file"),
    ([f"{PROG}"], "expected FILE.py:FUNCTION"),
    ([f"{PROG}:nope"], "defines no function 'nope'"),
    ([f"{PROG}:main", "--args", "f32[5],q32[3]"], "--args: not a type: 'q32[3]'"),
    ([f"{PROG}:main", "--args", ARGS, "--stage", "bogus"], "invalid choice: 'bogus'"),
    ([f"{PROG}:main", "--args", ARGS, "--stage", "partitioned", "--mesh", "batch"], "expected AXIS=SIZE"),
    ([f"{PROG}:main", "--args", ARGS, "--stage", "partitioned", "--mesh", "b=2", "--tactic", "tile:X:0"],
     "expected tile:NAME:DIM:AXIS or replicate:NAME"),
    ([f"{PROG}:main", "--args", ARGS, "--mesh", "b=2"], "go with --stage partitioned"),
    ([f"{PROG}:main", "--args", ARGS, "--passes", "nope"], "unknown pass 'nope'"),
    # a gradient argnum out of range, or of a static argument (before: a ValueError traceback from ppc/ad.py)
    (PART + ["--grad", "7"], "--grad 7 is out of range: --args gives 3 argument(s)"),
    (PART + ["--grad", "-1"], "--grad -1 is out of range"),
    ([f"{PROG}:main", "--args", "f32[5],int", "--static", "1", "--stage", "partitioned", "--mesh", "b=2",
      "--grad", "1"], "cannot differentiate with respect to static argument 1"),
    # a static argument given an array type (before: a TypeError traceback), or out of range (before: ignored)
    ([f"{PROG}:main", "--args", ARGS, "--static", "0"], "--static 0: a static argument is a Python scalar"),
    ([f"{PROG}:main", "--args", ARGS, "--static", "5"], "--static 5 is out of range"),
    ([f"{PROG}:main", "--args", ARGS, "--static", "x"], "--static takes comma-separated integers"),
    # a repeated mesh axis (before: the last size won, silently)
    ([f"{PROG}:main", "--args", ARGS, "--stage", "partitioned", "--mesh", "batch=4,batch=2"],
     "mesh axis 'batch' is given twice"),
    ([f"{PROG}:main", "--args", ARGS, "--observe", "y"], "--observe goes with the model stages"),
])
def test_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_compile_error_exit_code(capsys):
    # the right number of arguments but the wrong shapes: a compile error, reported cleanly
    assert main([f"{PROG}:main", "--args", "f32[4],f32[100,5],f32[100]"]) == 1
    err = capsys.readouterr().err
    assert "logistic_regression.py:" in err and "do not align" in err and "Traceback" not in err


@pytest.mark.parametrize("source,message", [
    ("def f(x):\n    return x +\n", "bad.py:2: syntax error"),
    ("import numpy as np\nimport no_such_module_xyz\n", "bad.py:2: importing it raised ModuleNotFoundError"),
    ("def f(x):\n    return x / 0\n\nf(1)\n", "bad.py:2: importing it raised ZeroDivisionError: division by zero"),
])
def test_target_that_does_not_import(source, message, tmp_path, capsys):
    # a syntax error or an exception in the target file: one line naming the file and line, no traceback
    (tmp_path / "bad.py").write_text(source)
    with pytest.raises(SystemExit) as e:
        main([f"{tmp_path / 'bad.py'}:f", "--args", "f32[3]"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


MODEL = """import ppc

def model(sigma):
    mu = ppc.Normal(0.0, 5.0)
    tau = ppc.HalfCauchy(5.0)
    y = ppc.Normal(mu + tau, sigma)
    return y
"""


@pytest.mark.parametrize("stage", ["jvp", "linear", "transpose", "grad", "batched", "pc", "jax", "partitioned"])
def test_model_refused_outside_model_stages(stage, tmp_path, capsys):
    # as the Python API does: an error at the model's first random variable naming the model
    # transformations (before: "no jvp/batch rule" at the last one, or for pc a machine and exit code 0)
    (tmp_path / "m.py").write_text(MODEL)
    extra = ["--mesh", "b=2"] if stage == "partitioned" else []
    assert main([f"{tmp_path / 'm.py'}:model", "--args", "float", "--stage", stage, *extra]) == 1
    err = capsys.readouterr().err
    assert "m.py:4:" in err and "'model' is a model (its random variable 'mu' is here)" in err
    assert "ppc.sample(model" in err and "ppc.log_joint(model)" in err and "ppc.infer" in err


@pytest.mark.parametrize("stage,expect", [("ir", "func @model("), ("canonical", "func @model("),
                                          ("log_joint", "func @"), ("sample", "func @")])
def test_model_stages_take_a_model(stage, expect, tmp_path, capsys):
    (tmp_path / "m.py").write_text(MODEL)
    assert main([f"{tmp_path / 'm.py'}:model", "--args", "float", "--stage", stage]) == 0
    assert expect in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "ppc.cli", f"{PROG}:main", "--args", ARGS, "--stage", "ir"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("func @main(")
