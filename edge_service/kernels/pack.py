"""PACK: inputs of one shape stacked along a new axis."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("PACK")
class Pack(Kernel):
    max_version = 4

    def prepare(self) -> None:
        out = self.output
        inputs = [self.tensor(i) for i in range(len(self.op.inputs))]
        count = self.op.options.get("values_count", len(inputs))
        self.require(count == len(inputs) >= 1, f"values_count {count} but {len(inputs)} inputs")
        self.require_same_quantization(out, *inputs)  # LiteRT refuses otherwise
        self.require(all(t.shape == inputs[0].shape for t in inputs), "inputs must have one shape")
        rank = len(inputs[0].shape) + 1
        self.axis = self.axis_value(self.op.options.get("axis", 0), rank)
        expected = list(inputs[0].shape)
        expected.insert(self.axis, len(inputs))
        self.require(list(out.shape) == expected, f"output shape {list(out.shape)} is not {expected}")

    def run(self, *xs: np.ndarray) -> np.ndarray:
        return np.stack(xs, axis=self.axis)
