"""LEAKY_RELU int8: one multiplier for x >= 0, another folding in alpha below, tabulated per value."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from edge_service.kernels.registry import Kernel, register


@register("LEAKY_RELU")
class LeakyRelu(Kernel):
    max_version = 2

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        self.require_same_shape(x, out)
        alpha = np.float32(self.op.options.get("alpha", 0.0))
        self.require(np.isfinite(alpha), "alpha must be finite")
        scale_in, scale_out = np.float32(x.scale), np.float32(out.scale)
        # Both oracles compute these ratios in float32.
        identity = quantize_multiplier(float(scale_in / scale_out))
        alpha_m, alpha_shift = quantize_multiplier(float(scale_in * alpha / scale_out))
        centred = np.arange(-128, 128, dtype=np.int64) - x.zero_point
        # A negative alpha: scale by |alpha| and negate, as the reference kernel does.
        below = multiply_by_quantized_multiplier(centred, abs(alpha_m), alpha_shift)
        below = -below if alpha_m < 0 else below
        above = multiply_by_quantized_multiplier(centred, *identity)
        out_values = np.where(centred >= 0, above, below) + out.zero_point
        self.table = np.clip(out_values, -128, 127).astype(np.int8)

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.table[x.astype(np.int64) + 128]
