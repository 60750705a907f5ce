import os

import pytest

os.environ.setdefault("PPC_VERIFY", "1")  # verify the IR after every pass


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/expected from the current compiler output")


BACKENDS = ("jax", "tf")


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Tests taking `backend` run on both backends (`-k tf` selects the TensorFlow runs)."""
    return request.param
