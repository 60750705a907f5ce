"""IR -> IR passes, registered by name (`ppc-dump --passes a,b`)."""
from . import canonicalize as _canonicalize  # noqa: F401  (registers the pass)
from .canonicalize import clone_module
from .manager import PASSES, get_pass, register_pass, run_passes, verify_after

__all__ = ["PASSES", "get_pass", "register_pass", "run_passes", "verify_after", "clone_module"]
