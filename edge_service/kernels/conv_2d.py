"""CONV_2D, int8 with per-channel weights and int32 bias, as one BLAS matrix product."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range, quantize_multiplier, requantize
from edge_service.kernels.registry import Kernel, register
from edge_service.kernels.windows import output_size_and_padding, padded_elements, windows

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
class Conv2D(Kernel):
    max_version = 8

    def prepare(self) -> None:
        x, w, out = self.tensor(0), self.tensor(1), self.output
        self.require_int8(x, w, out)
        self.require(len(x.shape) == 4 and len(w.shape) == 4, "input and filter must be 4-D")
        oc, self.kh, self.kw, ic = w.shape
        self.require(ic > 0 and x.shape[3] % ic == 0, "filter channels do not match the input")
        self.require(x.shape[3] == ic, "grouped convolution is not supported")
        o = self.op.options
        self.stride = (o.get("stride_h", 1), o.get("stride_w", 1))
        self.dilation = (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1))
        self.require(min(self.stride + self.dilation) >= 1, "stride and dilation must be >= 1")
        oh, self.pad_h = output_size_and_padding(x.shape[1], self.kh, self.stride[0], self.dilation[0], o.get("padding"))
        ow, self.pad_w = output_size_and_padding(x.shape[2], self.kw, self.stride[1], self.dilation[1], o.get("padding"))
        self.require(tuple(out.shape) == (x.shape[0], oh, ow, oc),
                     f"output shape {out.shape} does not match {(x.shape[0], oh, ow, oc)}")
        self.out_hw = (oh, ow)
        self.check_workspace(x.shape[0] * oh * ow * self.kh * self.kw * ic)
        self.check_workspace(padded_elements(x.shape, self.kh, self.kw, self.stride, self.dilation,
                                             (self.pad_h, self.pad_w), self.out_hw))
        self.input_offset = -x.zero_point
        depth = self.kh * self.kw * ic
        self.dtype = exact_float_dtype(depth)
        self.weights = w.data.reshape(oc, depth).T.astype(self.dtype)  # (KH*KW*C, OC)
        bias = self.optional(2)
        self.bias = np.zeros(oc, np.int64) if bias is None or bias.data is None else bias.data.astype(np.int64)
        self.require(self.bias.shape == (oc,), "bias must have one value per output channel")
        self.multiplier, self.shift = per_channel_multipliers(x.scale, w.scales, out.scale, oc)
        self.lo, self.hi = activation_range(o.get("fused_activation_function"), out.scale, out.zero_point)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        shifted = (x.astype(np.int32) + self.input_offset).astype(self.dtype)
        # Padding is zero after the offset: TFLite skips those taps.
        cols = windows(shifted, self.kh, self.kw, self.stride, self.dilation, (self.pad_h, self.pad_w),
                       self.out_hw, 0)
        n, oh, ow = cols.shape[:3]
        acc = cols.reshape(n * oh * ow, -1) @ self.weights
        acc = acc.astype(np.int64) + self.bias
        return requantize(acc, self.multiplier, self.shift, self.output.zero_point,
                          self.lo, self.hi).reshape(self.output.shape)
