"""Geometry shared by MAX_POOL_2D and AVERAGE_POOL_2D: one strided slice of the padded input per tap."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range
from edge_service.kernels.windows import WindowedKernel


class PoolKernel(WindowedKernel):
    max_version = 3
    #: what padded taps hold: a value that never changes the result
    fill = 0
    dtype = np.int8

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        self.require(x.scale == out.scale and x.zero_point == out.zero_point,
                     "input and output quantization must match")
        self.require(len(x.shape) == 4, "input must be 4-D")
        o, channels = self.op.options, x.shape[3]
        self.prepare_windows(x, channels, o.get("filter_height", 1), o.get("filter_width", 1),
                             (o.get("stride_h", 1), o.get("stride_w", 1)), (1, 1), o.get("padding"), channels)
        self.lo, self.hi = activation_range(o.get("fused_activation_function"), out.scale, out.zero_point)
        self.padded = self.padded_input(self.fill, self.dtype)
        (oh, ow), (sh, sw) = self.out_hw, self.stride
        self.tap_slices = [(slice(None), slice(i, i + (oh - 1) * sh + 1, sh), slice(j, j + (ow - 1) * sw + 1, sw))
                           for i in range(self.kh) for j in range(self.kw)]

    def tap_views(self, x: np.ndarray) -> list[np.ndarray]:
        """(N, OH, OW, C) views, one per tap, of this frame's padded input."""
        if self.padded.buffer.shape == x.shape and self.padded.buffer.dtype == x.dtype:
            return [x[s] for s in self.tap_slices]  # no padding: read the input itself
        np.copyto(self.padded.interior, x, casting="unsafe")
        return [self.padded.buffer[s] for s in self.tap_slices]
