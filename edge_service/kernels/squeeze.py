"""SQUEEZE: size-1 dimensions dropped (the listed ones, or all); values unchanged."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("SQUEEZE")
class Squeeze(Kernel):
    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require(x.dtype == out.dtype, "input and output types differ")
        rank = len(x.shape)
        dims = self.op.options.get("squeeze_dims") or []
        dims = {self.axis_value(d, rank, "squeeze dimension") for d in dims} or \
            {a for a, d in enumerate(x.shape) if d == 1}
        self.require(all(x.shape[d] == 1 for d in dims), f"cannot squeeze dimensions {sorted(dims)} "
                     f"of {list(x.shape)}: not all are 1")
        expected = [d for a, d in enumerate(x.shape) if a not in dims]
        self.require(list(out.shape) == expected, f"output shape {list(out.shape)} is not {expected}")

    def run(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(self.output.shape)
