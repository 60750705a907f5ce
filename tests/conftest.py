import os

os.environ.setdefault("PPC_VERIFY", "1")  # verify the IR after every pass


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/expected from the current compiler output")
