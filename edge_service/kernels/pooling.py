"""Geometry shared by MAX_POOL_2D and AVERAGE_POOL_2D."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range
from edge_service.kernels.windows import WindowedKernel

PAD = -(1 << 20)  # marks a padded tap; never a real int8 value


class PoolKernel(WindowedKernel):
    max_version = 3

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

    def taps(self, x: np.ndarray) -> np.ndarray:
        """(N, OH, OW, KH, KW, C) int32 windows; taps outside the input hold PAD."""
        return self.windows(x.astype(np.int32), PAD)
