"""ppc: a compiler for probabilistic programs written as plain Python."""
from .backends import jax as _jax_backend  # noqa: F401  (turns on 64-bit types at import, not at first use)
from .ad import grad, hessian, jvp, linear_transpose, linearize, value_and_grad, vjp
from .api import Compiled, LoopLimitError, MachineStats, StackOverflowError, compile
from .autobatch import autobatch
from .distributions import (Bernoulli, Beta, Binomial, Categorical, Cauchy, Dirichlet, Exponential, Gamma,
                            HalfCauchy, HalfNormal, InverseGamma, Laplace, LogNormal, MultivariateNormal,
                            NegativeBinomial2, Normal, Poisson, StudentT, Uniform)
from .ir import CompileError, InternalError
from .ppl import condition, factor, log_joint, sample, unconstrained
from . import infer, partition  # (ppc.infer.nuts works after a plain `import ppc`, as the README writes it)

__version__ = "0.1.0"
__all__ = ["compile", "autobatch", "Compiled", "CompileError", "InternalError", "LoopLimitError", "StackOverflowError", "MachineStats", "grad",
           "value_and_grad", "jvp", "vjp", "linearize", "linear_transpose", "hessian", "log_joint", "sample",
           "condition", "factor", "unconstrained", "Normal", "HalfNormal", "HalfCauchy", "LogNormal", "Exponential", "Gamma", "Beta",
           "StudentT", "Cauchy", "Uniform", "Laplace", "InverseGamma", "Bernoulli", "Binomial", "Poisson", "NegativeBinomial2", "Categorical", "Dirichlet",
           "MultivariateNormal", "__version__"]
