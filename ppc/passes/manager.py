"""The pass registry and the pass manager.

A pass is a function Module -> Module registered by name; `run_passes` applies a list
of them and, when asked (tests always ask), verifies the IR after each one, turning a
broken invariant into an InternalError that names the pass.
"""
from __future__ import annotations

import os
from typing import Callable

from ..ir import InternalError, Module, VerifyError, print_module, verify

PASSES: dict[str, Callable[[Module], Module]] = {}


def register_pass(name: str):
    def deco(fn):
        if name in PASSES:
            raise ValueError(f"pass '{name}' registered twice")
        PASSES[name] = fn
        return fn
    return deco


def get_pass(name: str):
    try:
        return PASSES[name]
    except KeyError:
        raise KeyError(f"unknown pass '{name}'; known passes: {', '.join(sorted(PASSES))}") from None


def verify_after(name: str, module: Module) -> None:
    try:
        verify(module)
    except VerifyError as e:
        raise InternalError(name, str(e), print_module(module)) from None


def run_passes(module: Module, names, verify_each: bool | None = None) -> Module:
    if verify_each is None:
        verify_each = os.environ.get("PPC_VERIFY", "") not in ("", "0")
    for name in names:
        module = get_pass(name)(module)
        if verify_each:
            verify_after(name, module)
    return module
