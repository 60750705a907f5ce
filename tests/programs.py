"""Loading the golden programs and making inputs for them."""
from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

from ppc.cli import example_argument
from ppc.ir.types import split_top_level

ROOT = pathlib.Path(__file__).parent / "golden"
PROGRAMS = sorted(p.stem for p in (ROOT / "programs").glob("*.py"))


def load(name: str):
    """A golden program by name (`models/x` for the models directory)."""
    path = ROOT / (name + ".py" if "/" in name else f"programs/{name}.py")
    spec = importlib.util.spec_from_file_location(f"golden_{name.replace('/', '_')}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def example_args(mod):
    return [example_argument(s) for s in split_top_level(mod.ARGS)]


def random_args(mod, seed=0):
    rng = np.random.default_rng(seed)
    if hasattr(mod, "inputs"):
        return list(mod.inputs(rng))
    out = []
    for a in example_args(mod):
        if isinstance(a, np.ndarray):
            if a.dtype.kind == "f":
                out.append(rng.normal(size=a.shape).astype(a.dtype))
            elif a.dtype.kind in "iu":
                out.append(rng.integers(0, 4, size=a.shape).astype(a.dtype))
            else:
                out.append(rng.uniform(size=a.shape) < 0.5)
        else:
            out.append(type(a)(rng.normal()) if isinstance(a, float) else type(a)(rng.integers(0, 4)))
    return out


def assert_tree_close(got, want, rtol=None, path="result", check_dtype=False):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), f"{path}: structure differs"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_tree_close(g, w, rtol, f"{path}[{i}]", check_dtype)
        return
    g, w = np.asarray(got), np.asarray(want)
    assert g.shape == w.shape, f"{path}: shape {g.shape} != {w.shape}"
    if check_dtype:
        assert g.dtype == w.dtype, f"{path}: dtype {g.dtype} != {w.dtype}"
    if rtol is None:
        rtol = 1e-5 if (g.dtype == np.float32 or w.dtype == np.float32) else 1e-10
    if g.dtype.kind in "fc" or w.dtype.kind in "fc":
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=rtol,
                                   err_msg=path)
    else:
        np.testing.assert_array_equal(g, w, err_msg=path)
