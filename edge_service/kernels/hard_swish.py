"""HARD_SWISH int8: x * relu6(x + 3) / 6 in TFLite's 16-bit fixed point, tabulated per int8 value."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import quantize_multiplier, rounding_divide_by_pot
from edge_service.kernels.registry import Kernel, register

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def downscale_to_int16(multiplier: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier: a Q0.31 multiplier rounded to Q0.15."""
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return INT16_MAX
    return (multiplier + (1 << 15)) >> 16


def srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp's int16 SaturatingRoundingDoublingHighMul."""
    ab = a * b
    nudged = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    high = np.where(nudged >= 0, nudged >> 15, -((-nudged) >> 15))  # C division truncates
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, high)


def doubling_high_mul16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SaturatingDoublingHighMul: like srdhm16 but truncating (it cancels srdhm16's bias)."""
    ab = a * b
    high = np.where(ab >= 0, ab >> 15, -((-ab) >> 15))
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, high)


def saturating_left_shift16(x: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(x * (1 << amount), INT16_MIN, INT16_MAX)


@register("HARD_SWISH")
class HardSwish(Kernel):
    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        self.require_same_shape(x, out)
        hires_scale = np.float32(x.scale) * np.float32(1 / 128)
        # Both oracles divide in float32 before QuantizeMultiplier.
        m, self.out_exponent = quantize_multiplier(float(hires_scale / np.float32(out.scale)))
        self.require(self.out_exponent <= 0, "output scale too small for the fixed-point hard swish")
        self.out_multiplier = downscale_to_int16(m)
        m, self.relu_exponent = quantize_multiplier(float(hires_scale / np.float32(3 / 32768)))
        self.relu_multiplier = downscale_to_int16(m)
        self.input_zero_point, self.output_zero_point = x.zero_point, out.zero_point
        self.table = self.compute(np.arange(-128, 128, dtype=np.int64))

    def compute(self, q: np.ndarray) -> np.ndarray:
        hires = (q - self.input_zero_point) * 128
        preshift_output = srdhm16(hires, self.out_multiplier)
        reluish = hires
        if self.relu_exponent > 0:
            reluish = saturating_left_shift16(reluish, self.relu_exponent - 1)
        reluish = srdhm16(reluish, self.relu_multiplier)
        if self.relu_exponent > 0:
            reluish = saturating_left_shift16(reluish, 1)
        if self.relu_exponent < 0:
            reluish = rounding_divide_by_pot(reluish, -self.relu_exponent)
        reluish = (reluish + (1 << 15)) >> 1  # [-1, 1] to [0, 1]
        out = rounding_divide_by_pot(doubling_high_mul16(reluish, preshift_output), -self.out_exponent)
        return np.clip(out + self.output_zero_point, -128, 127).astype(np.int8)

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.table[x.astype(np.int64) + 128]
