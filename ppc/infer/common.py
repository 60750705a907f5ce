"""What the samplers share: dual-averaging constants, the progress bar, and turning
unconstrained draws into arviz.InferenceData."""
from __future__ import annotations

import warnings

import numpy as np

from ..autobatch import autobatch

# Dual averaging constants (Hoffman & Gelman 2014, as in Stan)
DA_GAMMA, DA_T0, DA_KAPPA = 0.05, 10.0, 0.75


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


def to_inference_data(u, thetas, sample_stats, warmup=None):
    """(chain, draw, dim) unconstrained draws -> InferenceData of constrained values;
    `warmup`, (draws, stats) of the same form, lands in ArviZ's warmup groups."""
    import arviz as az
    groups = {"posterior": _constrained(u, thetas), "sample_stats": sample_stats}
    if warmup is not None:
        groups.update(warmup_posterior=_constrained(u, warmup[0]), warmup_sample_stats=warmup[1], save_warmup=True)
    with warnings.catch_warnings():  # (ArviZ guesses a transposed array when chains outnumber draws; they are not)
        warnings.filterwarnings("ignore", message="More chains", category=UserWarning)
        return az.from_dict(**groups)


def _constrained(u, thetas):
    chains, draws, dim = thetas.shape
    flat = thetas.reshape(chains * draws, dim)
    shared = [np.asarray(a)[None] if hasattr(a, "shape") else a for a in u.args]  # size 1: shared by all draws
    to_constrained = u.memo("to_constrained_batched", lambda: autobatch(u._values, strategy="local_static"))
    values = to_constrained(flat, *shared)
    return {name: np.asarray(v).reshape((chains, draws) + np.shape(v)[1:]) for name, v in zip(u.names, values)}
