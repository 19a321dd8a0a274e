"""MAXIMUM int8: the larger raw value of the (broadcast) inputs; both oracles compare raw values."""

from __future__ import annotations

import numpy as np

from edge_service.kernels.registry import Kernel, register


class Extremum(Kernel):
    """Shared by MAXIMUM and MINIMUM: `pick` chooses between the two raw inputs."""

    max_version = 4
    pick = staticmethod(np.maximum)

    def prepare(self) -> None:
        a, b, out = self.tensor(0), self.tensor(1), self.output
        self.require(a.dtype == b.dtype == out.dtype, "inputs and output must have one type")
        self.require_broadcast(a, b, out)

    def run(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.pick(a, b), self.output.shape).astype(self.output.dtype)


@register("MAXIMUM")
class Maximum(Extremum):
    pick = staticmethod(np.maximum)
