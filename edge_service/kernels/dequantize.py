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

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        t = self.tensor(0)
        return (np.float64(t.scales[0]) * (x.astype(np.int64) - t.zero_point)).astype(np.float32)
