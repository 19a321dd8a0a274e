"""LOGISTIC int8: input rescaled to Q4.27, gemmlowp's fixed-point logistic, output scale 1/256."""

from __future__ import annotations

import math

import numpy as np

from edge_service.kernels.fixedpoint import (
    calculate_input_radius, logistic_q0, multiply_by_quantized_multiplier, rounding_divide_by_pot)
from edge_service.kernels.registry import Kernel, register

INPUT_INTEGER_BITS = 4


@register("LOGISTIC")
class Logistic(Kernel):
    max_version = 3

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        self.require_same_shape(x, out)
        self.require(out.zero_point == -128, "int8 logistic output zero point must be -128")
        real = float(x.scale) * (1 << (31 - INPUT_INTEGER_BITS))
        q, self.left_shift = math.frexp(real)
        self.multiplier = int(math.floor(q * (1 << 31) + 0.5))
        self.radius = calculate_input_radius(INPUT_INTEGER_BITS, self.left_shift, 31)
        self.zero_point = x.zero_point
        # The output depends on the int8 input alone: tabulate all 256 once.
        self.table = self.compute(np.arange(-128, 128, dtype=np.int64))

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        return self.table[x.astype(np.int64) + 128]

    def compute(self, x: np.ndarray) -> np.ndarray:
        centred = x - self.zero_point
        q4 = multiply_by_quantized_multiplier(centred, self.multiplier, self.left_shift)
        out = rounding_divide_by_pot(logistic_q0(q4, INPUT_INTEGER_BITS), 31 - 8) - 128
        out = np.where(centred <= -self.radius, -128, np.where(centred >= self.radius, 127, out))
        return np.clip(out, -128, 127).astype(np.int8)
