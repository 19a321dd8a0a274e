"""CONV_2D, int8 with per-channel weights and int32 bias, as one BLAS matrix product.

Fast path: the raw int8 input (padding holds its zero point) times the weights in float32,
exact while every partial sum stays below 2^24, then `FloatRequant`. Where the check at
load fails, the centred product is requantized by the integer path.
"""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range, quantize_multiplier, requantize
from edge_service.kernels.float_requant import for_weights, tile_width
from edge_service.kernels.registry import register
from edge_service.kernels.windows import WindowedKernel

# A float32 sum is exact while every partial sum stays below 2^24.
FLOAT32_EXACT = 1 << 24


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
        if self.fast is not None:
            self.weights = weights.astype(np.float32)
            self.pointwise = (kh, kw, *self.stride) == (1, 1, 1, 1) and self.pad == (0, 0)
            if not self.pointwise:
                self.padded = self.padded_input(x.zero_point)
            self.tile = tile_width(self.rows, oc)
        else:
            self.dtype = exact_float_dtype(depth)
            self.weights = weights.astype(self.dtype)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        if self.fast is None:
            return self.run_integer(x)
        if self.pointwise:
            cols = x.reshape(self.rows, -1).astype(np.float32)
        else:
            cols = self.padded.windows(x).reshape(self.rows, -1)
        return self.fast.apply(cols @ self.weights, self.tile).reshape(self.output.shape)

    def run_integer(self, x: np.ndarray) -> np.ndarray:
        shifted = (x.astype(np.int32) + self.input_offset).astype(self.dtype)
        # Padding is zero after the offset: TFLite skips those taps.
        cols = self.windows(shifted, 0)
        acc = cols.reshape(self.rows, -1) @ self.weights
        acc = acc.astype(np.int64) + self.bias_values
        return requantize(acc, self.multiplier, self.shift, self.output.zero_point,
                          self.lo, self.hi).reshape(self.output.shape)
