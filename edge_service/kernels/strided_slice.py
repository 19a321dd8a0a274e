"""STRIDED_SLICE with begin/end/shrink masks and negative strides, as TFLite's StartForAxis/StopForAxis."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


def axis_range(begin: int, end: int, stride: int, size: int, begin_masked: bool, end_masked: bool,
               shrink: bool) -> np.ndarray:
    """The source indices one axis keeps."""
    low, high = (0, size) if stride > 0 else (-1, size - 1)
    start = begin + size if begin < 0 else begin
    start = min(max(start, low), high)
    if begin_masked:
        start = 0 if stride > 0 else size - 1
    if shrink:
        return np.arange(start, min(start + 1, size)) if 0 <= start < size else np.arange(0)
    stop = end + size if end < 0 else end
    stop = min(max(stop, low), high)
    if end_masked:
        stop = size if stride > 0 else -1
    return np.arange(start, stop, stride)


@register("STRIDED_SLICE")
class StridedSlice(Kernel):
    max_version = 8

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require(x.dtype == out.dtype, "input and output types differ")
        begin, end, strides = self.int_constant(1), self.int_constant(2), self.int_constant(3)
        rank = len(x.shape)
        self.require(begin.shape == end.shape == strides.shape == (rank,),
                     f"begin, end and strides must have {rank} values each")
        self.require(np.all(strides != 0), "strides must be non-zero")
        o = self.op.options
        # TFLite Micro ignores these three; LiteRT honours them: refuse rather than pick one.
        for option in ("ellipsis_mask", "new_axis_mask", "offset"):
            self.require(not o.get(option), f"{option} is not supported")
        masks = [o.get(k, 0) for k in ("begin_mask", "end_mask", "shrink_axis_mask")]
        self.indices = [axis_range(int(begin[a]), int(end[a]), int(strides[a]), x.shape[a],
                                   *(bool(m >> a & 1) for m in masks)) for a in range(rank)]
        shrink = [a for a in range(rank) if masks[2] >> a & 1]
        self.require(all(len(self.indices[a]) == 1 for a in shrink), "a shrunk axis must keep one index")
        expected = tuple(len(self.indices[a]) for a in range(rank) if a not in shrink)
        self.require(tuple(out.shape) == expected, f"output shape {list(out.shape)} is not {list(expected)}")

    def run(self, x: np.ndarray, *_constants) -> np.ndarray:
        return np.ascontiguousarray(x[np.ix_(*self.indices)]).reshape(self.output.shape)
