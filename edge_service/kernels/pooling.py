"""Geometry shared by MAX_POOL_2D and AVERAGE_POOL_2D."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range
from edge_service.kernels.registry import Kernel
from edge_service.kernels.windows import output_size_and_padding, padded_elements, windows

PAD = -(1 << 20)  # marks a padded tap; never a real int8 value


class PoolKernel(Kernel):
    max_version = 3

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        self.require(len(x.shape) == 4, "input must be 4-D")
        self.require(x.scale == out.scale and x.zero_point == out.zero_point,
                     "input and output quantization must match")
        o = self.op.options
        self.kh, self.kw = o.get("filter_height", 1), o.get("filter_width", 1)
        self.stride = (o.get("stride_h", 1), o.get("stride_w", 1))
        self.require(min(self.kh, self.kw, *self.stride) >= 1, "filter and stride must be >= 1")
        oh, ph = output_size_and_padding(x.shape[1], self.kh, self.stride[0], 1, o.get("padding"))
        ow, pw = output_size_and_padding(x.shape[2], self.kw, self.stride[1], 1, o.get("padding"))
        self.require(tuple(out.shape) == (x.shape[0], oh, ow, x.shape[3]), "output shape does not match")
        self.out_hw, self.pad = (oh, ow), (ph, pw)
        self.check_workspace(x.shape[0] * oh * ow * self.kh * self.kw * x.shape[3])
        self.check_workspace(padded_elements(x.shape, self.kh, self.kw, self.stride, (1, 1), (ph, pw), (oh, ow)))
        self.lo, self.hi = activation_range(o.get("fused_activation_function"), out.scale, out.zero_point)

    def taps(self, x: np.ndarray) -> np.ndarray:
        """(N, OH, OW, KH, KW, C) int32 windows; taps outside the input hold PAD."""
        return windows(x.astype(np.int32), self.kh, self.kw, self.stride, (1, 1), self.pad,
                       self.out_hw, PAD)
