"""The op registry and the base class every kernel derives from."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from edge_service.errors import ModelError
from edge_service.tflite_graph import Graph, Operator, Tensor

MODES = ("tflm", "litert-ref")
MAX_WORKSPACE_BYTES = 512 << 20  # what one op may allocate for a frame; far above any edge model


class Kernel:
    """One op of one model, prepared once; `run` maps input arrays to the output array."""

    #: the highest op version whose semantics this kernel implements
    max_version = 1
    #: how many outputs `run` returns: 1 (an array), or None for any number (a tuple)
    output_count: int | None = 1

    def __init__(self, op: Operator, graph: Graph, mode: str = "tflm") -> None:
        self.op, self.graph, self.mode = op, graph, mode
        if op.version > self.max_version:
            raise ModelError(f"operator {op.index} ({op.op}) version {op.version} is newer than "
                             f"supported ({self.max_version})")
        self.prepare()

    # helpers shared by the op modules
    def tensor(self, position: int) -> Tensor:
        index = self.op.inputs[position] if position < len(self.op.inputs) else -1
        if index < 0:
            raise ModelError(f"operator {self.op.index} ({self.op.op}) lacks input {position}")
        return self.graph.tensors[index]

    def optional(self, position: int) -> Tensor | None:
        if position >= len(self.op.inputs) or self.op.inputs[position] < 0:
            return None
        return self.graph.tensors[self.op.inputs[position]]

    @cached_property  # read on every frame: one look-up, not two
    def output(self) -> Tensor:
        if not self.op.outputs:
            raise ModelError(f"operator {self.op.index} ({self.op.op}) has no output")
        return self.graph.tensors[self.op.outputs[0]]

    @property
    def outputs(self) -> list[Tensor]:
        return [self.graph.tensors[i] for i in self.op.outputs]

    def constant(self, position: int) -> np.ndarray:
        t = self.tensor(position)
        if t.data is None:
            raise ModelError(f"operator {self.op.index} ({self.op.op}): input {t.name} must be constant")
        return t.data

    def bias(self, position: int, count: int) -> np.ndarray:
        """The optional int32 bias input as int64, zeros when absent; one value per output channel."""
        t = self.optional(position)
        bias = np.zeros(count, np.int64) if t is None or t.data is None else t.data.astype(np.int64)
        self.require(bias.shape == (count,), "bias must have one value per output channel")
        return bias

    def require(self, condition: bool, message: str) -> None:
        if not condition:
            raise ModelError(f"operator {self.op.index} ({self.op.op}): {message}")

    def require_int8(self, *tensors: Tensor) -> None:
        for t in tensors:
            self.require(t.dtype == np.int8 and t.quantized,
                         f"tensor {t.name} must be quantized int8, is {t.dtype}")

    def require_same_shape(self, a: Tensor, b: Tensor) -> None:
        self.require(tuple(a.shape) == tuple(b.shape), f"{a.name} {list(a.shape)} and {b.name} "
                     f"{list(b.shape)} must have the same shape")

    def require_same_quantization(self, *tensors: Tensor) -> None:
        """Data-moving ops copy int8 values: every tensor must share one scale and zero point."""
        first = tensors[0]
        for t in tensors[1:]:
            self.require(t.dtype == first.dtype, f"{t.name} is {t.dtype}, {first.name} is {first.dtype}")
            self.require(t.quantized == first.quantized and (not t.quantized or (
                np.float32(t.scale) == np.float32(first.scale) and t.zero_point == first.zero_point)),
                f"{t.name} and {first.name} must have the same quantization")

    def axis_value(self, axis: int, rank: int, what: str = "axis") -> int:
        """A possibly negative axis made positive; a ModelError when outside [-rank, rank)."""
        self.require(-rank <= int(axis) < rank, f"{what} {axis} is out of range for rank {rank}")
        return int(axis) % rank

    def int_constant(self, position: int) -> np.ndarray:
        """A constant int32/int64 input (axes, shapes, indices) as int64."""
        t = self.tensor(position)
        self.require(t.dtype in (np.int32, np.int64), f"input {t.name} must be int32 or int64, is {t.dtype}")
        return np.asarray(self.constant(position), np.int64)

    def require_broadcast(self, a: Tensor, b: Tensor, out: Tensor) -> None:
        try:
            shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        except ValueError:
            shape = None
        self.require(shape == tuple(out.shape), f"inputs {list(a.shape)} and {list(b.shape)} "
                     f"do not broadcast to {list(out.shape)}")

    def check_workspace(self, elements: int, itemsize: int = 8) -> None:
        """Refuses an op whose per-frame scratch (e.g. im2col) would exceed the budget."""
        if elements * itemsize > MAX_WORKSPACE_BYTES:
            raise ModelError(f"operator {self.op.index} ({self.op.op}) would need "
                             f"{elements * itemsize >> 20} MiB per frame; refusing")

    def prepare(self) -> None:
        """Precompute what `run` needs; raise ModelError for what is not supported."""

    def run(self, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError


KERNELS: dict[str, type[Kernel]] = {}


def register(name: str) -> Callable[[type[Kernel]], type[Kernel]]:
    def decorate(cls: type[Kernel]) -> type[Kernel]:
        KERNELS[name] = cls
        return cls
    return decorate


def supported_ops() -> list[str]:
    return sorted(KERNELS)
