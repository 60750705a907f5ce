"""Models with `while` loops on traced values (an iterative solver inside the density)
sampled by NUTS and HMC: the gradient inside the sampler records each loop's iterations
(up to max_iterations) and carries the loop-limit flag out of the compiled transition,
so a loop that runs longer raises LoopLimitError, never a wrong gradient."""
import numpy as np
import pytest

import ppc
import ppc.infer


def newton_sqrt(a):
    x = a
    while np.abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def iterative():
    s = ppc.LogNormal(0.0, 1.0, name="s")
    return ppc.Normal(newton_sqrt(s) * np.ones(3), 0.5, name="obs")


def direct():
    s = ppc.LogNormal(0.0, 1.0, name="s")
    return ppc.Normal(np.sqrt(s) * np.ones(3), 0.5, name="obs")


OBS = np.array([1.2, 0.9, 1.1])
SETTINGS = dict(chains=4, num_warmup=200, num_samples=200, progress=False, diagnose=False)


def test_nuts_samples_a_model_with_a_while_loop_as_the_closed_form():
    # (refused before: "autobatch of a function that records while loops ...")
    loop = ppc.infer.nuts(ppc.condition(iterative, obs=OBS), **SETTINGS).posterior["s"].values
    closed = ppc.infer.nuts(ppc.condition(direct, obs=OBS), **SETTINGS).posterior["s"].values
    # (Newton's square root agrees with np.sqrt to ~1e-12, but NUTS amplifies the last bits
    # over hundreds of draws: compare moments, whose Monte Carlo error is ~0.05)
    assert abs(loop.mean() - closed.mean()) < 0.15 and abs(loop.std() - closed.std()) < 0.15
    assert abs(loop.mean() - 1.08) < 0.15  # (the posterior mean, from a long run of the closed form)


def test_hmc_samples_a_model_with_a_while_loop():
    loop = ppc.infer.hmc(ppc.condition(iterative, obs=OBS), **SETTINGS).posterior["s"].values
    closed = ppc.infer.hmc(ppc.condition(direct, obs=OBS), **SETTINGS).posterior["s"].values
    # (HMC's accept decisions amplify the last bits, so compare moments: Monte Carlo error ~0.05)
    assert abs(loop.mean() - closed.mean()) < 0.15 and abs(loop.std() - closed.std()) < 0.15


def halvings(s):
    r = s
    while r > 1.0:
        r = r / 2.0
    return r


def far():
    """Starting points (s in (0.14, 7.4)) need at most 3 halvings; the posterior (s near
    e^4) needs about 6."""
    s = ppc.LogNormal(0.0, 3.0, name="s")
    return ppc.Normal(halvings(s) + np.log(s), 1.0, name="obs")


@pytest.mark.parametrize("sampler", [ppc.infer.nuts, ppc.infer.hmc])
def test_a_loop_past_max_iterations_in_a_transition_raises(sampler):
    with pytest.raises(ppc.LoopLimitError, match=r"max_iterations=4 .* in a transition"):
        sampler(ppc.condition(far, obs=np.array(5.0)), max_iterations=4, **SETTINGS)


def test_a_loop_past_max_iterations_at_a_starting_point_raises():
    with pytest.raises(ppc.LoopLimitError, match=r"max_iterations=2 .* at a starting point"):
        ppc.infer.nuts(ppc.condition(iterative, obs=OBS), max_iterations=2, **SETTINGS)


def newton_loss(w):
    return newton_sqrt(np.sum(w * w) + 1.0)


def sampler_step(w, step):
    (value, g), overflow = ppc.ad.value_and_grad_with_overflow(newton_loss)(w)
    return np.where(overflow, np.nan, w + step * g), value


def test_your_own_compiled_code_gets_the_loop_flag_as_a_value():
    w = np.array([0.5, -1.0, 2.0])
    new, value = ppc.compile(sampler_step)(w, 0.1)
    norm = np.sqrt(np.sum(w * w) + 1.0)
    np.testing.assert_allclose(new, w + 0.1 * w / norm, rtol=1e-10)
    np.testing.assert_allclose(value, norm, rtol=1e-10)
    # a plain ppc.grad of the same loss inside compiled code: its flag is the program's (test_loop_flags.py)
    np.testing.assert_allclose(ppc.compile(lambda w: ppc.grad(newton_loss)(w))(w), w / norm, rtol=1e-10)
