"""SLICE: a box of constant begin and size (-1: to the end) cut out of the input."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("SLICE")
class Slice(Kernel):
    max_version = 6

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require(x.dtype == out.dtype, "input and output types differ")
        begin, size = self.int_constant(1), self.int_constant(2)
        rank = len(x.shape)
        self.require(begin.shape == (rank,) and size.shape == (rank,),
                     f"begin and size must have {rank} values each")
        boxes = []
        for b, s, d in zip(begin.tolist(), size.tolist(), x.shape):
            s = d - b if s == -1 else s
            self.require(0 <= b <= d and 0 <= s <= d - b, f"slice begin {b} size {s} outside a dimension of {d}")
            boxes.append(slice(b, b + s))
        self.box = tuple(boxes)
        expected = tuple(s.stop - s.start for s in boxes)
        self.require(tuple(out.shape) == expected, f"output shape {list(out.shape)} is not {list(expected)}")

    def run(self, x: np.ndarray, *_constants) -> np.ndarray:
        return np.ascontiguousarray(x[self.box])
