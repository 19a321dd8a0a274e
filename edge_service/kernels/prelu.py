"""PRELU int8: x above zero rescaled, below multiplied by the (broadcast) int8 alpha."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from edge_service.kernels.registry import Kernel, register


@register("PRELU")
class Prelu(Kernel):
    def prepare(self) -> None:
        x, alpha, out = self.tensor(0), self.tensor(1), self.output
        self.require_int8(x, alpha, out)
        self.require(len(alpha.scales) == 1, "alpha must be quantized per tensor")
        self.require_broadcast(x, alpha, out)
        self.require_same_shape(x, out)
        s_in, s_alpha, s_out = (np.float32(t.scale) for t in (x, alpha, out))
        if self.mode == "litert-ref":  # LiteRT multiplies and divides the scales in float32
            real_1, real_2 = float(s_in / s_out), float(s_in * s_alpha / s_out)
        else:  # TFLite Micro in double
            real_1, real_2 = float(s_in) / float(s_out), float(s_in) * float(s_alpha) / float(s_out)
        self.m1, self.m2 = quantize_multiplier(real_1), quantize_multiplier(real_2)
        self.offsets = (x.zero_point, alpha.zero_point, out.zero_point)

    def run(self, x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        zx, za, zo = self.offsets
        centred = x.astype(np.int64) - zx
        above = multiply_by_quantized_multiplier(centred, *self.m1)
        below = multiply_by_quantized_multiplier(centred * (alpha.astype(np.int64) - za), *self.m2)
        return np.clip(np.where(centred >= 0, above, below) + zo, -128, 127).astype(np.int8)
