"""SPLIT: the input cut into `num_splits` equal parts along a constant axis (several outputs)."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


class SplitKernel(Kernel):
    """Shared by SPLIT and SPLIT_V: checks the parts and returns one array per output."""

    output_count = None

    def prepare_parts(self, x_position: int, axis: int, sizes: list[int]) -> None:
        x = self.tensor(x_position)
        self.axis = self.axis_value(axis, len(x.shape))
        self.require(len(sizes) == len(self.op.outputs), f"{len(sizes)} parts but "
                     f"{len(self.op.outputs)} outputs")
        self.require(min(sizes, default=0) >= 0 and sum(sizes) == x.shape[self.axis],
                     f"parts {sizes} do not add up to dimension {x.shape[self.axis]}")
        for size, out in zip(sizes, self.outputs):
            self.require(out.dtype == x.dtype, "input and output types differ")
            expected = list(x.shape)
            expected[self.axis] = size
            self.require(list(out.shape) == expected, f"output shape {list(out.shape)} is not {expected}")
        self.cuts = np.cumsum(sizes)[:-1]
        self.x_position = x_position

    def run(self, *inputs: np.ndarray) -> tuple[np.ndarray, ...]:
        parts = np.split(inputs[self.x_position], self.cuts, axis=self.axis)
        return tuple(np.ascontiguousarray(p) for p in parts)


@register("SPLIT")
class Split(SplitKernel):
    max_version = 4

    def prepare(self) -> None:
        axis = self.int_constant(0)
        self.require(axis.size == 1, "axis must be one value")
        x = self.tensor(1)
        count = int(self.op.options.get("num_splits", len(self.op.outputs)))
        self.require(count >= 1, "num_splits must be positive")
        dim = x.shape[self.axis_value(int(axis.ravel()[0]), len(x.shape))]
        self.require(dim % count == 0, f"dimension {dim} does not split into {count} equal parts")
        self.prepare_parts(1, int(axis.ravel()[0]), [dim // count] * count)
