"""ppc: a compiler for probabilistic programs written as plain Python."""
from .ad import grad, hessian, jvp, linear_transpose, linearize, value_and_grad, vjp
from .api import Compiled, LoopLimitError, compile
from .ir import CompileError, InternalError

__version__ = "0.1.0"
__all__ = ["compile", "Compiled", "CompileError", "InternalError", "LoopLimitError", "grad",
           "value_and_grad", "jvp", "vjp", "linearize", "linear_transpose", "hessian", "__version__"]
