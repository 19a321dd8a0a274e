"""Reference models made elsewhere, for benchmarks and exactness tests: MobileNetV2-0.35 at 96x96.

Random weights (keras.applications with weights=None) and calibration on random images: the
arithmetic, not the accuracy, is what these models are for. Every operator's output is added
to the subgraph outputs, as `unseen expose` does, so a device would read every layer.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

MOBILENET_SHAPE = (96, 96, 3)


def expose_every_operator(flat: bytes) -> bytes:
    """The same model with each operator's output appended to the subgraph outputs."""
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model = fbu.read_model_from_bytearray(bytearray(flat))
    sub = model.subgraphs[0]
    outputs = list(sub.outputs)
    for op in sub.operators:
        outputs += [i for i in op.outputs if i not in outputs]
    sub.outputs = outputs
    return bytes(fbu.convert_object_to_bytearray(model))


def build_mobilenet_v2(alpha: float = 0.35, classes: int = 10, seed: int = 0,
                       calibration_images: int = 16) -> bytes:
    """int8 .tflite bytes of MobileNetV2 (alpha, 96x96x3, batch 1), every operator an output."""
    import keras

    from training.quantize import quantize_every_layer

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(MOBILENET_SHAPE, batch_size=1, name="image")
    body = keras.applications.MobileNetV2(input_tensor=inputs, alpha=alpha, weights=None,
                                          classes=classes, include_top=True,
                                          classifier_activation=None)
    model = keras.Model(inputs, body.output, name="mobilenet_v2")
    rng = np.random.default_rng(seed)
    calibration = rng.uniform(-1.0, 1.0, (calibration_images, *MOBILENET_SHAPE)).astype(np.float32)
    flat = quantize_every_layer(model, calibration, progress=lambda _: None, names=["predictions"])
    return expose_every_operator(flat)


def cached_mobilenet_v2(alpha: float = 0.35, folder: Path | None = None) -> bytes:
    """`build_mobilenet_v2`, kept in a temporary folder between runs (keyed by the TF version)."""
    import tensorflow as tf

    key = hashlib.sha256(f"{alpha}-{tf.__version__}-v2".encode()).hexdigest()[:12]
    path = (folder or Path(tempfile.gettempdir()) / "unseen-reference-models") / f"mobilenet_v2_{key}.tflite"
    if path.exists():
        return path.read_bytes()
    data = build_mobilenet_v2(alpha)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return data
