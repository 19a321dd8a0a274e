"""RESIZE_BILINEAR int8, TFLite's integer variant: positions in 1/1024ths, weights summed in int64."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import register
from edge_service.kernels.resize_nearest_neighbor import ResizeKernel

ONE = 1 << 10


def _cdiv(a: np.ndarray, b: int) -> np.ndarray:
    """C integer division (toward zero) by a positive b."""
    return np.sign(a) * (np.abs(a) // b)


def interpolation(in_size: int, out_size: int, align_corners: bool, half_pixel: bool):
    """(position in 1/1024ths, lower index, upper index) of every output index."""
    if align_corners and out_size > 1:
        scale = (ONE * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    else:
        scale = (ONE * in_size + out_size // 2) // out_size
    position = np.arange(out_size, dtype=np.int64) * scale
    if half_pixel:
        position = position + scale // 2 - (1 << 9)
    lower = np.maximum(_cdiv(position, ONE), 0)
    upper = np.minimum(_cdiv(position + ONE - 1, ONE), in_size - 1)
    return position, lower, upper


@register("RESIZE_BILINEAR")
class ResizeBilinear(ResizeKernel):
    max_version = 4

    def prepare(self) -> None:
        in_h, in_w, out_h, out_w = self.prepare_resize()
        self.require(self.tensor(0).dtype == np.int8, "only int8 bilinear resizing is supported")
        y, self.y0, self.y1 = interpolation(in_h, out_h, self.align_corners, self.half_pixel)
        x, self.x0, self.x1 = interpolation(in_w, out_w, self.align_corners, self.half_pixel)
        dy, dx = y - ONE * self.y0, x - ONE * self.x0   # may be negative at a half-pixel border
        self.wy = (ONE - dy)[:, None, None], dy[:, None, None]
        self.wx = (ONE - dx)[None, :, None], dx[None, :, None]

    def run(self, image: np.ndarray, *_size) -> np.ndarray:
        v = image.astype(np.int64)
        top, bottom = v[:, self.y0], v[:, self.y1]
        total = ((top[:, :, self.x0] * self.wx[0] + top[:, :, self.x1] * self.wx[1]) * self.wy[0]
                 + (bottom[:, :, self.x0] * self.wx[0] + bottom[:, :, self.x1] * self.wx[1]) * self.wy[1])
        half = np.where(total > 0, 1 << 19, -(1 << 19))
        return _cdiv(total + half, 1 << 20).astype(np.int8)
