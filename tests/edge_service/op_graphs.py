"""One-op graphs made in memory (no flatbuffer, no TensorFlow) for hand-checked kernel cases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_service.numpy_interpreter import NumpyInterpreter
from edge_service.tflite_graph import Graph, Operator, Tensor


@dataclass
class T:
    """A tensor spec: shape, quantization (None: not quantized), type, constant data."""

    shape: tuple
    scale: float | list | None = 1.0
    zero_point: int = 0
    dtype: str = "int8"
    data: object = None


def const(values, dtype: str = "int32") -> T:
    values = np.asarray(values)
    return T(values.shape, None, 0, dtype, values)


def op_graph(kind: str, inputs: list[T], outputs: list[T], version: int = 1, **options) -> Graph:
    """A graph of one op; the first non-constant input is the graph's input."""
    tensors = []
    for i, spec in enumerate(inputs + outputs):
        scales = [] if spec.scale is None else list(np.atleast_1d(spec.scale))
        data = None if spec.data is None else np.asarray(spec.data, spec.dtype).reshape(spec.shape)
        tensors.append(Tensor(i, f"t{i}", tuple(spec.shape), np.dtype(spec.dtype),
                              np.array(scales, np.float32), np.full(len(scales), spec.zero_point, np.int64),
                              0, data))
    ins = list(range(len(inputs)))
    outs = list(range(len(inputs), len(inputs) + len(outputs)))
    graph_input = next(i for i in ins if tensors[i].data is None)
    return Graph(tensors, [Operator(0, kind, version, ins, outs, options)], [graph_input], outs, {})


def run_op(kind: str, x, inputs: list[T], outputs: list[T], mode: str = "tflm", **options) -> list[np.ndarray]:
    """The op's outputs for graph input `x` (int8 unless the input spec says otherwise)."""
    interpreter = NumpyInterpreter(op_graph(kind, inputs, outputs, **options), mode)
    x = np.asarray(x, interpreter.input.dtype).reshape(interpreter.input.shape)
    result = interpreter.run(x, intermediate=True).by_index
    return [result[i] for i in interpreter.graph.outputs]
