"""CONV_2D, int8 with per-channel weights and int32 bias, as one BLAS matrix product.

Fast paths, both exact and timed against each other at load: the raw int8 input (padding
holds its zero point) times the weights in float32, exact while every partial sum stays
below 2^24, then `FloatRequant.apply`; or [raw input, 1] times weights that fold in the
scale and the constant, in float64, where every partial sum is provably a whole number of
units below 2^53 (then only clip and cast remain). The float32 product also comes in a
tap-major im2col layout, quicker to copy when a window's row is short (few channels).
Where the check at load fails, the centred product is requantized by the integer path.
"""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range, quantize_multiplier, requantize
from edge_service.kernels.float_requant import for_weights, tile_width
from edge_service.kernels.registry import register
from edge_service.kernels.variants import fastest, random_int8
from edge_service.kernels.windows import WindowedKernel

# A float32 sum is exact while every partial sum stays below 2^24.
FLOAT32_EXACT = 1 << 24
# A shallow layer (a conversion layer: 3x3 on one or three channels) reaches so few distinct
# accumulator values that a table of its exact requantized outputs is cheaper than requantizing.
MAX_TABLE_ENTRIES = 1 << 21  # 2 MiB of int8: a 3x3 conversion layer of K = 8 takes about 1.5
# Output pixels per band on that path: small enough that each product stays in cache.
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
        weights = self.constant(1).reshape(oc, depth).T                    # (KH*KW*C, OC)
        self.bias_values = self.bias(2, oc)
        self.multiplier, self.shift = per_channel_multipliers(x.scale, w.scales, out.scale, oc)
        self.lo, self.hi = activation_range(o.get("fused_activation_function"), out.scale, out.zero_point)
        self.rows = x.shape[0] * self.out_hw[0] * self.out_hw[1]
        self.fast = for_weights(weights, x.zero_point, self.bias_values, self.multiplier, self.shift,
                                out.zero_point, self.lo, self.hi)
        self.dtype = exact_float_dtype(depth)
        self.weights = np.ascontiguousarray(weights, self.dtype)
        if self.fast is not None:
            self.prepare_fast(weights, x.zero_point)

    def prepare_fast(self, weights: np.ndarray, zero_point: int) -> None:
        kh, kw = self.kh, self.kw
        self.pointwise = (kh, kw, *self.stride) == (1, 1, 1, 1) and self.pad == (0, 0)
        self.tile = tile_width(self.rows, weights.shape[1])
        self.single = np.ascontiguousarray(weights, np.float32)  # row-major: BLAS is quicker so
        variants = {"float32": self.run_float32}
        table = self.requantize_table(zero_point)
        if table is not None:
            self.table = table
            variants["table"] = self.run_tabled
        folded = self.fast.folded(weights)
        if folded is not None:
            self.folded = folded
            depth = weights.shape[0]
            self.columns = np.ones((self.rows, depth + 1))   # the last column multiplies the constant
            self.column_view = self.columns[:, :depth]
            if not self.pointwise:
                self.padded64 = self.padded_input(zero_point, np.float64)
                self.column_view = self.columns[:, :depth].reshape(self.padded64.view.shape)
            if np.shares_memory(self.column_view, self.columns):  # a view, so copies land in place
                variants["folded float64"] = self.run_folded
        if not self.pointwise:
            self.padded = self.padded_input(zero_point)
            self.tap_columns, self.taps = self.padded.tap_major()
            self.tap_target = self.tap_columns.reshape(self.taps.shape)
            variants["float32 tap-major"] = self.run_tap_major
        choice = fastest(variants, random_int8(self.input_shape))
        self.variant = choice
        self.fast_run = variants.get(choice)
        if choice is None:
            self.fast = None
        # Keep only the chosen variant's buffers.
        tap_major = ("tap_columns", "taps", "tap_target")
        unused = {"float32": ("columns", "column_view", "padded64", "folded", "table", *tap_major),
                  "float32 tap-major": ("columns", "column_view", "padded64", "folded", "table"),
                  "table": ("columns", "column_view", "padded64", "folded", "padded", "single", *tap_major)}.get(
            choice, ("padded", "single", "table", *tap_major))
        for name in unused:
            self.__dict__.pop(name, None)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        if self.fast is None:
            return self.run_integer(x)
        return self.fast_run(x)

    def run_float32(self, x: np.ndarray) -> np.ndarray:
        if self.pointwise:
            cols = x.reshape(self.rows, -1).astype(np.float32)
        else:
            cols = self.padded.windows(x).reshape(self.rows, -1)
        return self.fast.apply(cols @ self.single, self.tile).reshape(self.output.shape)

    def run_tap_major(self, x: np.ndarray) -> np.ndarray:
        np.copyto(self.padded.interior, x, casting="unsafe")
        np.copyto(self.tap_target, self.taps)
        return self.fast.apply(self.tap_columns.T @ self.single, self.tile).reshape(self.output.shape)

    def run_folded(self, x: np.ndarray) -> np.ndarray:
        source = x.reshape(self.rows, -1) if self.pointwise else self.padded64.windows(x)
        np.copyto(self.column_view, source, casting="unsafe")
        return self.fast.finish(self.columns @ self.folded, self.tile).reshape(self.output.shape)

    def requantize_table(self, input_zero_point: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(table, per-channel index offset) of every reachable accumulator's output, or None if too many.

        The centred dot product of channel c lies in [low_c, high_c] (from its weights and the
        int8 input range); entry offset_c + dot holds requantize(dot + bias_c), computed by the
        integer path itself, so the two are identical.
        """
        if self.dtype != np.float32:
            return None
        w = self.weights.astype(np.int64)                       # (depth, OC)
        v_lo, v_hi = -128 - input_zero_point, 127 - input_zero_point
        low = np.minimum(w * v_lo, w * v_hi).sum(axis=0)
        high = np.maximum(w * v_lo, w * v_hi).sum(axis=0)
        spans = high - low + 1
        if spans.sum() > MAX_TABLE_ENTRIES:
            return None
        starts = np.concatenate([[0], np.cumsum(spans)[:-1]])
        table = np.empty(int(spans.sum()), np.int8)
        for c in range(len(spans)):  # one channel at a time keeps the int64 temporaries small
            dots = np.arange(low[c], high[c] + 1, dtype=np.int64)
            table[starts[c]:starts[c] + spans[c]] = requantize(
                dots + self.bias_values[c], self.multiplier[c], self.shift[c], self.output.zero_point, self.lo, self.hi)
        return table, (starts - low).astype(np.int32)

    def run_tabled(self, x: np.ndarray) -> np.ndarray:
        """Centred dot products in bands of output rows, then a look-up of the exact output."""
        table, offsets = self.table
        cols = self.windows((x.astype(np.int32) + self.input_offset).astype(np.float32), 0)
        n, oh, ow = cols.shape[:3]
        depth, channels = self.weights.shape
        out = np.empty((n, oh, ow, channels), np.int8)
        step = max(1, TABLE_BAND_PIXELS // ow)
        for b in range(n):
            for r in range(0, oh, step):
                acc = cols[b, r:r + step].reshape(-1, depth) @ self.weights
                out[b, r:r + step] = table[acc.astype(np.int32) + offsets].reshape(-1, ow, channels)
        return out.reshape(self.output.shape)

    def run_integer(self, x: np.ndarray) -> np.ndarray:
        shifted = (x.astype(np.int32) + self.input_offset).astype(self.dtype)
        # Padding is zero after the offset: TFLite skips those taps.
        cols = self.windows(shifted, 0)
        acc = cols.reshape(self.rows, -1) @ self.weights
        acc = acc.astype(np.int64) + self.bias_values
        return requantize(acc, self.multiplier, self.shift, self.output.zero_point,
                          self.lo, self.hi).reshape(self.output.shape)
