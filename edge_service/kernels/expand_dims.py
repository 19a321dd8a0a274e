"""EXPAND_DIMS: a size-1 dimension inserted at a constant axis; values unchanged."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("EXPAND_DIMS")
class ExpandDims(Kernel):
    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_same_quantization(x, out)  # LiteRT refuses a change of quantization here
        axis = self.int_constant(1)
        self.require(axis.size == 1, "axis must be one value")
        position = self.axis_value(int(axis.ravel()[0]), len(x.shape) + 1)
        expected = list(x.shape[:position]) + [1] + list(x.shape[position:])
        self.require(list(out.shape) == expected, f"output shape {list(out.shape)} is not {expected}")

    def run(self, x: np.ndarray, *_axis) -> np.ndarray:
        return x.reshape(self.output.shape)
