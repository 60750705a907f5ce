"""examples/bnn_digits_svi.py: synchronous data-parallel SVI. One partitioned step equals
the unpartitioned step, its gradient is all-reduced, and a short run learns the digits."""
import os
import sys

import jax
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))

import bnn_digits_svi as bnn  # noqa: E402

pytestmark = pytest.mark.skipif(len(jax.devices()) < 8, reason="needs 8 (emulated) devices")


@pytest.fixture(scope="module")
def setup():
    return bnn.load_digits(0), bnn.build(8)


def test_partitioned_step_equals_the_step(setup):
    data, (step, parallel) = setup
    rng = np.random.default_rng(3)
    state = bnn.init_state(3)
    rows = rng.choice(data[0].shape[0], 64, replace=False)
    args = state + [rng.normal(size=bnn.P), data[0][rows], data[1][rows], data[0].shape[0] / 64, 0.01]
    # in float64, so that only the order of the partial sums differs
    args = [np.asarray(a, np.float64) for a in args]
    for got, want in zip(parallel(*args), step(*args)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-12)
    module = parallel.ir(*args)
    assert module.entry.params[8].type.shape == (8, bnn.D)  # 64 rows over 8 devices
    assert bnn.count(module, "all_reduce") >= 1 and bnn.count(module, "all_gather") == 0


def test_the_example_learns_the_digits(capsys):
    acc = bnn.main(["--steps", "300", "--quiet"])
    out = capsys.readouterr().out
    assert acc > 0.9, out
    assert "over 8 devices (32 rows each)" in out and "all_reduce ops per step" in out
