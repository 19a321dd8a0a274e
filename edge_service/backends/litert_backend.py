"""LiteRT (ai_edge_litert) or its predecessor tflite_runtime, on the CPU (XNNPACK)."""

from __future__ import annotations

import importlib
import time

import numpy as np

from edge_service.backends.base import Backend, BackendUnavailable, Inference
from edge_service.manifest import ModelArtefact


MODULES = {"litert": "ai_edge_litert.interpreter", "tflite_runtime": "tflite_runtime.interpreter"}


def interpreter_module(package: str):
    """The `interpreter` module of LiteRT or tflite-runtime (Interpreter, load_delegate)."""
    try:
        return importlib.import_module(MODULES[package])
    except ImportError as exc:
        raise BackendUnavailable(f"{exc.name} is not installed") from None


class LiteRTBackend(Backend):
    name = "litert"
    package = "litert"

    def __init__(self, artefact: ModelArtefact, threads: int | None = None,
                 model_bytes: bytes | None = None, delegates: list | None = None) -> None:
        super().__init__(artefact)
        Interpreter = interpreter_module(self.package).Interpreter
        try:
            self.interpreter = Interpreter(model_content=model_bytes or artefact.model_bytes,
                                           num_threads=threads, experimental_delegates=delegates)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailable(f"{self.name} could not load the model: {exc}") from None
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        details = self.interpreter.get_output_details()
        if len(details) != len(self.layer_names):
            raise BackendUnavailable(f"{self.name}: the model has {len(details)} outputs, "
                                     f"the manifest {len(self.layer_names)} layers")
        self.output_indices = [d["index"] for d in details]

    def infer(self, x: np.ndarray) -> Inference:
        start = time.perf_counter()
        self.interpreter.set_tensor(self.input_index, x)
        self.interpreter.invoke()
        outputs = {name: self.interpreter.get_tensor(i)
                   for name, i in zip(self.layer_names, self.output_indices)}
        return Inference(outputs, time.perf_counter() - start, None)


class TfliteRuntimeBackend(LiteRTBackend):
    """tflite-runtime 2.14 needs numpy < 2; LiteRT is its maintained successor."""

    name = "tflite-runtime"
    package = "tflite_runtime"

    def __init__(self, artefact: ModelArtefact, threads: int | None = None, **kwargs) -> None:
        if int(np.__version__.split(".")[0]) >= 2:
            raise BackendUnavailable("tflite-runtime 2.14 does not work with numpy 2 "
                                     f"(numpy {np.__version__} is installed)")
        super().__init__(artefact, threads, **kwargs)
