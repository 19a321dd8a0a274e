"""SUB int8: like ADD, both inputs rescaled to twice the larger scale with 20 bits of headroom."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import (
    activation_range, multiply_by_quantized_multiplier, quantize_multiplier, requantize, wrap_int32)
from edge_service.kernels.registry import Kernel, register

LEFT_SHIFT = 20


@register("SUB")
class Sub(Kernel):
    max_version = 5

    def prepare(self) -> None:
        a, b, out = self.tensor(0), self.tensor(1), self.output
        self.require_int8(a, b, out)
        self.require_broadcast(a, b, out)
        sa, sb, so = (float(np.float32(t.scale)) for t in (a, b, out))
        # In double, as both oracles (the installed TFLite Micro too, whatever older sources say).
        twice_max = 2 * max(sa, sb)
        reals = (sa / twice_max, sb / twice_max, twice_max / ((1 << LEFT_SHIFT) * so))
        self.m1, self.m2, self.mo = (quantize_multiplier(r) for r in reals)
        self.zero_points = (a.zero_point, b.zero_point)
        self.lo, self.hi = activation_range(self.op.options.get("fused_activation_function"),
                                            out.scale, out.zero_point)

    def run(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        sa = wrap_int32((a.astype(np.int64) - self.zero_points[0]) << LEFT_SHIFT)
        sb = wrap_int32((b.astype(np.int64) - self.zero_points[1]) << LEFT_SHIFT)
        difference = multiply_by_quantized_multiplier(sa, *self.m1) - multiply_by_quantized_multiplier(sb, *self.m2)
        return requantize(difference, *self.mo, self.output.zero_point, self.lo, self.hi)
