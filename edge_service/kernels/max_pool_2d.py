"""MAX_POOL_2D: the largest value of each window, padding ignored (it holds -128, which never wins)."""

import numpy as np

from edge_service.kernels.pooling import PoolKernel
from edge_service.kernels.registry import register


@register("MAX_POOL_2D")
class MaxPool2D(PoolKernel):
    fill = -128

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        taps = self.tap_views(x)
        best = np.maximum(taps[0], taps[1]) if len(taps) > 1 else taps[0].copy()
        for tap in taps[2:]:
            np.maximum(best, tap, out=best)
        if (self.lo, self.hi) != (-128, 127):
            np.clip(best, self.lo, self.hi, out=best)
        return best
