"""TRANSPOSE: the axes permuted by a constant permutation; values are copied, never requantized."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


@register("TRANSPOSE")
class Transpose(Kernel):
    max_version = 6

    def prepare(self) -> None:
        x, out = self.tensor(0), self.output
        self.require(x.dtype == out.dtype, "input and output types differ")
        perm = self.int_constant(1)
        rank = len(x.shape)
        self.require(perm.shape == (rank,), f"permutation {perm.tolist()} does not fit rank {rank}")
        self.perm = tuple(self.axis_value(p, rank, "permutation entry") for p in perm)
        self.require(sorted(self.perm) == list(range(rank)), f"{perm.tolist()} is not a permutation")
        expected = tuple(x.shape[p] for p in self.perm)
        self.require(tuple(out.shape) == expected, f"output shape {list(out.shape)} is not {list(expected)}")

    def run(self, x: np.ndarray, *_perm) -> np.ndarray:
        return np.ascontiguousarray(np.transpose(x, self.perm))
