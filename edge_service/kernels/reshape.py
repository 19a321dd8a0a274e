"""RESHAPE: the same int8 values under a new shape (quantization must not change)."""

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("RESHAPE")
class Reshape(Kernel):
    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require(x.size == out.size, f"cannot reshape {x.shape} into {out.shape}")
        self.require(x.dtype == out.dtype, "input and output types differ")

    def run(self, x: np.ndarray, *_shape) -> np.ndarray:
        return x.reshape(self.output.shape)
