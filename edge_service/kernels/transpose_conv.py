"""TRANSPOSE_CONV int8 per-channel: every input pixel scatters its filter-weighted values, then requantize."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.conv_2d import exact_float_dtype, per_channel_multipliers
from edge_service.kernels.fixedpoint import activation_range, requantize
from edge_service.kernels.registry import Kernel, register
from edge_service.kernels.windows import output_size_and_padding


@register("TRANSPOSE_CONV")
class TransposeConv(Kernel):
    max_version = 5

    def prepare(self) -> None:
        # Inputs: output shape, filter (OC, KH, KW, IC), input, optional bias.
        shape, w, x, out = self.int_constant(0), self.tensor(1), self.tensor(2), self.output
        self.require_int8(x, w, out)
        self.require(len(x.shape) == 4 and len(w.shape) == 4 and len(out.shape) == 4,
                     "input, filter and output must be 4-D")
        self.require(shape.tolist() == list(out.shape), f"output shape input {shape.tolist()} does not "
                     f"match the output tensor {list(out.shape)}")
        oc, kh, kw, ic = w.shape
        self.require(x.shape[3] == ic and out.shape[3] == oc and x.shape[0] == out.shape[0],
                     "filter channels do not match the input and output")
        self.require(len(w.scales) == 1 or (len(w.scales) == oc and w.quantized_dimension == 0),
                     "filter must be quantized per tensor or per output channel")
        o = self.op.options
        self.stride = (o.get("stride_h", 1), o.get("stride_w", 1))
        self.require(min(self.stride) >= 1 and min(kh, kw) >= 1, "stride and filter must be >= 1")
        self.require(o.get("padding") in ("SAME", "VALID"), f"padding {o.get('padding')} is not supported")
        # The padding is that of the forward convolution from the output back to the input.
        self.pad = tuple(output_size_and_padding(out.shape[1 + i], (kh, kw)[i], self.stride[i], 1,
                                                 o["padding"])[1] for i in range(2))
        self.kernel = (kh, kw)
        self.check_workspace(x.shape[0] * x.shape[1] * x.shape[2] * kh * kw * oc)
        self.dtype = exact_float_dtype(ic)
        # (IC, KH*KW*OC): one matrix product gives every tap's contribution at once.
        self.weights = self.constant(1).transpose(3, 1, 2, 0).reshape(ic, -1).astype(self.dtype)
        self.bias_values = self.bias(3, oc)
        self.multiplier, self.shift = per_channel_multipliers(x.scale, w.scales, out.scale, oc)
        self.input_zero_point = x.zero_point
        self.lo, self.hi = activation_range(o.get("fused_activation_function"), out.scale, out.zero_point)

    def run(self, _shape: np.ndarray, _w: np.ndarray, x: np.ndarray, *_bias) -> np.ndarray:
        n, h, w, ic = x.shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.pad
        _, oh, ow, oc = self.output.shape
        shifted = (x.astype(np.int32) - self.input_zero_point).astype(self.dtype).reshape(-1, ic)
        taps = (shifted @ self.weights).astype(np.int64).reshape(n, h, w, kh, kw, oc)
        acc = np.zeros((n, oh, ow, oc), np.int64)
        for fy in range(kh):
            rows = _landing(h, sh, fy - ph, oh)
            for fx in range(kw):
                cols = _landing(w, sw, fx - pw, ow)
                if rows and cols:
                    (y0, y1, oy), (x0, x1, ox) = rows, cols
                    acc[:, oy:oy + (y1 - y0 - 1) * sh + 1:sh, ox:ox + (x1 - x0 - 1) * sw + 1:sw] += \
                        taps[:, y0:y1, x0:x1, fy, fx]
        acc += self.bias_values
        return requantize(acc, self.multiplier, self.shift, self.output.zero_point, self.lo, self.hi)


def _landing(size: int, stride: int, offset: int, out_size: int) -> tuple[int, int, int] | None:
    """(first, end, first target) of the input indices i whose target i * stride + offset is inside."""
    first = max(0, -(offset // stride) if offset < 0 else 0)
    while first < size and first * stride + offset < 0:
        first += 1
    end = min(size, (out_size - 1 - offset) // stride + 1) if out_size - 1 - offset >= 0 else 0
    return (first, end, first * stride + offset) if first < end else None
