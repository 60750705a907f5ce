"""ppc: a compiler for probabilistic programs written as plain Python."""
from .api import Compiled, compile
from .ir import CompileError, InternalError

__version__ = "0.1.0"
__all__ = ["compile", "Compiled", "CompileError", "InternalError", "__version__"]
