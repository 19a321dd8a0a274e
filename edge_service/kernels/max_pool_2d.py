"""MAX_POOL_2D: the largest value of each window, padding ignored (it holds -128, which never wins)."""

import numpy as np

from edge_service.kernels.pooling import PoolKernel
from edge_service.kernels.registry import register


@register("MAX_POOL_2D")
class MaxPool2D(PoolKernel):
    fill = -128

    def prepare(self) -> None:
        super().prepare()
        # 2x2 windows at stride 2 without padding tile the input: two maxima over reshaped views.
        self.pairs = (self.kh, self.kw, *self.stride, *self.pad) == (2, 2, 2, 2, 0, 0)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        best = self.run_pairs(x) if self.pairs else self.run_taps(x)
        if (self.lo, self.hi) != (-128, 127):
            np.clip(best, self.lo, self.hi, out=best)
        return best

    def run_pairs(self, x: np.ndarray) -> np.ndarray:
        n, (oh, ow), c = x.shape[0], self.out_hw, x.shape[3]
        rows = x[:, :2 * oh, :2 * ow].reshape(n, oh, 2, 2 * ow, c)
        best = np.maximum(rows[:, :, 0], rows[:, :, 1]).reshape(n, oh, ow, 2 * c)
        return np.maximum(best[..., :c], best[..., c:])

    def run_taps(self, x: np.ndarray) -> np.ndarray:
        taps = self.tap_views(x)
        best = np.maximum(taps[0], taps[1]) if len(taps) > 1 else taps[0].copy()
        for tap in taps[2:]:
            np.maximum(best, tap, out=best)
        return best
