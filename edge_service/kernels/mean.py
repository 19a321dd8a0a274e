"""MEAN int8 over constant axes: an integer sum, then one multiplier folding in 1/count.

The sum of raw int8 values is exact in float32 (count * 128 < 2^24, checked); the zero
point's share and the requantization go to `FloatRequant` where its check at load passes.
"""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import quantize_multiplier, requantize
from edge_service.kernels.float_requant import FLOAT32_EXACT, FloatRequant, tile_width
from edge_service.kernels.registry import Kernel, register


@register("MEAN")
class Mean(Kernel):
    max_version = 3

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        axes = np.atleast_1d(self.constant(1)).astype(int)
        self.require(all(-len(x.shape) <= a < len(x.shape) for a in axes), f"axis {axes} out of range")
        self.axes = tuple(sorted({int(a) % len(x.shape) for a in axes}))
        keep = [1 if i in self.axes else d for i, d in enumerate(x.shape)]
        drop = [d for i, d in enumerate(x.shape) if i not in self.axes]
        self.require(list(out.shape) in (keep, drop), f"output shape {list(out.shape)} does not match "
                     f"reducing {list(x.shape)} over {list(self.axes)}")
        count = int(np.prod([x.shape[a] for a in self.axes]))
        self.require(count > 0, "cannot average over an empty axis")
        self.count = count
        multiplier, shift = quantize_multiplier(float(x.scale) / float(out.scale))
        fold = min(count.bit_length() - 1, 32, 31 + shift)
        self.multiplier = (multiplier << fold) // count
        self.shift = shift - fold
        self.input_zero_point = x.zero_point
        self.fast = None
        if count * 128 < FLOAT32_EXACT:
            fast = FloatRequant(self.multiplier, self.shift, [-x.zero_point * count], out.zero_point, -128, 127,
                                [-128 * count], [127 * count])
            self.fast = fast if fast.exact else None
        self.tile = tile_width(out.size, 1)

    def run(self, x: np.ndarray, *_axes) -> np.ndarray:
        if self.fast is not None:
            total = x.astype(np.float32).sum(axis=self.axes)
            return self.fast.apply(total.reshape(-1, 1), self.tile).reshape(self.output.shape)
        total = x.astype(np.int64).sum(axis=self.axes) - self.input_zero_point * self.count
        out = requantize(total, self.multiplier, self.shift, self.output.zero_point, -128, 127)
        return out.reshape(self.output.shape)
