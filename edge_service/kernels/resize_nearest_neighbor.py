"""RESIZE_NEAREST_NEIGHBOR: source rows and columns picked in float32, as TFLite computes them."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


class ResizeKernel(Kernel):
    """Shared checks of the two resize ops: 4-D input, a constant (height, width), the modes."""

    def prepare_resize(self) -> tuple[int, int, int, int]:
        """(input height, input width, output height, output width)."""
        x, out = self.tensor(0), self.output
        self.require(len(x.shape) == 4 and len(out.shape) == 4, "input and output must be 4-D")
        self.require(x.dtype == out.dtype, "input and output types differ")
        size = self.int_constant(1)
        self.require(size.shape == (2,) and size.min() > 0, f"size must be two positive values, got {size}")
        expected = (x.shape[0], int(size[0]), int(size[1]), x.shape[3])
        self.require(tuple(out.shape) == expected, f"output shape {list(out.shape)} is not {list(expected)}")
        o = self.op.options
        self.align_corners, self.half_pixel = bool(o.get("align_corners")), bool(o.get("half_pixel_centers"))
        self.require(not (self.align_corners and self.half_pixel),
                     "align_corners and half_pixel_centers cannot both be set")
        self.check_workspace(out.size)
        return x.shape[1], x.shape[2], expected[1], expected[2]


def nearest(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> np.ndarray:
    """The source index of every output index (TFLite's GetNearestNeighbor, float32)."""
    f = np.float32
    if align_corners and out_size > 1:
        scale = f(in_size - 1) / f(out_size - 1)
    else:
        scale = f(in_size) / f(out_size)
    position = (np.arange(out_size, dtype=f) + f(0.5 if half_pixel else 0.0)) * scale
    if align_corners:
        index = np.sign(position) * np.floor(np.abs(position) + f(0.5))
    else:
        index = np.floor(position)
    index = np.minimum(index.astype(np.int64), in_size - 1)
    return np.maximum(index, 0) if half_pixel else index


@register("RESIZE_NEAREST_NEIGHBOR")
class ResizeNearestNeighbor(ResizeKernel):
    max_version = 4

    def prepare(self) -> None:
        in_h, in_w, out_h, out_w = self.prepare_resize()
        self.rows = nearest(in_h, out_h, self.align_corners, self.half_pixel)
        self.cols = nearest(in_w, out_w, self.align_corners, self.half_pixel)

    def run(self, x: np.ndarray, *_size) -> np.ndarray:
        return x[:, self.rows][:, :, self.cols]
