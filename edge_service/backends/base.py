"""What every backend returns: each layer's int8 output by name, and the timings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_service.errors import EdgeError, ModelError
from edge_service.manifest import ModelArtefact


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
        self.in_output_order = sorted(artefact.manifest.layers, key=lambda layer: layer.output_index)
        self.layer_names = [layer.name for layer in self.in_output_order]

    def check_model(self, input_shape, shapes: list) -> None:
        """The model's input is the manifest's, and its outputs, in order, are the manifest's layers:
        a hand-edited shape or `output_index` would otherwise fail in every frame, or hand one
        layer's numbers to another without a word."""
        expected, actual = list(self.artefact.manifest.input["shape"]), [int(n) for n in input_shape]
        if expected != actual:
            raise ModelError(f"the manifest's input is {expected}, the model's {actual}")
        layers = self.in_output_order
        if len(shapes) != len(layers):
            raise ModelError(f"the model has {len(shapes)} outputs, its manifest {len(layers)} layers")
        for position, (layer, shape) in enumerate(zip(layers, shapes)):
            shape = [int(n) for n in shape]
            if list(layer.shape) != shape:
                raise ModelError(f"manifest layer {layer.name!r} (output {layer.output_index}) is "
                                 f"{list(layer.shape)}, the model's output {position} is {shape}")

    def infer(self, x: np.ndarray) -> Inference:
        raise NotImplementedError

    def close(self) -> None:
        """Release the interpreter or device."""
