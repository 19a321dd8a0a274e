"""FULLY_CONNECTED, int8 with per-tensor or per-channel weights.

`tflm` requantizes with the fixed-point multiplier (as one float64 floor where the check at
load proves it exact); `litert-ref` as LiteRT's BUILTIN_REF kernel now does, in floating
point: round(double(acc) * scale) + zero point. The product takes the raw int8 input; the
zero point's share is a per-unit constant.
"""

from __future__ import annotations

import numpy as np

from edge_service.kernels.conv_2d import exact_float_dtype, per_channel_multipliers
from edge_service.kernels.fixedpoint import activation_range, quantize_multiplier, requantize
from edge_service.kernels.float_requant import for_weights, tile_width
from edge_service.kernels.registry import Kernel, register
from edge_service.kernels.variants import fastest, random_int8


@register("FULLY_CONNECTED")
class FullyConnected(Kernel):
    max_version = 12

    def prepare(self) -> None:
        x, w, out = self.tensor(0), self.tensor(1), self.output
        self.require_int8(x, w, out)
        self.require(len(w.shape) == 2, "weights must be 2-D")
        units, depth = w.shape
        self.require(x.size % depth == 0, f"input of {x.size} values does not divide into rows of {depth}")
        o = self.op.options
        self.require(o.get("weights_format", 0) == 0, "shuffled weights are not supported")
        self.rows = x.size // depth
        self.require(out.size == self.rows * units, "output shape does not match")
        self.input_offset = -x.zero_point
        weights = self.constant(1).T
        # Raw int8 inputs: |partial sums| <= 128 * sum |w|, below 2^24 up to depth 1032.
        self.dtype = exact_float_dtype(depth, 128)
        self.weights = np.ascontiguousarray(weights, self.dtype)  # row-major: BLAS is quicker so
        self.bias_values = self.bias(2, units)
        self.offset = (self.bias_values - x.zero_point * weights.astype(np.int64).sum(axis=0)).astype(np.float64)
        self.lo, self.hi = activation_range(o.get("fused_activation_function"), out.scale, out.zero_point)
        per_channel = len(w.scales) > 1
        if per_channel:
            self.multiplier, self.shift = per_channel_multipliers(x.scale, w.scales, out.scale, units)
            self.real_scale = x.scale * w.scales.astype(np.float64) / out.scale
        else:
            # TFLite multiplies the two scales in float32 first (GetQuantizedConvolutionMultipler).
            product = float(np.float32(x.scales[0]) * np.float32(w.scales[0]))
            real = product / float(out.scales[0])
            m, s = quantize_multiplier(real)
            self.multiplier, self.shift = np.int64(m), np.int64(s)
            self.real_scale = np.float64(real)
        self.fast = None if self.mode == "litert-ref" else for_weights(
            weights, x.zero_point, self.bias_values, self.multiplier, self.shift, out.zero_point, self.lo, self.hi)
        self.tile = tile_width(self.rows, units)
        self.variant = None
        if self.fast is not None:
            variants = {"float32": self.run_float32}
            self.folded = self.fast.folded(weights)
            if self.folded is not None:
                self.columns = np.ones((self.rows, depth + 1))  # the last column multiplies the constant
                variants["folded float64"] = self.run_folded
            self.variant = fastest(variants, random_int8(tuple(x.shape)))
            self.fast_run = variants.get(self.variant)
            if self.variant is None:
                self.fast = None

    def run_float32(self, x: np.ndarray) -> np.ndarray:
        raw = x.reshape(self.rows, -1).astype(self.dtype) @ self.weights
        return self.fast.apply(raw, self.tile).reshape(self.output.shape)

    def run_folded(self, x: np.ndarray) -> np.ndarray:
        np.copyto(self.columns[:, :-1], x.reshape(self.rows, -1), casting="unsafe")
        return self.fast.finish(self.columns @ self.folded, self.tile).reshape(self.output.shape)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        if self.fast is not None:
            return self.fast_run(x)
        raw = x.reshape(self.rows, -1).astype(self.dtype) @ self.weights
        acc = raw.astype(np.float64) + self.offset   # exact integers, well below 2^53
        if self.mode == "litert-ref":
            scaled = acc * self.real_scale
            out = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) + self.output.zero_point
            result = np.clip(out, self.lo, self.hi).astype(np.int8)
        else:
            result = requantize(acc.astype(np.int64), self.multiplier, self.shift, self.output.zero_point,
                                self.lo, self.hi)
        return result.reshape(self.output.shape)
