"""scipy.stats and jax.scipy.stats in compiled code: log densities, densities and (for the
location-scale families with closed forms) distribution functions, with scipy's and JAX's
signatures (shape parameters, then `loc`, `scale`; positional or by keyword) and NumPy
broadcasting.

Each density comes from the one place it is written: the log densities of ppc's random
variables in ppc/distributions.py (normal_log_prob, gamma_log_prob, ...), which ppc lowers
like any module-level function called from compiled code; scipy's parameters are mapped
onto them (expon's scale is 1 / rate, gamma's x - loc, beta's (x - loc) / scale, ...). The
few that have no random variable (logistic, the distribution functions) are
written below, in the same compilable Python. So derivatives, both batching strategies,
partitioning and both backends follow from the primitives, and off its support a log
density is -inf, as scipy's.

Results are floating point: scipy.stats' are float64 (as scipy computes them), those of
jax.scipy.stats the float arguments' dtype (float32 stays float32).
"""
from __future__ import annotations

import inspect
import math

import numpy as np
from jax.scipy.special import erfc, expit

from ..ir.types import is_float
from .arrays import DEFAULT
from .numpy_api import _register_unary, register
from .values import Dyn

_register_unary("erfc", ["sps.erfc", "jss.erfc", "jax.lax.erfc", "math.erfc"], math.erfc)

_LIB = {"jst": "jax.scipy.stats", "sst": "scipy.stats"}
LOG_2PI = math.log(2 * math.pi)
SQRT1_2 = math.sqrt(0.5)


# ----------------------------------------------------------------- formulas with no random variable
# (module-level Python in ppc's subset: ppc reads their source; z is standardized, (x - loc) / scale)

def logistic_log_prob(z):
    a = np.abs(z)  # (-z - 2 log(1 + e^-z), even in z: never exp of a large number)
    return -a - 2.0 * np.log1p(np.exp(-a))


def ndtr(z):
    """The standard normal distribution function; erfc keeps the lower tail's relative accuracy."""
    return 0.5 * erfc(-z * SQRT1_2)


def log_ndtr(z):
    """log ndtr(z), accurate in both tails (scipy's log_ndtr): log1p(-ndtr(-z)) above 0,
    log(ndtr(z)) down to -20 (float32: -10), and below it the asymptotic series (erfc
    underflows at -37; float32's at -13). Each branch is evaluated at a point where it is
    finite (a NaN in a discarded branch would still reach the gradient)."""
    low = -20.0 if z.dtype == np.float64 else -10.0
    far = z < low
    zf = np.where(far, z, low)
    zn = np.where(far, low, z)
    r = 1.0 / (zf * zf)
    series = r * (-1.0 + r * (3.0 + r * (-15.0 + r * (105.0 + r * (-945.0 + r * 10395.0)))))
    tail = -0.5 * zf * zf - np.log(-zf) - 0.5 * LOG_2PI + np.log1p(series)
    up = zn > 0.0
    zu = np.where(up, zn, 0.0)
    near = np.where(up, np.log1p(-0.5 * erfc(zu * SQRT1_2)), np.log(0.5 * erfc(-zn * SQRT1_2)))
    return np.where(far, tail, near)


def expon_cdf(z):
    return np.where(z > 0.0, -np.expm1(-np.maximum(z, 0.0)), 0.0)


def expon_logcdf(z):
    inside = z > 0.0
    return np.where(inside, np.log(-np.expm1(-np.where(inside, z, 1.0))), -np.inf)


def expon_sf(z):
    return np.exp(-np.maximum(z, 0.0))


def expon_logsf(z):
    return -np.maximum(z, 0.0)


def cauchy_cdf(z):
    return 0.5 + np.arctan(z) / math.pi


def cauchy_sf(z):
    return 0.5 - np.arctan(z) / math.pi


def logistic_cdf(z):
    return expit(z)


def logistic_logcdf(z):
    return -np.logaddexp(0.0, -z)


def laplace_cdf(z):
    return np.where(z < 0.0, 0.5 * np.exp(np.minimum(z, 0.0)), 1.0 - 0.5 * np.exp(-np.maximum(z, 0.0)))


def laplace_logcdf(z):
    return np.where(z < 0.0, np.minimum(z, 0.0) - math.log(2.0), np.log1p(-0.5 * np.exp(-np.maximum(z, 0.0))))


def uniform_cdf(z):
    return np.clip(z, 0.0, 1.0)


# ----------------------------------------------------------------- arguments

def _D():
    from .. import distributions  # (ppc/distributions.py imports the frontend: read at lowering time)
    return distributions


def _call(lw, fn, *args):
    """`fn` (module-level compilable Python) called on these values, as compiled code calls it."""
    return lw.call_user(fn, list(args), {}, None)


def _floats(lw, lib, args):
    """The arguments at one float dtype: float64 for scipy.stats (as scipy computes); for
    jax.scipy.stats, the float arguments' promoted dtype (integer ones, such as counts, do
    not widen float32), else the default float. Also: whether the result is weakly typed."""
    if lib == "sst":
        dt, weak = "f64", False
    else:
        floats = [a for a in args if is_float(lw.aval(a)[1])]
        dt, weak = lw.promote(*floats) if floats else (DEFAULT["float"], False)
        weak = weak and all(lw.aval(a)[2] for a in args)
    # (strong inside: a Python number such as 1.0 / scale then keeps scale's dtype)
    return [Dyn(lw.to_dyn(a, dt).value, False) for a in args], weak


def _e(lw, prim, *xs):
    return lw.elementwise(prim, *xs)


def _standardize(lw, x, loc, scale):
    return _e(lw, "div", _e(lw, "sub", x, loc), scale)


def _minus_log(lw, lp, scale):
    return _e(lw, "sub", lp, _e(lw, "log", scale))


# ----------------------------------------------------------------- the distributions
# each a log density (lw, x, *shape parameters, loc[, scale]) -> Dyn, its arguments at one
# float dtype (discrete distributions have a loc only)

def _norm(lw, x, loc, scale):
    return _call(lw, _D().normal_log_prob, x, loc, scale)


def _cauchy(lw, x, loc, scale):
    return _call(lw, _D().cauchy_log_prob, x, loc, scale)


def _t(lw, x, df, loc, scale):
    return _call(lw, _D().student_t_log_prob, x, df, loc, scale)


def _expon(lw, x, loc, scale):
    return _call(lw, _D().exponential_log_prob, _e(lw, "sub", x, loc), _e(lw, "div", 1.0, scale))


def _gamma(lw, x, a, loc, scale):
    return _call(lw, _D().gamma_log_prob, _e(lw, "sub", x, loc), a, _e(lw, "div", 1.0, scale))


def _chi2(lw, x, df, loc, scale):
    return _call(lw, _D().gamma_log_prob, _e(lw, "sub", x, loc), _e(lw, "mul", df, 0.5),
                 _e(lw, "div", 0.5, scale))


def _beta(lw, x, a, b, loc, scale):
    return _minus_log(lw, _call(lw, _D().beta_log_prob, _standardize(lw, x, loc, scale), a, b), scale)


def _uniform(lw, x, loc, scale):
    z = _standardize(lw, x, loc, scale)
    zero, one = lw.const(0.0, z.dtype), lw.const(1.0, z.dtype)
    return _minus_log(lw, _call(lw, _D().uniform_log_prob, z, zero, one), scale)


def _lognorm(lw, x, s, loc, scale):
    return _call(lw, _D().log_normal_log_prob, _e(lw, "sub", x, loc), _e(lw, "log", scale), s)


def _halfnorm(lw, x, loc, scale):
    return _call(lw, _D().half_normal_log_prob, _e(lw, "sub", x, loc), scale)


def _halfcauchy(lw, x, loc, scale):
    return _call(lw, _D().half_cauchy_log_prob, _e(lw, "sub", x, loc), scale)


def _laplace(lw, x, loc, scale):
    return _call(lw, _D().laplace_log_prob, x, loc, scale)


def _logistic(lw, x, loc, scale):
    return _minus_log(lw, _call(lw, logistic_log_prob, _standardize(lw, x, loc, scale)), scale)


def _poisson(lw, k, mu, loc):
    return _call(lw, _D().poisson_log_prob, _e(lw, "sub", k, loc), mu)


def _bernoulli(lw, k, p, loc):
    return _call(lw, _D().bernoulli_probs_log_prob, _e(lw, "sub", k, loc), p)


def _binom(lw, k, n, p, loc):
    return _call(lw, _D().binomial_log_prob, _e(lw, "sub", k, loc), n, p)


def _nbinom(lw, k, n, p, loc):
    """Failures before the n-th success: NumPyro's NegativeBinomial2 with concentration n and
    mean n (1 - p) / p."""
    mean = _e(lw, "div", _e(lw, "mul", n, _e(lw, "sub", 1.0, p)), p)
    return _call(lw, _D().negative_binomial2_log_prob, _e(lw, "sub", k, loc), mean, n)


def _geom(lw, k, p, loc):
    """Trials up to the first success (k >= 1): nbinom(k - 1; 1, p)."""
    one = lw.const(1.0, p.dtype)
    return _nbinom(lw, _e(lw, "sub", k, 1.0), one, p, loc)


def _std(fn):
    """A distribution function of z = (x - loc) / scale, written above."""
    def method(lw, x, loc, scale):
        return _call(lw, fn, _standardize(lw, x, loc, scale))
    return method


def _flip(fn):
    """F(-z): the survival function of a symmetric distribution from its cdf."""
    def method(lw, x, loc, scale):
        return _call(lw, fn, _e(lw, "neg", _standardize(lw, x, loc, scale)))
    return method


def _log_of(method):
    def log_method(lw, *args):
        return _e(lw, "log", method(lw, *args))
    return log_method


# name: (shape parameters, continuous, log density, {other method: rule}); each has its log
# density and density (logpdf and pdf, or logpmf and pmf) besides
DISTRIBUTIONS = {
    "norm": ((), True, _norm, {"cdf": _std(ndtr), "logcdf": _std(log_ndtr), "sf": _flip(ndtr),
                               "logsf": _flip(log_ndtr)}),
    "expon": ((), True, _expon, {"cdf": _std(expon_cdf), "logcdf": _std(expon_logcdf), "sf": _std(expon_sf),
                                 "logsf": _std(expon_logsf)}),
    "cauchy": ((), True, _cauchy, {"cdf": _std(cauchy_cdf), "logcdf": _log_of(_std(cauchy_cdf)),
                                   "sf": _std(cauchy_sf), "logsf": _log_of(_std(cauchy_sf))}),
    "logistic": ((), True, _logistic, {"cdf": _std(logistic_cdf), "logcdf": _std(logistic_logcdf),
                                       "sf": _flip(logistic_cdf),
                                       "logsf": _flip(logistic_logcdf)}),
    "laplace": ((), True, _laplace, {"cdf": _std(laplace_cdf), "logcdf": _std(laplace_logcdf),
                                     "sf": _flip(laplace_cdf), "logsf": _flip(laplace_logcdf)}),
    "uniform": ((), True, _uniform, {"cdf": _std(uniform_cdf), "logcdf": _log_of(_std(uniform_cdf))}),
    "t": (("df",), True, _t, {}),
    "gamma": (("a",), True, _gamma, {}),
    "chi2": (("df",), True, _chi2, {}),
    "beta": (("a", "b"), True, _beta, {}),
    "lognorm": (("s",), True, _lognorm, {}),
    "halfnorm": ((), True, _halfnorm, {}),
    "halfcauchy": ((), True, _halfcauchy, {}),
    "poisson": (("mu",), False, _poisson, {}),
    "bernoulli": (("p",), False, _bernoulli, {}),
    "binom": (("n", "p"), False, _binom, {}),
    "nbinom": (("n", "p"), False, _nbinom, {}),
    "geom": (("p",), False, _geom, {}),
}


# ----------------------------------------------------------------- multivariate ones

def _mvn_diag(lw, x, mean, var):
    """Independent coordinates (a covariance given as a number or a diagonal): the sum of
    normal log densities over the last axis."""
    lp = _call(lw, _D().normal_log_prob, x, mean, _e(lw, "sqrt", var))
    return lw.reduce("reduce_sum", lp, axis=-1)


def _mvn_full(lw, x, mean, cov, full):
    from .linalg import _cholesky_lower
    n = mean.shape[-1]
    if len(cov.shape) < 2 or cov.shape[-2:] != (n, n):
        lw.error(f"{full}: the covariance must be {n} x {n} (or a batch of such), as the mean has {n} "
                 f"coordinates; got shape {cov.shape}")
    tril = _cholesky_lower(lw, cov, "cholesky")
    vec = lw.broadcast_shapes(x.shape, mean.shape)
    if len(cov.shape) == 2:  # one matrix for the whole batch: one triangular solve
        x, mean = lw.broadcast_to(x, vec), lw.broadcast_to(mean, vec)
    else:
        batch = lw.broadcast_shapes(vec[:-1], cov.shape[:-2])
        x, mean = lw.broadcast_to(x, batch + (n,)), lw.broadcast_to(mean, batch + (n,))
        tril = lw.broadcast_to(tril, batch + (n, n))
    return _call(lw, _D().mvn_log_prob, x, mean, tril)


def _jst_mvn(lw, full, x, mean, cov):
    if not mean.shape:
        return _call(lw, _D().normal_log_prob, x, mean, _e(lw, "sqrt", cov))
    if x.shape[-1:] != mean.shape[-1:]:
        lw.error(f"{full}: x has shape {x.shape}, but the mean has {mean.shape[-1]} coordinates")
    if not cov.shape:
        return _mvn_diag(lw, x, mean, cov)
    return _mvn_full(lw, x, mean, cov, full)


def _sst_mvn(lw, full, x, mean, cov):
    """scipy's reading: the dimension comes from the mean (else the covariance); a number or
    a vector for the covariance is a multiple of the identity or a diagonal; x's last axis
    holds the coordinates (with one coordinate, each element of a vector is a point); the
    result has its size-1 axes squeezed out."""
    n = mean.shape[0] if mean.shape else cov.shape[0] if cov.shape else 1
    if len(mean.shape) > 1:
        lw.error(f"{full}: the mean must be a vector, got shape {mean.shape}")
    if len(cov.shape) > 2:
        lw.error(f"{full}: the covariance must be a matrix, a vector (its diagonal) or a number, got shape "
                 f"{cov.shape}", "for a batch of covariance matrices use jax.scipy.stats.multivariate_normal")
    mean = lw.broadcast_to(mean, (n,)) if not mean.shape else mean
    if not x.shape:
        x = lw.reshape(x, (1,))
    if len(x.shape) == 1:
        x = lw.reshape(x, (x.shape[0], 1) if n == 1 else (1, x.shape[0]))
    if x.shape[-1] != n:
        lw.error(f"{full}: x has shape {x.shape}, but the distribution has {n} coordinates")
    if len(cov.shape) == 2:
        out = _mvn_full(lw, x, mean, cov, full)
    else:
        if cov.shape and cov.shape != (n,):
            lw.error(f"{full}: a covariance vector (the diagonal) needs {n} entries, got shape {cov.shape}")
        out = _mvn_diag(lw, x, mean, cov)
    return lw.reshape(out, tuple(d for d in out.shape if d != 1))


def _dirichlet(lw, full, x, alpha):
    """scipy's and JAX's layout: the categories along x's first axis (x may omit the last,
    which is then 1 minus the others' sum)."""
    from .numpy_api import _moveaxis
    if len(alpha.shape) != 1:
        lw.error(f"{full}: alpha must be one-dimensional, got shape {alpha.shape}")
    k = alpha.shape[0]
    if not x.shape or x.shape[0] not in (k, k - 1):
        lw.error(f"{full}: x must have {k} (or {k - 1}) entries along its first axis, as alpha has {k}; "
                 f"got shape {x.shape}")
    if x.shape[0] == k - 1:
        rest = _e(lw, "sub", 1.0, lw.reduce("reduce_sum", x, axis=0, keepdims=True))
        x = lw.concatenate([x, rest], 0)
    return _call(lw, _D().dirichlet_log_prob, _moveaxis(lw, x, 0, -1), alpha)


# ----------------------------------------------------------------- registration

_P = inspect.Parameter


def _bind(lw, full: str, sig, args, kwargs):
    """The call's arguments bound as `sig` binds them; a bad call is a located error."""
    try:
        return sig.bind(*args, **kwargs)
    except TypeError as e:
        lw.error(f"bad call to {full}: {e}", f"its signature is {full}{sig}")


def _handler(lib, dist, method, sig, rule, exp=False):
    """The handler of `lib.dist.method`: binds the call as scipy's/JAX's signature would
    (a bad call is a located error naming the function), moves the arguments to one float
    dtype, and broadcasts the result to their broadcast shape."""
    full = f"{_LIB[lib]}.{dist}.{method}"

    def handler(lw, *args, **kwargs):
        bound = _bind(lw, full, sig, args, kwargs)
        shape = lw.broadcast_shapes(*[lw.aval(v)[0] for v in bound.arguments.values()])
        bound.apply_defaults()
        values = list(bound.arguments.values())
        ds, weak = _floats(lw, lib, values)
        out = rule(lw, *ds)
        if exp:
            out = _e(lw, "exp", out)
        return Dyn(lw.broadcast_to(out, shape).value, weak)

    handler.__name__ = handler.__qualname__ = f"{dist}_{method}"
    register(f"{lib}.{dist}.{method}")(handler)


def _multivariate_handler(lib, dist, method, sig, rule, exp=False):
    full = f"{_LIB[lib]}.{dist}.{method}"

    def handler(lw, *args, **kwargs):
        bound = _bind(lw, full, sig, args, kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        if values.pop("allow_singular", None) not in (None, False):
            lw.error(f"{full}: allow_singular=True is not supported in compiled code")
        if values.get("mean", 0) is None:
            values["mean"] = 0.0
        ds, weak = _floats(lw, lib, list(values.values()))
        out = rule(lw, full, *ds)
        if exp:
            out = _e(lw, "exp", out)
        return Dyn(out.value, weak)

    handler.__name__ = handler.__qualname__ = f"{dist}_{method}"
    register(f"{lib}.{dist}.{method}")(handler)


def _signature(first, shape_params, continuous):
    params = [_P(n, _P.POSITIONAL_OR_KEYWORD) for n in (first,) + shape_params]
    params.append(_P("loc", _P.POSITIONAL_OR_KEYWORD, default=0))
    if continuous:
        params.append(_P("scale", _P.POSITIONAL_OR_KEYWORD, default=1))
    return inspect.Signature(params)


def _refuse(lib, dist, method, supported):
    full = f"{_LIB[lib]}.{dist}.{method}"

    hint = ("draw with ppc's random variables (ppc.Normal(loc, scale), ...) or jax.random" if method == "rvs"
            else f"supported from {_LIB[lib]}: {supported}")

    def handler(lw, *args, **kwargs):
        lw.error(f"{full} is not supported in compiled code", hint)
    handler.__name__ = handler.__qualname__ = f"{dist}_{method}"
    register(f"{lib}.{dist}.{method}")(handler)


def _frozen(lib, dist):
    def handler(lw, *args, **kwargs):
        lw.error(f"frozen distributions ({_LIB[lib]}.{dist}(...)) are not supported in compiled code",
                 f"pass the parameters to each call: {_LIB[lib]}.{dist}.logpdf(x, loc, scale)")
    handler.__name__ = handler.__qualname__ = dist
    register(f"{lib}.{dist}")(handler)


_MV = {  # name: (signatures of (scipy's, JAX's) logpdf, rule by library)
    "multivariate_normal": (
        inspect.Signature([_P("x", _P.POSITIONAL_OR_KEYWORD), _P("mean", _P.POSITIONAL_OR_KEYWORD, default=None),
                           _P("cov", _P.POSITIONAL_OR_KEYWORD, default=1),
                           _P("allow_singular", _P.POSITIONAL_OR_KEYWORD, default=False)]),
        inspect.Signature([_P("x", _P.POSITIONAL_OR_KEYWORD), _P("mean", _P.POSITIONAL_OR_KEYWORD),
                           _P("cov", _P.POSITIONAL_OR_KEYWORD),
                           _P("allow_singular", _P.POSITIONAL_OR_KEYWORD, default=None)]),
        {"sst": _sst_mvn, "jst": _jst_mvn}),
    "dirichlet": (
        inspect.Signature([_P("x", _P.POSITIONAL_OR_KEYWORD), _P("alpha", _P.POSITIONAL_OR_KEYWORD)]),
        inspect.Signature([_P("x", _P.POSITIONAL_OR_KEYWORD), _P("alpha", _P.POSITIONAL_OR_KEYWORD)]),
        {"sst": _dirichlet, "jst": _dirichlet}),
}

# common distributions ppc does not compile: a call names them (scipy's own methods are
# shared by every distribution, so an unregistered one would read 'rv_continuous.logpdf')
_UNSUPPORTED = ("vonmises", "wrapcauchy", "gennorm", "gumbel_l", "gumbel_r", "pareto", "truncnorm", "betabinom",
                "multinomial", "invgamma", "weibull_min", "weibull_max", "skewnorm", "chi", "f", "rayleigh",
                "loggamma", "exponnorm", "halflogistic", "invwishart", "wishart", "hypergeom", "randint",
                "zipf", "dlaplace", "boltzmann", "logser", "skellam", "triang", "powerlaw", "lomax",
                "nct", "ncx2", "levy", "gompertz", "kappa3", "rice", "foldnorm", "truncexpon", "matrix_normal",
                "multivariate_t", "invgauss", "genextreme", "burr", "fisk", "norminvgauss", "argus", "moyal")
_METHODS = ("logpdf", "pdf", "logpmf", "pmf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf", "rvs", "mean", "var",
            "std", "median", "entropy", "interval", "stats", "moment")


def _register_all():
    for lib in ("sst", "jst"):
        supported = []
        for dist, (shape_params, continuous, logpdf, others) in DISTRIBUTIONS.items():
            sig = _signature("x" if continuous else "k", shape_params, continuous)
            log_name, name = ("logpdf", "pdf") if continuous else ("logpmf", "pmf")
            _handler(lib, dist, log_name, sig, logpdf)
            _handler(lib, dist, name, sig, logpdf, exp=True)
            for method, rule in others.items():
                _handler(lib, dist, method, sig, rule)
            methods = (log_name, name) + tuple(others)
            supported.append(f"{dist} ({', '.join(methods)})")
            if lib == "sst":
                _frozen(lib, dist)
        for dist, (sst_sig, jst_sig, rules) in _MV.items():
            sig = sst_sig if lib == "sst" else jst_sig
            _multivariate_handler(lib, dist, "logpdf", sig, rules[lib])
            _multivariate_handler(lib, dist, "pdf", sig, rules[lib], exp=True)
            supported.append(f"{dist} (logpdf, pdf)")
            if lib == "sst":
                _frozen(lib, dist)
        listing = "; ".join(supported)
        for dist, (_, _, _, others) in DISTRIBUTIONS.items():
            done = {"logpdf", "pdf", "logpmf", "pmf", *others}
            for method in _METHODS:
                if method not in done:
                    _refuse(lib, dist, method, listing)
        for dist in _UNSUPPORTED:
            for method in _METHODS:
                _refuse(lib, dist, method, listing)


_register_all()
