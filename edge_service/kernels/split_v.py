"""SPLIT_V: the input cut into parts of constant sizes (one may be -1: the rest) along an axis."""

from __future__ import annotations

from edge_service.kernels.registry import register
from edge_service.kernels.split import SplitKernel


@register("SPLIT_V")
class SplitV(SplitKernel):
    max_version = 2

    def prepare(self) -> None:
        x, sizes, axis = self.tensor(0), self.int_constant(1).ravel().tolist(), self.int_constant(2)
        self.require(axis.size == 1, "axis must be one value")
        dim = x.shape[self.axis_value(int(axis.ravel()[0]), len(x.shape))]
        self.require(sizes.count(-1) <= 1, "at most one size may be -1")
        if -1 in sizes:
            sizes[sizes.index(-1)] = dim - sum(s for s in sizes if s != -1)
        self.prepare_parts(0, int(axis.ravel()[0]), sizes)
