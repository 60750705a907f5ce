import os

import pytest

os.environ.setdefault("PPC_VERIFY", "1")  # verify the IR after every pass
os.environ.setdefault("PPC_CACHE_DIR", "")  # compile afresh (test_compile_cache.py tests the cache)
# Eight emulated CPU devices for the partitioning tests (set before jax is imported);
# everything else runs on the first, as it would with one.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/expected from the current compiler output")


BACKENDS = ("jax", "tf")


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Tests taking `backend` run on both backends (`-k tf` selects the TensorFlow runs)."""
    return request.param
