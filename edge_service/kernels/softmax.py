"""SOFTMAX int8 -> int8 in fixed point: exp in Q5.26, sums in Q12.19, a reciprocal in Q0.31."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import (
    calculate_input_radius, exp_on_negative_values, fixed_mul, get_reciprocal, quantize_multiplier,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul, wrap_int32)
from edge_service.kernels.registry import Kernel, register

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


@register("SOFTMAX")
class Softmax(Kernel):
    max_version = 3

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        self.require_same_shape(x, out)
        self.require(out.zero_point == -128 and out.scale == np.float32(1 / 256),
                     "int8 softmax output must have scale 1/256 and zero point -128")
        beta = float(np.float32(self.op.options.get("beta", 1.0)))
        real = min(beta * float(x.scale) * (1 << (31 - SCALED_DIFF_INTEGER_BITS)), float((1 << 31) - 1))
        self.multiplier, self.left_shift = quantize_multiplier(real)
        self.require(self.left_shift >= 0, "input scale too small for the fixed-point softmax")
        self.diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, self.left_shift)
        # exp() depends only on the int8 difference to the row maximum: 256 values, computed once.
        diffs = np.arange(-255, 1, dtype=np.int64)
        scaled = saturating_rounding_doubling_high_mul(wrap_int32(diffs << self.left_shift), self.multiplier)
        exps = np.where(diffs >= self.diff_min, exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS), 0)
        self.exp_table = exps                                                     # index: diff + 255
        self.accumulate_table = rounding_divide_by_pot(exps, ACCUMULATION_INTEGER_BITS)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        values = x.astype(np.int64)
        position = values - values.max(axis=-1, keepdims=True) + 255
        used = position >= self.diff_min + 255
        exps = self.exp_table[position]
        reciprocal, bits_over_unit = get_reciprocal(self.accumulate_table[position].sum(axis=-1, keepdims=True),
                                                    ACCUMULATION_INTEGER_BITS)
        exponent = bits_over_unit + 31 - 8
        out = rounding_divide_by_pot(fixed_mul(reciprocal, exps), exponent) - 128
        out = np.where(used, np.clip(out, -128, 127), -128)
        return out.astype(np.int8)
