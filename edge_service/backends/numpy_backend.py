"""The pure-numpy int8 kernels: runs anywhere numpy runs, and times every layer."""

from __future__ import annotations

import time

import numpy as np

from edge_service.backends.base import Backend, Inference
from edge_service.manifest import ModelArtefact
from edge_service.numpy_interpreter import NumpyInterpreter


class NumpyBackend(Backend):
    name = "numpy"
    version = np.__version__   # the kernels run under numpy 1.24+ and 2.x alike

    def __init__(self, artefact: ModelArtefact, mode: str = "tflm") -> None:
        super().__init__(artefact)
        self.interpreter = NumpyInterpreter(artefact.model_bytes, mode)
        graph = self.interpreter.graph
        first = graph.tensors[graph.inputs[0]]
        self.check_model(first.shape, first.dtype, [graph.tensors[i].shape for i in graph.outputs])
        self.output_names = [self.interpreter.names[i] for i in graph.outputs]
        # Internal ops (e.g. the FC inside Dense+softmax) are charged to the next layer output.
        self.layer_of_op, pending = {}, []
        outputs = dict(zip(graph.outputs, self.layer_names))
        for op in graph.operators:
            pending.append(self.interpreter.names[op.outputs[0]])
            if op.outputs[0] in outputs:
                for name in pending:
                    self.layer_of_op[name] = outputs[op.outputs[0]]
                pending = []

    def infer(self, x: np.ndarray) -> Inference:
        start = time.perf_counter()
        result = self.interpreter.run(x, intermediate=True)
        seconds = time.perf_counter() - start
        per_layer = dict.fromkeys(self.layer_names, 0.0)
        for op_name, t in result.op_seconds.items():
            if op_name in self.layer_of_op:
                per_layer[self.layer_of_op[op_name]] += t
        outputs = {layer: result.tensors[name] for layer, name in zip(self.layer_names, self.output_names)}
        return Inference(outputs, seconds, per_layer)
