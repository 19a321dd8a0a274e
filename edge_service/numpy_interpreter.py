"""Runs a .tflite model with the numpy kernels, exposing and timing every layer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from edge_service.errors import FrameError, ModelError
from edge_service.kernels import KERNELS, supported_ops
from edge_service.kernels.registry import MAX_WORKSPACE_BYTES, MODES
from edge_service.tflite_graph import Graph, read_graph


@dataclass
class RunResult:
    """Every tensor an op wrote, in execution order, and each op's time in seconds."""

    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    by_index: dict[int, np.ndarray] = field(default_factory=dict)
    op_seconds: dict[str, float] = field(default_factory=dict)


class NumpyInterpreter:
    """`tflm` mode is TFLite Micro's arithmetic; `litert-ref` is LiteRT's BUILTIN_REF kernels.

    Kernels keep scratch buffers between frames: run one frame at a time per interpreter.
    """

    def __init__(self, model: bytes | Graph, mode: str = "tflm") -> None:
        if mode not in MODES:
            raise ModelError(f"unknown arithmetic mode {mode!r}; choose from {', '.join(MODES)}")
        self.mode = mode
        self.graph = model if isinstance(model, Graph) else read_graph(model)
        missing = sorted({op.op for op in self.graph.operators} - set(KERNELS))
        if missing:
            raise ModelError(f"the numpy kernels do not support {', '.join(missing)} "
                             f"(supported: {', '.join(supported_ops())})")
        if len(self.graph.inputs) != 1:
            raise ModelError(f"the model has {len(self.graph.inputs)} inputs; one is supported")
        activations = sum(t.nbytes for t in self.graph.tensors if t.data is None)
        if activations > MAX_WORKSPACE_BYTES:
            raise ModelError(f"the model's tensors would take {activations >> 20} MiB; refusing")
        self.kernels = [KERNELS[op.op](op, self.graph, mode) for op in self.graph.operators]
        for kernel in self.kernels:
            if len(kernel.op.outputs) != 1:
                raise ModelError(f"operator {kernel.op.index} ({kernel.op.op}) must have one output")
        self.input = self.graph.tensors[self.graph.inputs[0]]
        self.names = _unique_names(self.graph)
        # Each frame starts from the constants; ops then fill in the tensors they write.
        self._constants = [t.data for t in self.graph.tensors]
        self._plan = [(k.run, [i for i in k.op.inputs if i >= 0], k.op.outputs[0]) for k in self.kernels]
        self._output_names = [(self.names[i], i) for i in self.graph.outputs]

    def run(self, x: np.ndarray, intermediate: bool = False) -> dict[str, np.ndarray] | RunResult:
        """The outputs by name; with `intermediate`, a RunResult of every tensor and op time."""
        x = np.asarray(x)
        if tuple(x.shape) != tuple(self.input.shape) or x.dtype != self.input.dtype:
            raise FrameError(f"input must be {self.input.dtype} of shape {list(self.input.shape)}, "
                             f"got {x.dtype} {list(x.shape)}")
        values = self._constants.copy()
        values[self.graph.inputs[0]] = x
        if not intermediate:
            for run, inputs, output in self._plan:
                values[output] = run(*[values[i] for i in inputs])
            return {name: values[i] for name, i in self._output_names}
        result = RunResult()
        clock = time.perf_counter
        for run, inputs, output in self._plan:
            start = clock()
            out = run(*[values[i] for i in inputs])
            elapsed = clock() - start
            values[output] = out
            name = self.names[output]
            result.tensors[name] = out
            result.by_index[output] = out
            result.op_seconds[name] = elapsed
        return result


def _unique_names(graph: Graph) -> dict[int, str]:
    names, seen = {}, set()
    for t in graph.tensors:
        name = t.name if t.name not in seen else f"{t.name}#{t.index}"
        seen.add(name)
        names[t.index] = name
    return names
