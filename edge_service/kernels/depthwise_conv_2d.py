"""DEPTHWISE_CONV_2D with a depth multiplier, int8 per-channel."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.conv_2d import per_channel_multipliers
from edge_service.kernels.fixedpoint import activation_range, requantize
from edge_service.kernels.registry import register
from edge_service.kernels.windows import WindowedKernel


@register("DEPTHWISE_CONV_2D")
class DepthwiseConv2D(WindowedKernel):
    max_version = 7

    def prepare(self) -> None:
        x, w, out = self.tensor(0), self.tensor(1), self.output
        self.require_int8(x, w, out)
        self.require(len(x.shape) == 4 and len(w.shape) == 4 and w.shape[0] == 1,
                     "input must be 4-D and filter (1, KH, KW, C*M)")
        _, kh, kw, oc = w.shape
        ic = x.shape[3]
        o = self.op.options
        multiplier = o.get("depth_multiplier", 1) or oc // max(ic, 1)
        self.require(ic * multiplier == oc, f"{ic} channels x multiplier {multiplier} != {oc} outputs")
        self.prepare_windows(x, oc, kh, kw, (o.get("stride_h", 1), o.get("stride_w", 1)),
                             (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)), o.get("padding"), oc)
        self.input_offset = -x.zero_point
        self.source_channel = np.arange(oc) // multiplier   # output channel -> input channel
        self.weights = self.constant(1)[0].astype(np.int32)            # (KH, KW, OC)
        self.bias_values = self.bias(2, oc)
        self.multiplier, self.shift = per_channel_multipliers(x.scale, w.scales, out.scale, oc)
        self.lo, self.hi = activation_range(o.get("fused_activation_function"), out.scale, out.zero_point)

    def run(self, x: np.ndarray, *_constants: np.ndarray) -> np.ndarray:
        shifted = x.astype(np.int32) + self.input_offset
        if len(self.source_channel) != shifted.shape[3]:
            shifted = shifted[..., self.source_channel]
        cols = self.windows(shifted, 0)
        # int32 is exact: |acc| <= KH*KW*255*128 for any kernel TFLite accepts.
        acc = np.einsum("nhwijc,ijc->nhwc", cols, self.weights, dtype=np.int64) + self.bias_values
        return requantize(acc, self.multiplier, self.shift, self.output.zero_point, self.lo, self.hi)
