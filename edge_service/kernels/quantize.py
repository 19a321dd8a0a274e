"""QUANTIZE: float32 -> int8 (round half away from zero), or int8 -> int8 requantization."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import quantize_multiplier, requantize
from edge_service.kernels.registry import Kernel, register


@register("QUANTIZE")
class Quantize(Kernel):
    max_version = 3

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require(out.dtype == np.int8 and out.quantized, "output must be quantized int8")
        self.require_same_shape(x, out)
        self.require(x.dtype in (np.float32, np.int8), f"input type {x.dtype} is not supported")
        if x.dtype == np.int8:
            self.require(x.quantized, "int8 input must be quantized")
            self.multiplier, self.shift = quantize_multiplier(float(x.scale) / float(out.scale))
            self.input_zero_point = x.zero_point

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        out = self.output
        if x.dtype == np.int8:
            return requantize(x.astype(np.int64) - self.input_zero_point, self.multiplier,
                              self.shift, out.zero_point, -128, 127)
        scaled = x.astype(np.float32) / np.float32(out.scale)
        rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
        return np.clip(rounded.astype(np.int64) + out.zero_point, -128, 127).astype(np.int8)
