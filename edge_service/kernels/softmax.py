"""SOFTMAX int8 -> int8 in fixed point: exp in Q5.26, sums in Q12.19, a reciprocal in Q0.31.

exp() of the difference to the row maximum is a 256-entry table made at load; the row's
reciprocal is a handful of Python integer operations (gemmlowp's Newton-Raphson), cheaper
than numpy calls on one value.
"""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import (
    INT32_MAX, INT32_MIN, calculate_input_radius, exp_on_negative_values, quantize_multiplier,
    rounding_divide_by_pot, saturating_rounding_doubling_high_mul, wrap_int32)
from edge_service.kernels.registry import Kernel, register

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12


def _high_mul(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    nudged = a * b + ((1 << 30) if a * b >= 0 else 1 - (1 << 30))
    return nudged >> 31 if nudged >= 0 else -((-nudged) >> 31)


def _times_four(x: int) -> int:
    """gemmlowp's saturating x * 2^2 (Rescale from 4 to 2, or 2 to 0, integer bits)."""
    threshold = (1 << 29) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return ((x << 2) + (1 << 31)) % (1 << 32) - (1 << 31)


def reciprocal(total: int, integer_digits: int) -> tuple[int, int]:
    """(1 / total in Q0.31, bits over unit) for a positive fixed-point total, as gemmlowp computes it."""
    headroom_plus_one = 32 - total.bit_length()
    shifted = ((total << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    shifted = (shifted + (1 << 31)) % (1 << 32) - (1 << 31)
    half_sum = shifted + INT32_MAX
    half_sum += 1 if half_sum >= 0 else -1
    half_denominator = half_sum // 2 if half_sum >= 0 else -((-half_sum) // 2)
    x = 1515870810 + _high_mul(half_denominator, -1010580540)       # 48/17 - 32/17 d
    for _ in range(3):
        x = x + _times_four(_high_mul(x, (1 << 29) - _high_mul(half_denominator, x)))
    return _times_four(x >> 1), integer_digits - headroom_plus_one


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
        self.exp_list, self.accumulate_list = exps.tolist(), self.accumulate_table.tolist()
        self.short = x.size <= 64 and len(x.shape) > 0 and x.size == x.shape[-1]

    def run_short(self, x: np.ndarray) -> np.ndarray:
        """One short row in Python integers: fewer steps than numpy calls on ten values."""
        values = x.ravel().tolist()
        top = max(values) - 255
        positions = [v - top for v in values]
        scale, bits = reciprocal(sum(self.accumulate_list[p] for p in positions), ACCUMULATION_INTEGER_BITS)
        exponent = bits + 31 - 8
        half = 1 << (exponent - 1)
        exps = self.exp_list
        out = [min((((exps[p] * scale + (1 << 30)) >> 31) + half >> exponent) - 128, 127) for p in positions]
        return np.array(out, np.int8).reshape(x.shape)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        if self.short:
            return self.run_short(x)
        rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
        position = rows - rows.max(axis=1, keepdims=True) + 255
        exps = self.exp_table[position]
        totals = self.accumulate_table[position].sum(axis=1).tolist()
        factors = [reciprocal(int(t), ACCUMULATION_INTEGER_BITS) for t in totals]
        scale = np.array([[f[0]] for f in factors], np.int64)
        exponent = np.array([[f[1] + 31 - 8] for f in factors], np.int64)
        # exps and the reciprocal are >= 0: the high multiply and the rounding shift round half up
        product = (exps * scale + (1 << 30)) >> 31
        out = ((product + (np.int64(1) << (exponent - 1))) >> exponent) - 128
        # Unused taps have exp 0 and come out at -128 by themselves.
        return np.minimum(out, 127).astype(np.int8).reshape(x.shape)
