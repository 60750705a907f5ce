"""Timing shared by the benchmark scripts: a first call (compilation included) and the
median of later ones, on this noisy machine."""
from __future__ import annotations

import statistics
import time


def timed(f, repeats: int):
    """(f's first result, the first call's seconds, the median seconds of `repeats` more)."""
    t = time.perf_counter()
    out = f()
    first = time.perf_counter() - t
    later = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        later.append(time.perf_counter() - t)
    return out, first, statistics.median(later)
