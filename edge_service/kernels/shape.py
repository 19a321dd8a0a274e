"""SHAPE: the input's dimensions as a vector (a dynamic batch's Flatten asks for them)."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("SHAPE")
class Shape(Kernel):
    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require(out.dtype in (np.int32, np.int64), f"output type {out.dtype} is not int32 or int64")
        self.require(list(out.shape) == [len(x.shape)], f"output shape {list(out.shape)} is not [{len(x.shape)}]")
        self.value = np.array(x.shape, dtype=out.dtype)  # shapes are fixed once the model is read

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.value
