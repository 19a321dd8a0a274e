"""Runs a .tflite model with the numpy kernels, exposing and timing every layer."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from edge_service.errors import FrameError, ModelError
from edge_service.kernels import KERNELS
from edge_service.kernels.registry import MAX_WORKSPACE_BYTES, MODES
from edge_service.numpy_support import bytes_refusal, numpy_refusal
from edge_service.tflite_graph import Graph, read_graph


@dataclass
class RunResult:
    """Every tensor an op wrote, in execution order, and each op's time in seconds.

    An op with several outputs (SPLIT, UNPACK) shares its time equally among them.
    """

    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    by_index: dict[int, np.ndarray] = field(default_factory=dict)
    op_seconds: dict[str, float] = field(default_factory=dict)


class NumpyInterpreter:
    """`tflm` mode is TFLite Micro's arithmetic; `litert-ref` is LiteRT's BUILTIN_REF kernels.

    Kernels keep scratch buffers between frames: run one frame at a time per interpreter.
    """

    def __init__(self, model: bytes | Graph, mode: str = "tflm",
                 input_size: tuple[int, int] | None = None) -> None:
        """`input_size` (H, W) runs a fully-convolutional model at another size than it stores."""
        if mode not in MODES:
            raise ModelError(f"unknown arithmetic mode {mode!r}; choose from {', '.join(MODES)}")
        self.mode = mode
        refusal = None if isinstance(model, Graph) else bytes_refusal(model)
        if refusal:
            raise ModelError(refusal)
        self.graph = model if isinstance(model, Graph) else read_graph(model)
        if input_size is not None:
            self.graph = at_input_size(self.graph, *input_size)
        refusal = numpy_refusal(self.graph)
        if refusal:
            raise ModelError(refusal)
        if len(self.graph.inputs) != 1:
            raise ModelError(f"the model has {len(self.graph.inputs)} inputs; one is supported")
        if not self.graph.outputs:
            raise ModelError("the model has no outputs")
        activations = sum(t.nbytes for t in self.graph.tensors if t.data is None)
        if activations > MAX_WORKSPACE_BYTES:
            raise ModelError(f"the model's tensors would take {activations >> 20} MiB; refusing")
        self.kernels = [KERNELS[op.op](op, self.graph, mode) for op in self.graph.operators]
        for kernel in self.kernels:
            expected = kernel.output_count
            if (len(kernel.op.outputs) != expected) if expected else not kernel.op.outputs:
                raise ModelError(f"operator {kernel.op.index} ({kernel.op.op}) must have "
                                 f"{expected or 'at least one'} output(s), has {len(kernel.op.outputs)}")
        self.input = self.graph.tensors[self.graph.inputs[0]]
        self.names = _unique_names(self.graph)
        # Each frame starts from the constants; ops then fill in the tensors they write.
        self._constants = [t.data for t in self.graph.tensors]
        # (run, input indices, output indices or None for the one output an op usually writes)
        self._plan = [(k.run, [i for i in k.op.inputs if i >= 0],
                       k.op.outputs[0] if k.output_count == 1 else list(k.op.outputs)) for k in self.kernels]
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
                out = run(*[values[i] for i in inputs])
                if isinstance(output, int):
                    values[output] = out
                else:  # SPLIT, UNPACK: several outputs
                    for index, value in zip(output, out):
                        values[index] = value
            return {name: values[i] for name, i in self._output_names}
        result = RunResult()
        clock = time.perf_counter
        for run, inputs, output in self._plan:
            start = clock()
            out = run(*[values[i] for i in inputs])
            elapsed = clock() - start
            written = [(output, out)] if isinstance(output, int) else list(zip(output, out))
            for index, value in written:
                values[index] = value
                name = self.names[index]
                result.tensors[name] = value
                result.by_index[index] = value
                result.op_seconds[name] = elapsed / len(written)
        return result


def written_tensors(graph: Graph) -> list[int]:
    """The index of every tensor an op writes, in execution order (all outputs of each op)."""
    return [index for op in graph.operators for index in op.outputs]


# The ops whose output keeps the input's height and width when stride 1 and SAME padded.
SIZE_KEEPING_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def at_input_size(graph: Graph, height: int, width: int) -> Graph:
    """The graph with every activation tensor's H x W set to (height, width).

    Only for fully-convolutional graphs of stride-1 SAME convolutions (conversion.tflite),
    whose every activation has the input's height and width; others are refused.
    """
    if height < 1 or width < 1:
        raise FrameError(f"an input of {height}x{width} pixels is empty")
    for op in graph.operators:
        o = op.options
        if op.op not in SIZE_KEEPING_OPS or o.get("padding") != "SAME" or \
                (o.get("stride_h", 1), o.get("stride_w", 1)) != (1, 1):
            raise ModelError(f"operator {op.index} ({op.op}) is not a stride-1 SAME convolution: "
                             f"the model runs only at its stored input size")
    size = tuple(graph.tensors[graph.inputs[0]].shape[1:3])
    tensors = []
    for t in graph.tensors:
        if t.data is None:
            if len(t.shape) != 4 or tuple(t.shape[1:3]) != size:
                raise ModelError(f"tensor {t.name} {list(t.shape)} is not an N x {size[0]} x {size[1]} x C "
                                 f"activation: the model runs only at its stored input size")
            t = replace(t, shape=(t.shape[0], height, width, t.shape[3]))
        tensors.append(t)
    return replace(graph, tensors=tensors)


def _unique_names(graph: Graph) -> dict[int, str]:
    names, seen = {}, set()
    for t in graph.tensors:
        name = t.name if t.name not in seen else f"{t.name}#{t.index}"
        seen.add(name)
        names[t.index] = name
    return names
