"""Mean-field Gaussian ADVI with reparameterization gradients through ppc.grad."""
from __future__ import annotations

import numpy as np

from .. import ad
from ..api import compile as ppc_compile
from ..ppl import on_backend, unconstrained
from .common import as_arrays, check_names, check_settings, observed_outside_support, progress_bar, to_inference_data


def make_elbo(logp, num_draws):
    """The negative ELBO of a mean-field Gaussian q(theta) = N(mean, exp(log_sd)^2), by
    reparameterization with standard-normal draws `eps` (num_draws, dim)."""

    def negative_elbo(mean, log_sd, eps, data):
        total = 0.0
        for s in range(num_draws):
            total = total + logp(mean + np.exp(log_sd) * eps[s], *data)
        return -(total / num_draws + np.sum(log_sd))
    return negative_elbo


def advi(model, *data, num_steps: int = 2000, num_draws: int = 4, learning_rate: float = 0.05,
         num_samples: int = 1000, seed: int = 0, progress: bool = True, backend: str | None = None):
    """Mean-field Gaussian ADVI in the unconstrained space, reparameterization gradients
    through ppc.grad, Adam (rate decaying tenfold over the run) from optax. Returns arviz.InferenceData of `num_samples` draws
    from the fitted approximation (one chain), and the loss trace in `attrs`. It runs on the
    model's backend, or on `backend` when given."""
    import optax
    check_settings("advi", num_steps=num_steps, num_draws=num_draws, learning_rate=learning_rate,
                   num_samples=num_samples)
    u = unconstrained(on_backend(model, backend), *data)
    check_names(u)
    loss_and_grad = u.memo(("advi", num_draws), lambda: ad.value_and_grad(
        ppc_compile(make_elbo(u.log_density_fn, num_draws), backend=u.program.backend), argnums=(0, 1)))
    rng = np.random.default_rng(seed)
    dtype = u.dtype
    args = as_arrays(tuple(u.args))
    params = (np.zeros(u.size, dtype), np.full(u.size, -1.0, dtype))
    # the rate decays tenfold over the run, so the noisy gradients settle
    opt = optax.adam(optax.exponential_decay(learning_rate, num_steps, 0.1))
    state = opt.init(params)
    bar = progress_bar(num_steps, "advi", progress)
    losses = []
    for i in range(num_steps):
        eps = rng.normal(size=(num_draws, u.size)).astype(dtype)
        loss, grads = loss_and_grad(params[0], params[1], eps, args)
        if not np.isfinite(loss):  # (its gradient is then NaN, and so every later step)
            if bar is not None:
                bar.close()
            raise ValueError(observed_outside_support(u, np.asarray(params[0])[None], np.array([True]), "mean") or (
                f"advi: the loss (negative ELBO) is {float(loss)} at step {i}: the model's log density is not "
                "finite at some draws; check the data and the model's supports"))
        updates, state = opt.update(tuple(grads), state, params)
        params = optax.apply_updates(params, updates)
        losses.append(float(loss))
        if bar is not None and (i % 50 == 0 or i == num_steps - 1):
            bar.update(min(50, num_steps - bar.n))
    if bar is not None:
        bar.close()
    mean, log_sd = (np.asarray(p) for p in params)
    thetas = (mean + np.exp(log_sd) * rng.normal(size=(num_samples, u.size))).astype(dtype)[None]
    idata = to_inference_data(u, thetas, {"lp": np.asarray([[float(u.log_density(th)) for th in thetas[0]]])})
    idata.posterior.attrs["advi_loss"] = losses
    idata.posterior.attrs["advi_mean"] = mean.tolist()
    idata.posterior.attrs["advi_sd"] = np.exp(log_sd).tolist()
    return idata
