"""Tactics: a partitioning strategy written apart from the model, as a list applied in
order (PartIR). Each names a function input by its parameter name."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class tile:
    """Cut input `input_name` along `dim` into `mesh.axes[mesh_axis]` tiles, one per
    position along that mesh axis; propagation carries the cut through the program."""
    input_name: str
    dim: int
    mesh_axis: str

    def __str__(self):
        return f"tile({self.input_name}, {self.dim}, {self.mesh_axis})"


@dataclass(frozen=True)
class replicate:
    """Keep input `input_name` whole on every device: later tactics may not tile it."""
    input_name: str

    def __str__(self):
        return f"replicate({self.input_name})"


Tactic = tile | replicate
