"""The reference runtimes the numpy kernels are held to, reading every tensor.

Each needs its optional package (tflite-micro, ai-edge-litert or tflite-runtime) and is imported lazily.
"""

from __future__ import annotations

import numpy as np


def tflm_interpreter(model: bytes, preserve_all: bool = False):
    """TFLite Micro's Python interpreter, with an arena sized from the model's tensors."""
    from tflite_micro.python.tflite_micro import runtime
    from edge_service.tflite_graph import read_graph
    activations = sum(t.nbytes for t in read_graph(model).tensors if t.data is None)
    config = runtime.InterpreterConfig.kPreserveAllTensors if preserve_all else \
        runtime.InterpreterConfig.kAllocationRecording
    # Twice the activations (alignment, scratch) and room for per-channel parameters.
    return runtime.Interpreter.from_bytes(model, arena_size=2 * activations + (64 << 10),
                                          intrepreter_config=config)


def litert_interpreter(model: bytes, reference: bool = True):
    """LiteRT's interpreter: BUILTIN_REF kernels preserving every tensor, or the default XNNPACK path."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kwargs = ({"experimental_op_resolver_type": OpResolverType.BUILTIN_REF,
               "experimental_preserve_all_tensors": True} if reference else {})
    return Interpreter(model_content=model, **kwargs)


class TflmOracle:
    """TFLite Micro's Python interpreter with kPreserveAllTensors."""

    def __init__(self, model: bytes) -> None:
        from tflite_micro.python.tflite_micro import runtime
        self.interpreter = runtime.Interpreter.from_bytes(
            model, arena_size=arena_bytes(model),
            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)

    def run(self, x: np.ndarray, indices) -> dict[int, np.ndarray]:
        self.interpreter.set_input(x, 0)
        self.interpreter.invoke()
        return {i: self.interpreter.GetTensor(i, 0)["tensor_data"] for i in indices}


def arena_bytes(model: bytes) -> int:
    """An arena that holds every tensor at once (all are preserved), with room for bookkeeping."""
    from edge_service.tflite_graph import read_graph
    activations = sum(t.nbytes for t in read_graph(model).tensors if t.data is None)
    # The runtime's default (ten times the file) is too small for a model of few weights.
    return max(10 * len(model), 2 * activations + (256 << 10))


class LiteRTOracle:
    """LiteRT's interpreter: BUILTIN_REF kernels preserving every tensor, or the default XNNPACK path.

    `package` "tflite_runtime" runs the same on tflite-runtime (2.14 has both paths too).
    Raises BackendUnavailable when the package is missing or cannot run under this numpy.
    """

    def __init__(self, model: bytes, reference: bool = True, package: str = "litert",
                 threads: int | None = None) -> None:
        from edge_service.backends.litert_backend import interpreter_module
        module = interpreter_module(package)
        kwargs = ({"experimental_op_resolver_type": module.OpResolverType.BUILTIN_REF,
                   "experimental_preserve_all_tensors": True} if reference else {})
        self.interpreter = module.Interpreter(model_content=model, num_threads=threads, **kwargs)
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]

    def run(self, x: np.ndarray, indices) -> dict[int, np.ndarray]:
        self.interpreter.set_tensor(self.input_index, x)
        self.interpreter.invoke()
        return {i: self.interpreter.get_tensor(i) for i in indices}


def sample_inputs(shape, dtype, count: int, seed: int = 0):
    """`count` inputs: first the saturating extremes, then uniform random ones."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.float32:
        extremes = [np.full(shape, -1.0), np.full(shape, 2.0), rng.normal(0.5, 3.0, shape)]
        randoms = [rng.uniform(-0.2, 1.2, shape) for _ in range(count - len(extremes))]
    else:
        alternating = np.where(np.indices(shape).sum(axis=0) % 2, 127, -128)
        extremes = [np.full(shape, -128), np.full(shape, 127), alternating]
        randoms = [rng.integers(-128, 128, shape) for _ in range(count - len(extremes))]
    return [np.asarray(x).astype(dtype) for x in extremes + randoms][:count]
