"""MAX_POOL_2D: the largest value of each window, padding ignored."""

import numpy as np

from edge_service.kernels.pooling import PoolKernel
from edge_service.kernels.registry import register


@register("MAX_POOL_2D")
class MaxPool2D(PoolKernel):
    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        best = self.taps(x).max(axis=(3, 4))
        return np.clip(best, self.lo, self.hi).astype(np.int8)
