"""TFLite's integer arithmetic, vectorised on int64 numpy arrays holding int32 values.

Reproduces, bit for bit: QuantizeMultiplier, MultiplyByQuantizedMultiplier with double
rounding (gemmlowp's SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), and the
gemmlowp fixed-point functions the int8 softmax and logistic kernels use. Written from the
definitions in TFLite's quantization spec and gemmlowp's documented semantics.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(multiplier Q0.31, shift) with real = multiplier * 2^(shift - 31); shift > 0 is a left shift."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = _round_half_away(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int32, as the C kernels' int32 arithmetic does."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp SRDHM: round(a * b / 2^31), saturating the single overflow case."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    nudged = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    # C integer division truncates toward zero.
    result = np.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, result)


def rounding_divide_by_pot(x, exponent):
    """x / 2^exponent, rounding half away from zero."""
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """TFLite's MultiplyByQuantizedMultiplier (double rounding) on int32 values."""
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def saturating_rounding_multiply_by_pot(x, exponent: int):
    """x * 2^exponent: saturating for exponent > 0, rounding for exponent < 0."""
    x = np.asarray(x, np.int64)
    if exponent == 0:
        return x
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    shifted = wrap_int32(x << exponent)
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))


def fixed_mul(a, b):
    """Product of two gemmlowp fixed-point raw values (integer bits add up)."""
    return saturating_rounding_doubling_high_mul(a, b)


def rescale(x, src_integer_bits: int, dst_integer_bits: int):
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor series around -1/8."""
    constant_term = 1895147668          # exp(-1/8) in Q0.31
    constant_1_over_3 = 715827883       # 1/3 in Q0.31
    x = a + (1 << 28)                   # a + 1/8
    x2 = fixed_mul(x, x)
    x3 = fixed_mul(x2, x)
    x4 = fixed_mul(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(fixed_mul(x4_over_4 + x3, constant_1_over_3) + x2, -1)
    return constant_term + fixed_mul(constant_term, x + poly)


# exp(-2^k) in Q0.31 for the barrel shifter, k = -2 .. 4.
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, integer_bits: int):
    """exp(a) for a <= 0 given in Q(integer_bits).(31-integer_bits); result in Q0.31."""
    a = np.asarray(a, np.int64)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1  # gemmlowp FromScalar(1) is the raw value 1: a mod 1/4
    a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, fixed_mul(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def rounding_half_sum(a, b):
    total = np.asarray(a, np.int64) + np.asarray(b, np.int64)
    total = total + np.where(total >= 0, 1, -1)
    return np.where(total >= 0, total // 2, -((-total) // 2))


def one_over_one_plus_x_for_x_in_0_1(a):
    """1 / (1 + a) for a in [0, 1), Q0.31 in and out, by Newton-Raphson in Q2.29."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    constant_48_over_17 = 1515870810
    constant_neg_32_over_17 = -1010580540
    one_q2 = 1 << 29
    x = constant_48_over_17 + fixed_mul(half_denominator, constant_neg_32_over_17)
    for _ in range(3):
        half_denominator_times_x = fixed_mul(half_denominator, x)
        one_minus = one_q2 - half_denominator_times_x
        x = x + rescale(fixed_mul(x, one_minus), 4, 2)
    return rescale(x >> 1, 2, 0)


def get_reciprocal(x, x_integer_digits: int):
    """(1 / x scaled into Q0.31, num_bits_over_unit) for positive x in Q(x_integer_digits)."""
    x = np.asarray(x, np.int64)
    headroom_plus_one = 32 - _bit_length(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_sum_minus_one = wrap_int32(((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), num_bits_over_unit


def _bit_length(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.int64)
    out = np.zeros(x.shape, np.int64)
    v = x.copy()
    for step in (16, 8, 4, 2, 1):
        big = v >= (np.int64(1) << step)
        out = out + np.where(big, step, 0)
        v = np.where(big, v >> step, v)
    return out + (v > 0)


def logistic_q0(a, integer_bits: int):
    """gemmlowp logistic(a) for a in Q(integer_bits); result in Q0.31."""
    a = np.asarray(a, np.int64)
    abs_a = np.where(a > 0, a, -a)
    positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-abs_a, integer_bits))
    negative = INT32_MAX - positive
    return np.where(a == 0, 1 << 30, np.where(a > 0, positive, negative))


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1)
                          * (1 << (total_signed_bits - input_integer_bits)) / (1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


def activation_range(activation: str, scale: float, zero_point: int, qmin: int = -128,
                     qmax: int = 127) -> tuple[int, int]:
    """The int8 clamp a fused activation implies (TFLite's CalculateActivationRangeQuantized)."""
    def quantize(value: float) -> int:
        # The C code divides in float32 before rounding.
        return zero_point + _round_half_away(float(np.float32(value) / np.float32(scale)))

    if activation == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    if activation in ("NONE", None):
        return qmin, qmax
    from edge_service.errors import ModelError
    raise ModelError(f"fused activation {activation} is not supported on int8")


def requantize(acc, multiplier, shift, zero_point: int, lo: int, hi: int) -> np.ndarray:
    """int32 accumulators to int8 outputs: scale, add the zero point, clamp."""
    out = multiply_by_quantized_multiplier(acc, multiplier, shift) + zero_point
    return np.clip(out, lo, hi).astype(np.int8)
