"""TANH int8: TFLite Micro's gemmlowp fixed point; LiteRT's reference a float lookup table."""

from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

from edge_service.kernels.fixedpoint import (
    INT32_MAX, calculate_input_radius, exp_on_negative_values, fixed_mul,
    multiply_by_quantized_multiplier, rescale, rounding_divide_by_pot, rounding_half_sum)
from edge_service.kernels.registry import Kernel, register

INPUT_INTEGER_BITS = 4


def one_minus_x_over_one_plus_x(a: np.ndarray) -> np.ndarray:
    """(1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out, Newton-Raphson in Q2.29 (gemmlowp)."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    one_q2 = 1 << 29
    x = 1515870810 + fixed_mul(half_denominator, -1010580540)  # 48/17 - 32/17 * d
    for _ in range(3):
        x = x + rescale(fixed_mul(x, one_q2 - fixed_mul(half_denominator, x)), 4, 2)
    return rescale(x - one_q2, 2, 0)


def tanh_q0(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp tanh of Q(integer_bits) raw values; Q0.31 result."""
    negative_abs = np.where(a < 0, a, -a)
    # exp(2n) for n <= 0: doubling a fixed-point value only moves its binary point.
    t = one_minus_x_over_one_plus_x(exp_on_negative_values(negative_abs, integer_bits + 1))
    return np.where(a == 0, 0, np.where(a < 0, -t, t))


def _float_tanh():
    """The C library's tanhf (what LiteRT calls); float64 tanh rounded to float32 without one."""
    name = ctypes.util.find_library("m")
    try:
        tanhf = ctypes.CDLL(name).tanhf if name else None
    except OSError:
        tanhf = None
    if tanhf is None:
        return lambda v: float(np.float32(math.tanh(float(v))))
    tanhf.restype, tanhf.argtypes = ctypes.c_float, [ctypes.c_float]
    return tanhf


@register("TANH")
class Tanh(Kernel):
    max_version = 3

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        self.require_same_shape(x, out)
        # TFLite Micro writes Q0.7 whatever the output says; both agree only on this quantization.
        self.require(np.float32(out.scale) == np.float32(1 / 128) and out.zero_point == 0,
                     "int8 tanh output must have scale 1/128 and zero point 0")
        values = np.arange(-128, 128, dtype=np.int64)
        self.table = self.litert_table(values) if self.mode == "litert-ref" else self.tflm_table(values)

    def tflm_table(self, q: np.ndarray) -> np.ndarray:
        x = self.tensor(0)
        real = float(np.float32(x.scale)) * (1 << (31 - INPUT_INTEGER_BITS))
        mantissa, left_shift = math.frexp(real)
        multiplier = int(math.floor(mantissa * (1 << 31) + 0.5))
        radius = calculate_input_radius(INPUT_INTEGER_BITS, left_shift, 31)
        centred = q - x.zero_point
        q4 = multiply_by_quantized_multiplier(centred, multiplier, left_shift)
        out = np.clip(rounding_divide_by_pot(tanh_q0(q4, INPUT_INTEGER_BITS), 31 - 7), -128, 127)
        out = np.where(centred <= -radius, -128, np.where(centred >= radius, 127, out))
        return out.astype(np.int8)

    def litert_table(self, q: np.ndarray) -> np.ndarray:
        x, out = self.tensor(0), self.output
        tanhf = _float_tanh()
        inverse = np.float32(1) / np.float32(out.scale)
        table = []
        for v in q:
            value = np.float32(tanhf(np.float32(x.scale) * np.float32(v - x.zero_point))) * inverse
            rounded = math.copysign(math.floor(abs(float(value)) + 0.5), float(value))
            table.append(int(rounded) + out.zero_point)
        return np.clip(np.array(table), -128, 127).astype(np.int8)

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.table[x.astype(np.int64) + 128]
