"""DEQUANTIZE: int8 -> float32 as scale * (q - zero_point)."""

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("DEQUANTIZE")
class Dequantize(Kernel):
    max_version = 4

    def prepare(self) -> None:
        x = self.tensor(0)
        self.require(x.dtype == np.int8 and x.quantized, "input must be quantized int8")
        self.require(self.output.dtype == np.float32, "output must be float32")
        self.require_same_shape(x, self.output)
        self.scale, self.zero_point = np.float64(x.scales[0]), x.zero_point

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        return (self.scale * (x.astype(np.int64) - self.zero_point)).astype(np.float32)
