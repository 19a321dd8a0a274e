"""PAD / PADV2 on int8: the padding holds the zero point (or the given constant)."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("PAD")
class Pad(Kernel):
    max_version = 4

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require_int8(x, out)
        paddings = self.constant(1).astype(int)
        self.require(paddings.shape == (len(x.shape), 2) and paddings.min() >= 0,
                     f"paddings must be non-negative ({len(x.shape)}, 2), got {paddings.shape}")
        self.paddings = [tuple(p) for p in paddings]
        expected = tuple(d + a + b for d, (a, b) in zip(x.shape, self.paddings))
        self.require(expected == tuple(out.shape), "output shape does not match the paddings")
        constant = self.optional(2)
        self.value = int(constant.data.ravel()[0]) if constant is not None and constant.data is not None \
            else out.zero_point

    def run(self, x: np.ndarray, *_rest) -> np.ndarray:
        return np.pad(x, self.paddings, constant_values=self.value)


@register("PADV2")
class PadV2(Pad):
    pass
