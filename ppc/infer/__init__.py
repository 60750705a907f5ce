"""Inference on ppc models: the No-U-Turn Sampler, HMC, and mean-field ADVI. Each works
on `ppc.unconstrained(model, *data)`, differentiates it with ppc.grad, and returns
`arviz.InferenceData`."""
from .advi import advi
from .common import SamplerWarning
from .hmc import hmc
from .nuts import nuts

__all__ = ["nuts", "hmc", "advi", "SamplerWarning"]
