"""ppc-dump: each stage prints; bad invocations get a usage error, not a traceback."""
import subprocess
import sys

import pytest

from ppc.cli import main

from programs import ROOT

PROG = str(ROOT / "programs" / "logistic_regression.py")
ARGS = "f32[5],f32[100,5],f32[100]"


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


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "ppc.cli", f"{PROG}:main", "--args", ARGS, "--stage", "ir"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("func @main(")
