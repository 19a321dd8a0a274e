"""CONV_2D, int8 with per-channel weights and int32 bias, as one BLAS matrix product."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range, quantize_multiplier, requantize
from edge_service.kernels.registry import register
from edge_service.kernels.windows import WindowedKernel

# A float32 sum is exact while every partial sum stays below 2^24.
FLOAT32_EXACT = 1 << 24
# A shallow convolution (the conversion layer: 3x3 on one channel) has so few possible
# accumulator values that a table of its exact requantized outputs is cheaper than requantizing.
MAX_TABLE_ENTRIES = 1 << 21  # 2 MiB of int8: a 3x3 conversion layer of K = 8 takes about 1.5
# Output pixels per band on that path: small enough that BLAS runs each product on one thread
# (its threads fight over a busy CPU) and the band stays in cache.
TABLE_BAND_PIXELS = 4096


def per_channel_multipliers(input_scale: float, weight_scales: np.ndarray, output_scale: float,
                            channels: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's PopulateConvolutionQuantizationParams: one (multiplier, shift) per channel."""
    scales = np.broadcast_to(weight_scales.astype(np.float32), (channels,))
    pairs = [quantize_multiplier(float(input_scale) * float(s) / float(output_scale)) for s in scales]
    return (np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64))


def exact_float_dtype(depth: int, max_input: int = 255, max_weight: int = 128) -> type:
    """float32 when the dot products of this depth are exact in it, else float64."""
    return np.float32 if depth * max_input * max_weight < FLOAT32_EXACT else np.float64


@register("CONV_2D")
class Conv2D(WindowedKernel):
    max_version = 8

    def prepare(self) -> None:
        x, w, out = self.tensor(0), self.tensor(1), self.output
        self.require_int8(x, w, out)
        self.require(len(x.shape) == 4 and len(w.shape) == 4, "input and filter must be 4-D")
        oc, kh, kw, ic = w.shape
        self.require(ic > 0 and x.shape[3] % ic == 0, "filter channels do not match the input")
        self.require(x.shape[3] == ic, "grouped convolution is not supported")
        o = self.op.options
        self.prepare_windows(x, oc, kh, kw, (o.get("stride_h", 1), o.get("stride_w", 1)),
                             (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)), o.get("padding"), ic)
        self.input_offset = -x.zero_point
        depth = kh * kw * ic
        self.dtype = exact_float_dtype(depth)
        self.weights = self.constant(1).reshape(oc, depth).T.astype(self.dtype)  # (KH*KW*C, OC)
        self.bias_values = self.bias(2, oc)
        self.multiplier, self.shift = per_channel_multipliers(x.scale, w.scales, out.scale, oc)
        self.lo, self.hi = activation_range(o.get("fused_activation_function"), out.scale, out.zero_point)
        self.table = self.requantize_table(x.zero_point)

    def requantize_table(self, input_zero_point: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(table, per-channel index offset) of every reachable accumulator's output, or None if too many.

        The dot product of channel c lies in [low_c, high_c] (from its weights and the int8
        input range); entry offset_c + dot holds requantize(dot + bias_c), computed by the
        same function as the direct path, so the two are identical.
        """
        w = self.weights.astype(np.int64)                       # (depth, OC)
        v_lo, v_hi = -128 - input_zero_point, 127 - input_zero_point
        low = np.minimum(w * v_lo, w * v_hi).sum(axis=0)
        high = np.maximum(w * v_lo, w * v_hi).sum(axis=0)
        spans = high - low + 1
        if spans.sum() > MAX_TABLE_ENTRIES or self.dtype != np.float32:
            return None
        starts = np.concatenate([[0], np.cumsum(spans)[:-1]])
        table = np.empty(int(spans.sum()), np.int8)
        for c in range(len(spans)):  # one channel at a time keeps the int64 temporaries small
            dots = np.arange(low[c], high[c] + 1, dtype=np.int64)
            table[starts[c]:starts[c] + spans[c]] = requantize(
                dots + self.bias_values[c], self.multiplier[c], self.shift[c], self.output.zero_point, self.lo, self.hi)
        return table, (starts - low).astype(np.int32)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        shifted = (x.astype(np.int32) + self.input_offset).astype(self.dtype)
        # Padding is zero after the offset: TFLite skips those taps.
        cols = self.windows(shifted, 0)
        if self.table is not None:
            return self._run_tabled(cols)
        n, oh, ow = cols.shape[:3]
        acc = cols.reshape(n * oh * ow, -1) @ self.weights
        acc = acc.astype(np.int64) + self.bias_values
        return requantize(acc, self.multiplier, self.shift, self.output.zero_point,
                          self.lo, self.hi).reshape(self.output.shape)

    def _run_tabled(self, cols: np.ndarray) -> np.ndarray:
        """The table path, in bands of output rows: dot products, then a look-up of the exact output."""
        table, offsets = self.table
        n, oh, ow = cols.shape[:3]
        depth, channels = self.weights.shape
        out = np.empty((n, oh, ow, channels), np.int8)
        step = max(1, TABLE_BAND_PIXELS // ow)
        for b in range(n):
            for r in range(0, oh, step):
                acc = cols[b, r:r + step].reshape(-1, depth) @ self.weights
                out[b, r:r + step] = table[acc.astype(np.int32) + offsets].reshape(-1, ow, channels)
        return out.reshape(self.output.shape)
