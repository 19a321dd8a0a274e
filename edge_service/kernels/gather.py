"""GATHER: slices of the input picked by int32/int64 indices along an axis, with batch dimensions."""

from __future__ import annotations

import numpy as np

from edge_service.errors import ModelError
from edge_service.kernels.registry import Kernel, register


@register("GATHER")
class Gather(Kernel):
    max_version = 7

    def prepare(self) -> None:
        params, indices, out = self.tensor(0), self.tensor(1), self.output
        self.require(params.dtype == out.dtype, "input and output types differ")
        self.require(indices.dtype in (np.int32, np.int64), f"indices must be int32 or int64, are {indices.dtype}")
        rank, index_rank = len(params.shape), len(indices.shape)
        self.require(rank >= 1, "input must have at least one dimension")
        self.axis = self.axis_value(self.op.options.get("axis", 0), rank)
        batch = self.op.options.get("batch_dims", 0)
        batch = batch + index_rank if batch < 0 else batch
        self.require(0 <= batch <= min(index_rank, self.axis), f"batch_dims {batch} out of range")
        self.require(params.shape[:batch] == indices.shape[:batch], "batch dimensions differ")
        self.batch = batch
        expected = params.shape[:self.axis] + indices.shape[batch:] + params.shape[self.axis + 1:]
        self.require(tuple(out.shape) == expected, f"output shape {list(out.shape)} is not {list(expected)}")
        if indices.data is not None:
            self.check(indices.data)

    def check(self, indices: np.ndarray) -> None:
        size = self.tensor(0).shape[self.axis]
        if indices.size and (indices.min() < 0 or indices.max() >= size):
            raise ModelError(f"operator {self.op.index} (GATHER): index outside 0..{size - 1}")

    def run(self, params: np.ndarray, indices: np.ndarray) -> np.ndarray:
        if self.tensor(1).data is None:
            self.check(indices)
        b, axis = self.batch, self.axis
        batches = int(np.prod(params.shape[:b], dtype=np.int64))
        outer = int(np.prod(params.shape[b:axis], dtype=np.int64))
        p = params.reshape(batches, outer, params.shape[axis], -1)
        idx = indices.astype(np.int64).reshape(batches, 1, -1)
        picked = p[np.arange(batches)[:, None, None], np.arange(outer)[None, :, None], idx]
        return picked.reshape(self.output.shape)
