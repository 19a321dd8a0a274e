"""Standalone RELU and RELU6 on int8: requantize to the output scale, then clamp."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range, quantize_multiplier, requantize
from edge_service.kernels.registry import Kernel, register


class _Clamp(Kernel):
    activation = "RELU"
    max_version = 3

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        self.require_same_shape(x, out)
        self.input_zero_point = x.zero_point
        # Both oracles divide the scales in float32 (then QuantizeMultiplier in double).
        self.multiplier, self.shift = quantize_multiplier(float(np.float32(x.scale) / np.float32(out.scale)))
        self.lo, self.hi = activation_range(self.activation, out.scale, out.zero_point)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        return requantize(x.astype(np.int64) - self.input_zero_point, self.multiplier, self.shift,
                          self.output.zero_point, self.lo, self.hi)


@register("RELU")
class Relu(_Clamp):
    activation = "RELU"


@register("RELU6")
class Relu6(_Clamp):
    activation = "RELU6"
