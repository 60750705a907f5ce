"""A device mesh: named axes and their sizes. Plain data, so tactics, propagation and the
simulator reason about it without a device in sight; the JAX backend lays the devices out
along it when a partitioned program runs."""
from __future__ import annotations

import math


class Mesh:
    """`Mesh({"batch": 4, "model": 2})`: 8 devices, 4 along `batch` by 2 along `model`
    (major to minor, as in `jax.sharding.Mesh`)."""

    def __init__(self, axes: dict[str, int]):
        if not axes:
            raise ValueError("a mesh needs at least one axis")
        for name, size in axes.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"mesh axis names must be identifiers, got {name!r}")
            if not isinstance(size, int) or size < 1:
                raise ValueError(f"mesh axis {name!r} needs a positive integer size, got {size!r}")
        self.axes: dict[str, int] = dict(axes)

    @property
    def size(self) -> int:
        """Devices in the mesh."""
        return math.prod(self.axes.values())

    def extent(self, axes) -> int:
        """How many tiles `axes` cut a dim into."""
        return math.prod(self.axes[a] for a in axes)

    def check_axis(self, axis: str) -> None:
        if axis not in self.axes:
            raise ValueError(f"mesh has no axis {axis!r}; its axes are {', '.join(self.axes)}")

    def __eq__(self, other):
        return isinstance(other, Mesh) and list(self.axes.items()) == list(other.axes.items())

    def __hash__(self):
        return hash(tuple(self.axes.items()))

    def __repr__(self):
        return f"Mesh({self.axes})"
