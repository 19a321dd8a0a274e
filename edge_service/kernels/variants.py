"""Choosing, per layer at load, the fastest of several exact ways to compute it."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

TRIES = 15


def fastest(variants: dict[str, Callable[[np.ndarray], np.ndarray]], sample: np.ndarray) -> str | None:
    """The name of the quickest variant on `sample`, or None when two of them disagree.

    Every variant is exact by construction; a disagreement would be a bug, and then the
    caller keeps its integer path rather than trust either.
    """
    names = list(variants)
    outputs = [variants[name](sample) for name in names]
    if any(not np.array_equal(outputs[0], other) for other in outputs[1:]):
        return None
    if len(names) == 1:
        return names[0]
    for name in names:  # warm up: first calls pay for fresh memory
        variants[name](sample)
    best = {}
    for _ in range(TRIES):
        for name in names:
            start = time.perf_counter()
            variants[name](sample)
            elapsed = time.perf_counter() - start
            best[name] = min(best.get(name, elapsed), elapsed)
    return min(best, key=best.get)


def random_int8(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)
