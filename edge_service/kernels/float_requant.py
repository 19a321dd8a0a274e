"""Per-channel requantization as one float64 floor, used only where a check at load proves it exact.

TFLite's MultiplyByQuantizedMultiplier rounds twice (SRDHM, then a rounding right shift).
For a multiplier 0 < M < 2^31, both roundings fold into one floor:
  right shift e >= 1:  floor((a*M + 2^30 + 2^(30+e) - [a*M < -2^30] * 2^31) / 2^(31+e))
  left shift L >= 0:   floor((a*M*2^L + 2^30) / 2^31)          (when a*2^L does not wrap)
Every term is a multiple of one power of two, so float64 holds the value exactly while it
stays under 2^53 of those units. The accumulators arrive as exact integers in float32; the
result is clip(floor(acc * scale + const)) computed in float64, a function of acc alone and
non-decreasing in it. `verify` compares it with the integer kernel on both sides of every
output step of every channel, over every accumulator the weights allow: a monotone step
function that agrees there agrees everywhere. A layer that fails runs the integer path.
"""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import multiply_by_quantized_multiplier

try:  # the clip ufunc itself: np.clip adds a Python layer that costs more than small arrays do
    from numpy._core.umath import clip as _clip
except ImportError:  # numpy < 2
    from numpy.core.umath import clip as _clip

FLOAT32_EXACT = 1 << 24
SMALL = 4096  # below this many values, fewer numpy calls beat faster loops (same arithmetic)
WINDOW = np.arange(-2, 3)  # accumulators tried around each estimated step


def tile_width(rows: int, channels: int, longest: int = 2048) -> int:
    """How many rows to lay side by side so per-channel constants broadcast over long rows."""
    best = 1
    for t in range(1, rows + 1):
        if rows % t == 0 and t * channels <= longest:
            best = t
    return best


class FloatRequant:
    """clip(MBQM(acc + offset) + zero_point, lo, hi) for exact float32 accumulators of (rows, C)."""

    def __init__(self, multiplier: np.ndarray, shift: np.ndarray, offset: np.ndarray, zero_point: int,
                 lo: int, hi: int, acc_min: np.ndarray, acc_max: np.ndarray) -> None:
        channels = len(offset)
        self.multiplier = np.broadcast_to(np.asarray(multiplier, np.int64), (channels,)).copy()
        self.shift = np.broadcast_to(np.asarray(shift, np.int64), (channels,)).copy()
        self.offset = np.asarray(offset, np.int64)
        self.zero_point, self.lo, self.hi = int(zero_point), int(lo), int(hi)
        self.acc_min, self.acc_max = np.asarray(acc_min, np.int64), np.asarray(acc_max, np.int64)
        self.exact = self._representable() and self._constants() and self.verify()

    def _representable(self) -> bool:
        m, shift = self.multiplier, self.shift
        total = np.maximum(np.abs(self.acc_min + self.offset), np.abs(self.acc_max + self.offset))
        left = np.maximum(shift, 0)
        ok = ((m >= 1) & (m < 1 << 31) & (shift >= -31) & (shift <= 30)
              & (total << left < 1 << 31)  # no int32 wrap before the multiply
              & (np.maximum(np.abs(self.acc_min), np.abs(self.acc_max)) < FLOAT32_EXACT))
        return self.lo <= self.hi and bool(np.all(ok))

    def _constants(self) -> bool:
        """scale, const and the negative-side correction per channel, from exact integers."""
        scale, const, step, below, middle, self.units = [], [], [], [], [], []
        for m, shift, offset in zip(self.multiplier.tolist(), self.shift.tolist(), self.offset.tolist()):
            e = max(-shift, 0)
            units = 31 + e                      # the value is an integer count of 2^-units
            product = m << max(shift, 0)
            nudge = (1 << 30) + ((1 << (30 + e)) if e else 0)
            # the output is shifted so that `lo` lands on 0: uint8 truncation is then the floor
            constant = offset * product + nudge + ((self.zero_point - self.lo) << units)
            # Python divides integers correctly rounded; `verify` judges what rounding remains.
            scale.append(product / (1 << units))
            const.append(constant / (1 << units))
            step.append(2.0 ** -e if e else 0.0)
            # a*M < -2^30 holds from a = -1 down when M > 2^30 (from -2 when M is 2^30, ...)
            below.append(-((1 << 30) // m) - 1 - offset)
            # the value half an accumulator above `below`: splits the two sides exactly
            middle.append(((2 * below[-1] + 1) * product + 2 * constant) / (1 << (units + 1)))
            self.units.append((product, constant))
        self.scale, self.const, self.step = np.array(scale), np.array(const), np.array(step)
        self.below = np.array(below, np.float32)  # acc <= below takes the correction
        self.middle = np.array(middle)
        # Below the zero point nothing is ever clipped away only when lo < zero_point.
        self.correct = self.lo < self.zero_point and bool(np.any(self.step))
        self.top = float(self.hi - self.lo)
        self.lo_byte = np.uint8(self.lo & 0xFF)  # adding it modulo 256 maps 0..255 onto lo..hi
        return bool(np.all(np.abs(below) < FLOAT32_EXACT))

    def integer(self, acc: np.ndarray) -> np.ndarray:
        """The reference: TFLite's integer requantization of int64 accumulators (rows, C)."""
        out = multiply_by_quantized_multiplier(acc + self.offset, self.multiplier, self.shift) + self.zero_point
        return np.clip(out, self.lo, self.hi).astype(np.int8)

    def apply(self, acc: np.ndarray, tile: int = 1) -> np.ndarray:
        """int8 outputs (rows, C) of exact float32 accumulators (rows, C); `tile` must divide rows."""
        rows, channels = acc.shape
        flat = acc.reshape(rows // tile, tile * channels) if tile > 1 else acc
        scale, const, below, step, _ = self._tiled(tile)
        if flat.size <= SMALL:
            value = flat * scale                  # float32 widened to float64, then multiplied
        else:
            value = flat.astype(np.float64)
            value *= scale
        value += const
        return self._finish(value, flat <= below if self.correct else None, step, rows, channels)

    def folded(self, weights: np.ndarray) -> np.ndarray | None:
        """(depth + 1, C) float64 weights whose product with [raw x, 1] is the value itself.

        None unless every partial sum of every input is a whole number of units below 2^53:
        then BLAS computes the value exactly in any order, as `apply` does.
        """
        w = weights.astype(np.int64)
        magnitude = (np.abs(w).sum(axis=0) * 128).tolist()
        if any(a * p + abs(c) >= 1 << 53 for a, (p, c) in zip(magnitude, self.units)):
            return None
        return np.vstack([w * self.scale, self.const[None]])

    def finish(self, value: np.ndarray, tile: int = 1) -> np.ndarray:
        """int8 outputs (rows, C) of the exact values (rows, C) a `folded` product gives; reuses value."""
        rows, channels = value.shape
        flat = value.reshape(rows // tile, tile * channels) if tile > 1 else value
        *_, step, middle = self._tiled(tile)
        return self._finish(flat, flat < middle if self.correct else None, step, rows, channels)

    def _finish(self, value: np.ndarray, negative, step: np.ndarray, rows: int, channels: int) -> np.ndarray:
        if negative is not None:
            value -= np.multiply(negative, step)  # subtracting 0.0 elsewhere changes nothing
        _clip(value, 0.0, self.top, out=value)
        out = value.astype(np.uint8)  # truncation: the floor of a value >= 0
        if self.lo:
            np.add(out, self.lo_byte, out=out)
        return out.view(np.int8).reshape(rows, channels)

    def _tiled(self, tile: int) -> tuple[np.ndarray, ...]:
        cache = self.__dict__.setdefault("_tiles", {})
        if tile not in cache:
            cache[tile] = tuple(np.tile(c, tile) for c in (self.scale, self.const, self.below, self.step,
                                                            self.middle))
        return cache[tile]

    def verify(self) -> bool:
        """True when `apply` equals `integer` on every accumulator the weights allow."""
        lo_acc, hi_acc = self.acc_min.astype(np.float64), self.acc_max.astype(np.float64)
        levels = np.arange(self.lo + 1, self.hi + 1, dtype=np.float64)[:, None]
        # the accumulator where the ideal real-valued output crosses each level, with and
        # without the negative-side correction (it moves the step by 2^31 / M accumulators)
        estimates = [np.round((levels - self.lo - self.const + extra) / self.scale)
                     for extra in ((0.0, self.step) if self.correct else (0.0,))]
        estimate = np.clip(np.concatenate(estimates), lo_acc - 8, hi_acc + 8)
        points = (estimate[None] + WINDOW[:, None, None]).reshape(-1, len(self.offset))
        points = np.clip(np.concatenate([points, lo_acc[None], hi_acc[None]]), lo_acc, hi_acc).astype(np.int64)
        expected = self.integer(points)
        if not np.array_equal(self.apply(points.astype(np.float32)), expected):
            return False
        # Each step must fall inside its window (or outside the allowed accumulators).
        windows = expected[:-2].reshape(len(WINDOW), len(estimates), len(levels), len(self.offset))
        windows = windows.astype(np.int64)
        k = levels.astype(np.int64)
        inside = np.any((windows[0] < k) & (windows[-1] >= k), axis=0)
        at_min, at_max = expected[-2].astype(np.int64), expected[-1].astype(np.int64)
        outside = (at_min >= k) | (at_max < k)
        return bool(np.all(inside | outside))


def for_weights(weights: np.ndarray, input_zero_point: int, bias: np.ndarray, multiplier, shift,
                zero_point: int, lo: int, hi: int) -> FloatRequant | None:
    """The fast requantizer of a product `x @ weights` (depth, C) of raw int8 x, or None.

    The input zero point and the bias fold into the per-channel offset; padding must then
    hold the zero point itself. None when float32 cannot hold every partial sum exactly
    or the check at load fails: the caller runs the integer path.
    """
    w = weights.astype(np.int64)
    if np.any(np.abs(w).sum(axis=0) * 128 >= FLOAT32_EXACT):
        return None
    offset = np.asarray(bias, np.int64) - input_zero_point * w.sum(axis=0)
    acc_min = np.minimum(w * -128, w * 127).sum(axis=0)
    acc_max = np.maximum(w * -128, w * 127).sum(axis=0)
    requant = FloatRequant(multiplier, shift, offset, zero_point, lo, hi, acc_min, acc_max)
    return requant if requant.exact else None
