"""LiteRT (ai_edge_litert) or its predecessor tflite_runtime, on the CPU (XNNPACK)."""

from __future__ import annotations

import importlib
import importlib.metadata
import time

import numpy as np

from edge_service.backends.base import Backend, BackendUnavailable, Inference
from edge_service.manifest import ModelArtefact

MODULES = {"litert": "ai_edge_litert.interpreter", "tflite_runtime": "tflite_runtime.interpreter"}
DISTRIBUTIONS = {"litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime"}
INSTALL = {"litert": "pip install 'unseen[litert]'",
           "tflite_runtime": "pip install 'unseen[tflite-runtime]', which pins numpy<2"}
# The newest tflite-runtime release (2.14.0, the last) is built against numpy 1.
LAST_NUMPY1_ONLY = (2, 14)


def runtime_version(package: str) -> str:
    """The installed version of LiteRT or tflite-runtime, or "" when it is not installed."""
    try:
        return importlib.metadata.version(DISTRIBUTIONS[package])
    except importlib.metadata.PackageNotFoundError:
        return ""


def _numpy1_only(version: str) -> bool:
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    return parts <= LAST_NUMPY1_ONLY


def interpreter_module(package: str):
    """The `interpreter` module of LiteRT or tflite-runtime (Interpreter, OpResolverType, load_delegate)."""
    version = runtime_version(package)
    numpy2 = int(np.__version__.split(".")[0]) >= 2
    if package == "tflite_runtime" and version and _numpy1_only(version) and numpy2:
        # Checked before the import: under numpy 2 the import prints a long warning and every
        # Interpreter fails with "returned a result with an exception set".
        raise BackendUnavailable(f"tflite-runtime {version} needs numpy < 2, numpy {np.__version__} is "
                                 f"installed ({INSTALL[package]}, or use ai-edge-litert)")
    try:
        return importlib.import_module(MODULES[package])
    except ImportError as exc:
        name = DISTRIBUTIONS[package]
        if exc.name and MODULES[package].startswith(exc.name):
            raise BackendUnavailable(f"{name} is not installed ({INSTALL[package]})") from None
        raise BackendUnavailable(f"{name} {version} does not import here: {exc}") from None


class LiteRTBackend(Backend):
    name = "litert"
    package = "litert"

    def __init__(self, artefact: ModelArtefact, threads: int | None = None,
                 model_bytes: bytes | None = None, delegates: list | None = None) -> None:
        super().__init__(artefact)
        Interpreter = interpreter_module(self.package).Interpreter
        self.version = runtime_version(self.package)
        try:
            self.interpreter = Interpreter(model_content=model_bytes or artefact.model_bytes,
                                           num_threads=threads, experimental_delegates=delegates)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError, SystemError) as exc:
            # SystemError is what a runtime built for another numpy raises.
            raise BackendUnavailable(f"{self.name} {self.version} could not load the model: {exc}") from None
        given = self.interpreter.get_input_details()[0]
        self.input_index = given["index"]
        details = self.interpreter.get_output_details()
        self.check_model(given["shape"], given["dtype"], [d["shape"] for d in details])
        self.output_indices = [d["index"] for d in details]

    def infer(self, x: np.ndarray) -> Inference:
        start = time.perf_counter()
        self.interpreter.set_tensor(self.input_index, x)
        self.interpreter.invoke()
        outputs = {name: self.interpreter.get_tensor(i)
                   for name, i in zip(self.layer_names, self.output_indices)}
        return Inference(outputs, time.perf_counter() - start, None)


class TfliteRuntimeBackend(LiteRTBackend):
    """tflite-runtime 2.14 (Python <= 3.11, numpy < 2); LiteRT is its maintained successor."""

    name = "tflite-runtime"
    package = "tflite_runtime"
