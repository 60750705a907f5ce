"""What the samplers share: dual-averaging constants, the progress bar, turning
unconstrained draws into arviz.InferenceData, and the convergence checks run on it."""
from __future__ import annotations

import warnings

import numpy as np

from ..api import LoopLimitError
from ..autobatch import autobatch, shared

# Dual averaging constants (Hoffman & Gelman 2014, as in Stan)
DA_GAMMA, DA_T0, DA_KAPPA = 0.05, 10.0, 0.75


def as_arrays(data, lead: bool = False):
    """A model's data as NumPy arrays, tuples and lists of them kept as they are (each
    array its own shape); with `lead`, each array gains a leading axis of size 1, shared
    by every chain of a batched sampler."""
    if isinstance(data, (tuple, list)):
        return type(data)(as_arrays(d, lead) for d in data)
    return np.asarray(data)[None] if lead else np.asarray(data)


def _count(least):
    return (lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= least,
            f"an integer >= {least}")


def _real(ok, expect, none=False):
    return (lambda v: (none and v is None) or isinstance(v, (int, float, np.integer, np.floating))
            and not isinstance(v, bool) and bool(np.isfinite(v)) and ok(v), expect)


# What each sampler setting must be. Checked before anything compiles: a bad value would
# otherwise fail deep inside a compiled program (an empty draws buffer), raise a bare math
# error, or sample nonsense without a word (a target acceptance of 1.5, trees of no steps).
SETTINGS = {
    "chains": _count(1), "num_samples": _count(1), "num_warmup": _count(0), "chunk": _count(1),
    "max_tree_depth": _count(1), "num_leapfrog": _count(1), "num_steps": _count(1), "num_draws": _count(1),
    "target_accept": _real(lambda v: 0 < v < 1, "a number between 0 and 1"),
    "step_size": _real(lambda v: v > 0, "None or a positive number", none=True),
    "learning_rate": _real(lambda v: v > 0, "a positive number"),
    "jitter": _real(lambda v: 0 <= v < 1, "a number in [0, 1)"),
}


def check_settings(sampler: str, **settings):
    """A ValueError naming the sampler and the first setting out of its range."""
    for name, value in settings.items():
        ok, expect = SETTINGS[name]
        if not ok(value):
            raise ValueError(f"{sampler}: {name} must be {expect}, got {value!r}")


def dual_averaging(t, h_bar, x_bar, mu, target, accept):
    """One step of dual-averaging step-size adaptation, written for ppc to compile inside
    a sampler: (t, h_bar, log step size, x_bar) after observing acceptance `accept`."""
    t = t + 1.0
    r = 1.0 / (t + DA_T0)
    h_bar = (1.0 - r) * h_bar + r * (target - accept)
    log_eps = mu - np.sqrt(t) / DA_GAMMA * h_bar
    eta = t ** (-DA_KAPPA)
    return t, h_bar, log_eps, eta * log_eps + (1.0 - eta) * x_bar


def progress_bar(total, desc, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, leave=False)


def check_names(u):
    """A ValueError for a latent named as one of the InferenceData's dimensions ('chain',
    'draw', or 'w_dim_0' beside a latent `w` of rank one or more): ArviZ would take it for
    that dimension's coordinate and drop it from the posterior without a word. Checked
    before sampling, so no run is lost to it."""
    dims = {"chain", "draw"} | {f"{name}_dim_{k}" for name, t, *_ in u.layout for k in range(len(t.shape))}
    clash = next((n for n in u.names if n in dims), None)
    if clash is not None:
        raise ValueError(f"the latent random variable '{clash}' has the name of a dimension of ArviZ's "
                         "InferenceData, which would drop it from the posterior; rename it (name=...)")


def to_inference_data(u, thetas, sample_stats, warmup=None):
    """(chain, draw, dim) unconstrained draws -> InferenceData of constrained values;
    `warmup`, (draws, stats) of the same form, lands in ArviZ's warmup groups."""
    import arviz as az
    groups = {"posterior": _constrained(u, thetas), "sample_stats": sample_stats}
    if u.observed:
        groups["observed_data"] = u.observed
    if warmup is not None:
        groups.update(warmup_posterior=_constrained(u, warmup[0]), warmup_sample_stats=warmup[1], save_warmup=True)
    with warnings.catch_warnings():  # (ArviZ guesses a transposed array when chains outnumber draws; they are not)
        warnings.filterwarnings("ignore", message="More chains", category=UserWarning)
        return az.from_dict(**groups)


class SamplerWarning(UserWarning):
    """A sampler's run needs a look: chains that disagree, too few effective draws,
    divergent transitions, trees cut off at their maximum depth."""


# Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization, folding,
# and localization": trust a run when rank-normalized split R-hat < 1.01 and bulk and tail
# ESS exceed 100 per chain, which their four-chain examples make 400 in all.
RHAT_LIMIT, ESS_PER_CHAIN, ESS_CHAINS = 1.01, 100, 4


def check_convergence(idata, sampler: str, stacklevel: int = 3):
    """Check the posterior's convergence with ArviZ (rank-normalized split R-hat, bulk
    and tail ESS), record the worst of each in `sample_stats.attrs` (max_rhat,
    min_ess_bulk, min_ess_tail) and warn, naming the variable, when a run falls short:
    the numbers a user would otherwise not look at until their estimates were wrong.
    ArviZ loops over scalars in Python: ~2.7 ms per scalar parameter on the 2-core
    development machine (0.36 s for 30 parameters at 128 chains of 200 draws)."""
    import arviz as az
    post = idata.posterior
    chains, draws = post.sizes["chain"], post.sizes["draw"]
    if draws < 4 or not post.data_vars:  # (ArviZ's estimators need four draws)
        return
    worst = {}
    if chains >= 2:
        worst["rhat"] = _extreme(az.rhat(post), np.nanargmax)
    worst["ess_bulk"] = _extreme(az.ess(post, method="bulk"), np.nanargmin)
    worst["ess_tail"] = _extreme(az.ess(post, method="tail"), np.nanargmin)
    attrs = {"rhat": "max_rhat", "ess_bulk": "min_ess_bulk", "ess_tail": "min_ess_tail"}
    idata.sample_stats.attrs.update({attrs[k]: v[0] for k, v in worst.items() if v is not None})
    rhat = worst.get("rhat")
    if rhat is not None and rhat[0] > RHAT_LIMIT:
        warnings.warn(f"{sampler}: the chains disagree: R-hat of {rhat[1]} is {rhat[0]:.4f} (above {RHAT_LIMIT}); "
                      "run longer warmup and more draws, or reparameterize the model", SamplerWarning,
                      stacklevel=stacklevel)
    enough = ESS_PER_CHAIN * min(chains, ESS_CHAINS)
    low = [(v[0], v[1], kind) for kind, v in (("bulk", worst["ess_bulk"]), ("tail", worst["ess_tail"]))
           if v is not None and v[0] < enough]
    if low:
        ess, name, kind = min(low)
        warnings.warn(f"{sampler}: {kind} effective sample size of {name} is {ess:.0f} (below {enough}): "
                      "its estimates are unreliable; draw more samples", SamplerWarning, stacklevel=stacklevel)


def _extreme(result, pick):
    """(value, 'name[index]') of the extreme finite scalar of an ArviZ diagnostic, or
    None when every value is NaN (a constant variable)."""
    best = None
    for name, da in result.data_vars.items():
        values = np.asarray(da.values, dtype=float)
        if values.size == 0 or np.isnan(values).all():
            continue
        flat = int(pick(values.reshape(-1)))
        value = float(values.reshape(-1)[flat])
        index = np.unravel_index(flat, values.shape)
        label = f"{name}[{', '.join(map(str, index))}]" if values.ndim else str(name)
        if best is None or pick(np.array([best[0], value])) == 1:
            best = (value, f"'{label}'")
    return best


def _constrained(u, thetas):
    chains, draws, dim = thetas.shape
    flat = thetas.reshape(chains * draws, dim)
    shared_args = [shared(a) for a in u.args]  # size 1: shared by all draws
    to_constrained = u.memo("to_constrained_batched", lambda: autobatch(u._values, strategy="local_static"))
    values = to_constrained(flat, *shared_args)
    return {name: np.asarray(v).reshape((chains, draws) + np.shape(v)[1:]) for name, v in zip(u.names, values)}


INIT_TRIES = 100  # random starting points drawn per chain before giving up (as Stan)


def check_overflow(sampler: str, overflow, max_iterations: int, where: str):
    """LoopLimitError when a chain's gradient ran a `while` loop past its recorded
    iterations (`overflow` per chain, or per chain and draw)."""
    if overflow.any():
        chain = int(np.argwhere(overflow)[0][0])
        raise LoopLimitError(f"{sampler}: a while loop in the model ran more than max_iterations={max_iterations} "
                             f"iterations while differentiating its density {where} (chain {chain}), so that "
                             f"gradient would be wrong; pass a larger max_iterations= to ppc.infer.{sampler}")


def starting_points(u, init, chains: int, rng, value_and_grad):
    """Each chain's starting point on the unconstrained scale, with its log density and
    gradient (`value_and_grad(q)` over chains). Without `init`: Stan's uniform(-2, 2)
    draws, redrawn for chains whose density or gradient is not finite. With `init` (every
    latent by name, constrained; one value for all chains, or one per chain along a
    leading axis): those values, which must have a finite density."""
    def finite(lp, g):
        return np.isfinite(lp) & np.isfinite(g).all(axis=1)
    check_names(u)
    if init is not None:
        q = _from_init(u, init, chains)
        lp, g = value_and_grad(q)
        if not finite(lp, g).all():
            raise ValueError(observed_outside_support(u, q, ~finite(lp, g), "init values") or (
                f"init: the model's log density or its gradient is not finite at chain "
                f"{int(np.argmin(finite(lp, g)))}'s starting values"))
        return q, lp, g
    q = rng.uniform(-2.0, 2.0, size=(chains, u.size)).astype(u.dtype)
    lp, g = value_and_grad(q)
    for _ in range(INIT_TRIES - 1):
        bad = ~finite(lp, g)
        if not bad.any():
            break
        q[bad] = rng.uniform(-2.0, 2.0, size=(int(bad.sum()), u.size)).astype(u.dtype)
        lp2, g2 = value_and_grad(q)
        lp, g = np.where(bad, lp2, lp), np.where(bad[:, None], g2, g)
    if not finite(lp, g).all():
        raise ValueError(observed_outside_support(u, q, ~finite(lp, g), "last starting point tried") or (
            f"no starting point with a finite log density and gradient in {INIT_TRIES} uniform(-2, 2) draws on "
            "the unconstrained scale; pass init= with values where the model is finite"))
    return q, lp, g


def observed_outside_support(u, q, failing, point: str) -> str | None:
    """What names the usual cause of a model finite nowhere: an observed value outside its
    distribution's support makes the density -inf whatever the latents are, so that no
    starting point, init= included, can help. Bounds that parameters set (a Uniform's
    interval, a Binomial's total count) are read at the points `q` (unconstrained, one per
    chain; `point` says which they are) of the `failing` chains, and named only where every
    one of them puts the data outside. None when the data lie inside."""
    from ..distributions import DISTRIBUTIONS, outside_support
    from ..passes.ppl import random_variables
    sites = [op for op in random_variables(u.spec.canonical) if op.prim == "observe"]
    for op in sites:
        name, dist = op.attrs["name"], DISTRIBUTIONS[op.attrs["dist"]]
        found = outside_support(dist.support, u.observed[name], [p.type.shape for p in op.operands[1:]])
        if found is not None:
            index, value = found
            return (f"observed value of '{name}' is outside the support of {dist.title} ({dist.support}): "
                    f"{value}{_at(index)}; the model's log density is -inf whatever its latent values: check the data")
    return _outside_parameter_bounds(u, sites, q, np.flatnonzero(failing), point)


def _at(index) -> str:
    return f" at index {', '.join(map(str, index))}" if index else ""


def _outside_parameter_bounds(u, sites, q, chains, point: str) -> str | None:
    from ..distributions import DISTRIBUTIONS, PARAMETER_BOUNDS, outside_bounds
    if not any(op.attrs["dist"] in PARAMETER_BOUNDS for op in sites) or not len(chains):
        return None
    fn, fixed = u.observed_sites()
    outputs = []
    for theta in q[chains]:
        values = u.to_constrained(theta)
        outputs.append([np.asarray(o) for o in fn(*u.args, *[values[n] for n in u.names])])
    pos = 0
    for op in sites:
        first, pos = pos, pos + len(op.operands)  # (the value, then the parameters)
        dist = op.attrs["dist"]
        if dist not in PARAMETER_BOUNDS:
            continue
        d = DISTRIBUTIONS[dist]
        found = [outside_bounds(dist, o[first], dict(zip(d.params, o[first + 1:pos]))) for o in outputs]
        if any(f is None for f in found):
            continue
        (index, value, bounds), (names, _, text) = found[0], PARAMETER_BOUNDS[dist]
        where = ", ".join(f"{n} = {np.format_float_positional(b, precision=6, trim='0')}"
                          for n, b in zip(names, bounds))
        head = (f"observed value of '{op.attrs['name']}' is outside the bounds of its {d.title} "
                f"({text}): {value}{_at(index)}, where {where}")
        if all(fixed[first + 1 + d.params.index(n)] for n in names):
            return f"{head}; the model's log density is -inf whatever its latent values: check the data"
        return (f"{head} at chain {chains[0]}'s {point}{'' if len(chains) == 1 else ' (as at every failing chain)'}; "
                "the bounds depend on latent values: pass init= with values that put the data inside them, "
                "or check the data")
    return None


def _from_init(u, init: dict, chains: int):
    unknown = [n for n in init if n not in u.names]
    if unknown:
        raise ValueError(f"init names '{unknown[0]}', which is not a latent random variable of the model "
                         f"(latent: {', '.join(u.names)})")
    missing = [n for n in u.names if n not in init]
    if missing:
        raise ValueError(f"init needs a value for every latent random variable; '{missing[0]}' has none")
    per_chain = {}
    for name, t, *_ in u.layout:
        v = np.asarray(init[name])
        if v.shape == tuple(t.shape):
            per_chain[name] = np.broadcast_to(v, (chains,) + v.shape)
        elif v.shape == (chains,) + tuple(t.shape):
            per_chain[name] = v
        else:
            raise ValueError(f"init['{name}'] has shape {v.shape}; the variable's is {tuple(t.shape)} "
                             f"(or {(chains,) + tuple(t.shape)} for one value per chain)")
    # (values outside a support become NaN there: reported below)
    q = np.stack([u.to_unconstrained({n: per_chain[n][c] for n in u.names}, check=False) for c in range(chains)])
    offsets = np.cumsum([0] + u.sizes)
    for name, lo, hi in zip(u.names, offsets[:-1], offsets[1:]):
        if not np.isfinite(q[:, lo:hi]).all():
            raise ValueError(f"init['{name}'] lies outside the variable's support")
    return q.astype(u.dtype)
