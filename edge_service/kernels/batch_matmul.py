"""BATCH_MATMUL int8 (per-tensor): broadcast batches of matrix products, requantized like FULLY_CONNECTED."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.conv_2d import exact_float_dtype
from edge_service.kernels.fixedpoint import quantize_multiplier, requantize
from edge_service.kernels.registry import Kernel, register


@register("BATCH_MATMUL")
class BatchMatMul(Kernel):
    max_version = 4

    def prepare(self) -> None:
        lhs, rhs, out = self.tensor(0), self.tensor(1), self.output
        self.require_int8(lhs, rhs, out)
        self.require(len(lhs.scales) == 1 and len(rhs.scales) == 1, "inputs must be quantized per tensor")
        self.require(2 <= len(lhs.shape) <= 5 and 2 <= len(rhs.shape) <= 5, "inputs must be 2-D to 5-D")
        o = self.op.options
        self.adj = (bool(o.get("adj_x")), bool(o.get("adj_y")))
        rows, depth = lhs.shape[-2:][::-1] if self.adj[0] else lhs.shape[-2:]
        rhs_depth, cols = rhs.shape[-2:][::-1] if self.adj[1] else rhs.shape[-2:]
        self.require(depth == rhs_depth, f"inner dimensions {depth} and {rhs_depth} differ")
        try:
            batch = np.broadcast_shapes(tuple(lhs.shape[:-2]), tuple(rhs.shape[:-2]))
        except ValueError:
            batch = None
        self.require(batch is not None, "batch dimensions do not broadcast")
        expected = (*batch, rows, cols)
        self.require(tuple(out.shape) == expected, f"output shape {list(out.shape)} is not {list(expected)}")
        self.check_workspace(int(np.prod(expected, dtype=np.int64)) * max(depth, 1))
        self.dtype = exact_float_dtype(depth, 255, 255)
        # The scales are multiplied in float32 first, as for FULLY_CONNECTED (both oracles).
        product = float(np.float32(lhs.scales[0]) * np.float32(rhs.scales[0]))
        self.multiplier, self.shift = quantize_multiplier(product / float(out.scales[0]))
        self.zero_points = (lhs.zero_point, rhs.zero_point)

    def run(self, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        a = (lhs.astype(np.int32) - self.zero_points[0]).astype(self.dtype)
        b = (rhs.astype(np.int32) - self.zero_points[1]).astype(self.dtype)
        a = np.swapaxes(a, -1, -2) if self.adj[0] else a
        b = np.swapaxes(b, -1, -2) if self.adj[1] else b
        acc = np.matmul(a, b).astype(np.int64)
        return requantize(acc, self.multiplier, self.shift, self.output.zero_point, -128, 127)
