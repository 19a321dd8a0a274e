"""UNPACK: the input cut along an axis into `num` outputs that lack that axis."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("UNPACK")
class Unpack(Kernel):
    max_version = 4
    output_count = None

    def prepare(self) -> None:
        x = self.tensor(0)
        self.require(len(x.shape) >= 1, "input must have at least one dimension")
        self.axis = self.axis_value(self.op.options.get("axis", 0), len(x.shape))
        count = self.op.options.get("num", x.shape[self.axis])
        self.require(count == x.shape[self.axis] == len(self.op.outputs),
                     f"num {count}, dimension {x.shape[self.axis]} and {len(self.op.outputs)} outputs differ")
        self.require_same_quantization(x, *self.outputs)  # LiteRT refuses otherwise
        expected = [d for a, d in enumerate(x.shape) if a != self.axis]
        self.require(all(list(t.shape) == expected for t in self.outputs), f"outputs must be {expected}")

    def run(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(np.ascontiguousarray(np.take(x, i, axis=self.axis)) for i in range(x.shape[self.axis]))
