"""The plain objects a .tflite file is read into: tensors, operators, the graph (tflite_graph reads them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scales: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    zero_points: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quantized_dimension: int = 0
    data: np.ndarray | None = None  # constant tensors only

    @property
    def quantized(self) -> bool:
        return len(self.scales) > 0

    @property
    def scale(self) -> float:
        return float(self.scales[0]) if self.quantized else 0.0

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.quantized else 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass
class Operator:
    index: int
    op: str              # builtin name, e.g. CONV_2D, or CUSTOM:<code>
    version: int
    inputs: list[int]    # -1 marks an absent optional input
    outputs: list[int]
    options: dict


@dataclass
class Graph:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    signature_outputs: dict[str, int]
    description: str = ""

    def producer(self, tensor_index: int) -> Operator | None:
        for op in self.operators:
            if tensor_index in op.outputs:
                return op
        return None

    @property
    def op_names(self) -> list[str]:
        return sorted({op.op for op in self.operators})
