"""Every golden program computes, compiled on each backend, what it computes run eagerly by NumPy."""
import numpy as np
import pytest

import ppc

from programs import PROGRAMS, assert_tree_close, load, random_args


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", PROGRAMS)
def test_matches_eager(name, seed, backend):
    mod = load(name)
    args = random_args(mod, seed)
    eager_args = args
    if getattr(mod, "REFERENCE", "numpy") == "jax":
        import jax.numpy as jnp
        eager_args = [jnp.asarray(a) for a in args]
    want = mod.main(*eager_args)
    got = ppc.compile(mod.main, backend=backend)(*args)
    has_f32 = any(getattr(a, "dtype", None) == np.float32 for a in args)
    assert_tree_close(got, want, rtol=1e-5 if has_f32 else None, check_dtype=True)
