"""CONCATENATION along one axis; inputs with another scale are requantized first."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.fixedpoint import activation_range
from edge_service.kernels.registry import Kernel, register


@register("CONCATENATION")
class Concatenation(Kernel):
    max_version = 4

    def prepare(self) -> None:
        out = self.output
        inputs = [self.tensor(i) for i in range(len(self.op.inputs))]
        self.require_int8(out, *inputs)
        self.require(len(out.shape) > 0 and all(len(t.shape) == len(out.shape) for t in inputs),
                     "inputs and output must have the same rank")
        self.axis = self.op.options.get("axis", 0) % len(out.shape)
        expected = list(inputs[0].shape)
        expected[self.axis] = sum(t.shape[self.axis] for t in inputs)
        self.require(all(list(t.shape[:self.axis] + t.shape[self.axis + 1:]) ==
                         list(out.shape[:self.axis] + out.shape[self.axis + 1:]) for t in inputs)
                     and expected == list(out.shape), "input shapes do not concatenate to the output")
        self.lo, self.hi = activation_range(self.op.options.get("fused_activation_function"),
                                            out.scale, out.zero_point)
        # LiteRT's reference rescales in float: round(q * scale + bias); TFLM needs equal scales.
        self.rescale = [None if (t.scale == out.scale and t.zero_point == out.zero_point) else
                        (np.float32(t.scale / out.scale), np.float32(out.zero_point - t.zero_point * t.scale / out.scale))
                        for t in inputs]

    def run(self, *xs: np.ndarray) -> np.ndarray:
        parts = []
        for x, rescale in zip(xs, self.rescale):
            if rescale is not None:
                scale, bias = rescale
                value = x.astype(np.float32) * scale + bias
                x = np.clip(np.sign(value) * np.floor(np.abs(value) + 0.5), -128, 127).astype(np.int8)
            parts.append(x)
        return np.clip(np.concatenate(parts, axis=self.axis), self.lo, self.hi).astype(np.int8)
