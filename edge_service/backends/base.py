"""What every backend returns: each layer's int8 output by name, and the timings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_service.errors import EdgeError, ModelError
from edge_service.manifest import ModelArtefact
from edge_service.manifest_checks import model_problem


class BackendUnavailable(EdgeError):
    """This backend cannot run here; the message says why (auto selection reports it)."""


@dataclass
class Inference:
    outputs: dict[str, np.ndarray]            # manifest layer name -> int8 array, in layer order
    seconds: float                            # the whole inference
    layer_seconds: dict[str, float] | None    # per layer, where the backend can time them


class Backend:
    name = "backend"
    version = ""   # the runtime's version, where it has one (shown in the status)

    def __init__(self, artefact: ModelArtefact) -> None:
        self.artefact = artefact
        self.layer_names = [layer.name for layer in sorted(artefact.manifest.layers, key=lambda l: l.output_index)]

    def check_model(self, input_shape, input_dtype, shapes: list) -> None:
        """The manifest describes this model (see manifest_checks.model_problem)."""
        problem = model_problem(self.artefact.manifest, input_shape, np.dtype(input_dtype).name, shapes)
        if problem:
            raise ModelError(problem)

    def infer(self, x: np.ndarray) -> Inference:
        raise NotImplementedError

    def close(self) -> None:
        """Release the interpreter or device."""
