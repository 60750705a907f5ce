"""The distribution registry: what the ppl passes need of each distribution.

A distribution is declared once (in ppc/distributions.py) with its parameters, support
and event rank, and two rules that give IR: its log density and its sampler, built for
given operand types. The passes use only this registry, so they never see Python source.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .core import Module


@dataclass(eq=False)
class DistributionRules:
    name: str
    params: tuple[str, ...]
    support: str  # real, positive, unit_interval, interval, simplex, boolean, count, ...
    event_rank: int  # 0 for scalars, 1 for vector-valued (categorical index: 0)
    # (value type, parameter types) -> Module whose entry is (value, *params) -> log density
    # (per batch element; the pass sums it)
    log_prob: Callable[..., Module]
    # (key type, parameter types) -> Module whose entry is (key, *params) -> value
    sampler: Callable[..., Module]
    # continuous supports: (unconstrained type, parameter types) -> Module whose entry is
    # (u, *params) -> (value in the support, log |det Jacobian|); None for discrete ones
    transform: Callable[..., Module] | None = None
    # value shape -> shape of its unconstrained representation
    unconstrained_shape: Callable[[tuple], tuple] = lambda shape: shape


DISTRIBUTIONS: dict[str, DistributionRules] = {}


def declare_distribution(rules: DistributionRules) -> DistributionRules:
    if rules.name in DISTRIBUTIONS:
        raise ValueError(f"distribution '{rules.name}' declared twice")
    DISTRIBUTIONS[rules.name] = rules
    return rules


def distribution(name: str) -> DistributionRules:
    try:
        return DISTRIBUTIONS[name]
    except KeyError:
        raise KeyError(f"unknown distribution '{name}'") from None
