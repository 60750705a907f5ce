"""Partitioning, PartIR-style: a strategy of tactics written apart from the model, carried
through the program by per-primitive tiling rules, lowered to a per-device program with
explicit collectives, and scored by a simulator before anything runs.

    mesh.py         the device mesh (names and sizes)
    tactics.py      tile / replicate
    propagation.py  tactics -> a tiling of every value, conflicts recorded
    lowering.py     plan -> per-device IR with all_reduce / all_gather / reduce_scatter / ...
    simulator.py    per-device flops, memory, collective bytes, predicted time

These import only ppc.ir. `apply` (ppc/partitioned.py) wires them to the frontend and the
JAX backend, and is re-exported here as the public entry point.
"""
from .mesh import Mesh
from .propagation import Conflict, PartitionError, Plan, propagate
from .tactics import replicate, tile


def apply(f, tactics, mesh):
    """`f` (a Python function or any ppc function: compiled, ppc.grad(f), ...) partitioned
    over `mesh` by `tactics`, applied in order; call it like `f`."""
    from ..partitioned import apply as _apply
    return _apply(f, tactics, mesh)


__all__ = ["Mesh", "tile", "replicate", "apply", "propagate", "Plan", "Conflict", "PartitionError"]
