"""AVERAGE_POOL_2D: the mean of the taps inside the input, rounded half away from zero."""

import numpy as np

from edge_service.kernels.pooling import PAD, PoolKernel
from edge_service.kernels.registry import register


@register("AVERAGE_POOL_2D")
class AveragePool2D(PoolKernel):
    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        taps = self.taps(x)
        inside = taps != PAD
        total = np.where(inside, taps, 0).sum(axis=(3, 4), dtype=np.int64)
        count = np.maximum(inside.sum(axis=(3, 4)), 1)
        half = count // 2
        # C division truncates toward zero; so does this on the magnitude.
        mean = np.where(total > 0, (total + half) // count, -((-total + half) // count))
        return np.clip(mean, self.lo, self.hi).astype(np.int8)
