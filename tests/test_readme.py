"""The README's self-contained examples run as written: the first one (Using it) whole,
the partitioning one with arrays of the shapes its text describes."""
import pathlib
import re
import runpy

import numpy as np

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def run(block: str, tmp_path, **given) -> dict:
    """The block run as a module (ppc reads compiled functions' source from their file)."""
    path = tmp_path / "readme_example.py"
    path.write_text(block)
    return runpy.run_path(str(path), init_globals=given)


def test_using_it_example_runs(tmp_path):
    env = run(python_blocks()[0], tmp_path)
    w, X, y = env["w"], env["X"], env["y"]
    logits = X @ w
    want = np.sum(y * logits - np.logaddexp(0.0, logits)) - 0.5 * np.sum(w * w)
    np.testing.assert_allclose(env["log_joint"](w, X, y), want, rtol=1e-6)
    np.testing.assert_allclose(env["lj_tf"](w, X, y), want, rtol=1e-6)


def test_partitioning_example_runs(tmp_path):
    (block,) = [b for b in python_blocks() if "from ppc.partition import" in b]
    rng = np.random.default_rng(0)
    env = run(block, tmp_path, np=np, ppc=__import__("ppc"), w1=rng.normal(size=(16, 8)),
              w2=rng.normal(size=(8, 4)), x=rng.normal(size=(32, 16)), y=rng.normal(size=(32, 4)))
    got = env["step"](env["w1"], env["w2"], env["x"], env["y"])
    want = env["train_step"](env["w1"], env["w2"], env["x"], env["y"])  # (run by NumPy: ppc.grad inside)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-10)


def test_factor_mixture_example_runs(tmp_path):
    """The mixture's posterior finds the components the data were drawn from, and the
    sampler has nothing to warn about."""
    import warnings
    import ppc
    import ppc.infer
    (block,) = [b for b in python_blocks() if "ppc.factor(" in b]
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.normal(-2.0, 1.0, 300), rng.normal(3.0, 1.0, 200)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ppc.infer.SamplerWarning)
        env = run(block, tmp_path, np=np, ppc=ppc, y=y)
    post = env["idata"].posterior
    assert abs(float(post["low"].mean()) - y[:300].mean()) < 0.2
    assert abs(float((post["low"] + post["gap"]).mean()) - y[300:].mean()) < 0.2
    assert abs(float(post["w"].mean()) - 0.6) < 0.05
