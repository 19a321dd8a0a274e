"""AVERAGE_POOL_2D: the mean of the taps inside the input, rounded half away from zero."""

import numpy as np

from edge_service.kernels.pooling import PoolKernel
from edge_service.kernels.registry import register


@register("AVERAGE_POOL_2D")
class AveragePool2D(PoolKernel):
    fill = 0
    dtype = np.int32

    def prepare(self) -> None:
        super().prepare()
        # How many taps of each window fall inside the input: fixed by the geometry.
        inside = self.padded_input(0, np.int32)
        np.copyto(inside.interior, 1)
        count = sum(inside.buffer[s] for s in self.tap_slices)[..., :1]
        self.count = np.maximum(count, 1)
        self.half = self.count // 2

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        taps = self.tap_views(x)
        total = taps[0].copy()
        for tap in taps[1:]:
            total += tap
        # C division truncates toward zero; so does this on the magnitude.
        mean = np.where(total > 0, (total + self.half) // self.count, -((-total + self.half) // self.count))
        return np.clip(mean, self.lo, self.hi).astype(np.int8)
