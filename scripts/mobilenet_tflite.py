"""Writes a third-party-style int8 MobileNetV2 (alpha 0.35, 96x96) for the README's `unseen expose` example.

Keras' own application with random weights (`weights=None`: nothing is downloaded), its
batch-normalization statistics taken from the calibration images so that activations keep
their range as trained ones do, converted by the plain TFLite converter: no unseen code.
Usage: python scripts/mobilenet_tflite.py OUT.tflite
"""

from __future__ import annotations

import contextlib
import io
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(out: str) -> None:
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)
    images = np.random.default_rng(0).uniform(-1, 1, (16, 96, 96, 3)).astype(np.float32)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(images, training=True)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in images)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):
        data = converter.convert()
    with open(out, "wb") as f:
        f.write(data)
    print(f"wrote {out} ({len(data)} bytes)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "mobilenet_v2_035_96.tflite")
