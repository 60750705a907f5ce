"""Every golden program computes, compiled on each backend, what it computes run eagerly by
NumPy, at two random inputs (one compiled function serves both: they share a signature)."""
import numpy as np
import pytest

import ppc

from programs import PROGRAMS, assert_tree_close, load, random_args


@pytest.mark.parametrize("name", PROGRAMS)
def test_matches_eager(name, backend):
    mod = load(name)
    compiled = ppc.compile(mod.main, backend=backend)
    for seed in (0, 1):
        args = random_args(mod, seed)
        eager_args = args
        if getattr(mod, "REFERENCE", "numpy") == "jax":
            import jax.numpy as jnp
            eager_args = [jnp.asarray(a) for a in args]
        want = mod.main(*eager_args)
        got = compiled(*args)
        has_f32 = any(getattr(a, "dtype", None) == np.float32 for a in args)
        assert_tree_close(got, want, rtol=1e-5 if has_f32 else None, path=f"seed {seed}: result",
                          check_dtype=True)
