"""Tactics: a partitioning strategy written apart from the model, as a list applied in
order (PartIR). Each names a function input by its parameter name."""
from __future__ import annotations

import numbers
from dataclasses import dataclass


@dataclass(frozen=True)
class tile:
    """Cut input `input_name` along `dim` into `mesh.axes[mesh_axis]` tiles, one per
    position along that mesh axis; propagation carries the cut through the program."""
    input_name: str
    dim: int
    mesh_axis: str

    def __post_init__(self):
        # checked here, so a wrong type is named at the tactic rather than deep in propagation
        if not isinstance(self.input_name, str) or not isinstance(self.mesh_axis, str):
            raise TypeError(f"tile(input_name, dim, mesh_axis) takes names as strings, got {self!r}")
        if not isinstance(self.dim, numbers.Integral) or isinstance(self.dim, bool):
            raise TypeError(f"tile(input_name, dim, mesh_axis) takes an integer dim, got {self!r}")
        object.__setattr__(self, "dim", int(self.dim))  # a NumPy integer compares and prints as one

    def __str__(self):
        return f"tile({self.input_name}, {self.dim}, {self.mesh_axis})"


@dataclass(frozen=True)
class replicate:
    """Keep input `input_name` whole on every device: later tactics may not tile it."""
    input_name: str

    def __post_init__(self):
        if not isinstance(self.input_name, str):
            raise TypeError(f"replicate(input_name) takes a name as a string, got {self!r}")

    def __str__(self):
        return f"replicate({self.input_name})"


Tactic = tile | replicate
