"""MUL int8: the product of the centred inputs, requantized once."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range, quantize_multiplier, requantize
from edge_service.kernels.registry import Kernel, register


@register("MUL")
class Mul(Kernel):
    max_version = 6

    def prepare(self) -> None:
        a, b, out = self.tensor(0), self.tensor(1), self.output
        self.require_int8(a, b, out)
        self.require_broadcast(a, b, out)
        sa, sb, so = (np.float32(t.scale) for t in (a, b, out))
        # TFLite Micro multiplies the scales in double; LiteRT's reference in float32.
        real = float(sa * sb / so) if self.mode == "litert-ref" else float(sa) * float(sb) / float(so)
        self.multiplier, self.shift = quantize_multiplier(real)
        self.offsets = (-a.zero_point, -b.zero_point)
        self.lo, self.hi = activation_range(self.op.options.get("fused_activation_function"),
                                            out.scale, out.zero_point)

    def run(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        product = (a.astype(np.int64) + self.offsets[0]) * (b.astype(np.int64) + self.offsets[1])
        return requantize(product, self.multiplier, self.shift, self.output.zero_point, self.lo, self.hi)
