"""Models as a user brings them: Keras graphs with only their own outputs, converted by the plain
TFLite converter (not our training code), so that `unseen expose` has every layer to add."""

from __future__ import annotations

import contextlib
import io

import numpy as np

from tests.edge_service.model_zoo import LAYER_ZOO, SHAPE


def convert(model, calibration: np.ndarray | None, int8_io: bool = True) -> bytes:
    """int8 (or, with no calibration, float) .tflite bytes from a Keras model or a tf.function."""
    import tensorflow as tf

    if hasattr(model, "get_concrete_function"):
        converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()])
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if calibration is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([x[None]] for x in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def zoo_model(name: str, seed: int = 0) -> bytes:
    """Zoo model `name` with only its last layer as the output, as a third party would ship it."""
    import keras
    from keras import layers

    builder, options = LAYER_ZOO[name]
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(SHAPE, batch_size=1, name="image")
    model = keras.Model(inputs, builder(keras, layers, inputs)[-1], name=name)
    calibration = np.random.default_rng(seed).random((40, *SHAPE), dtype=np.float32)
    return convert(model, calibration, int8_io=not options.get("float_io"))


def mobilenet_v2(seed: int = 0) -> bytes:
    """Keras' MobileNetV2 body, alpha 0.35, 96x96, random weights (batch statistics set from data
    so that activations keep their range, as trained ones do), int8, inputs in [-1, 1]."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)
    calibration = np.random.default_rng(seed).uniform(-1, 1, (16, 96, 96, 3)).astype(np.float32)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    model(calibration, training=True)
    return convert(model, calibration)


def float_model() -> bytes:
    """A small CNN left in float32, as many published .tflite files are."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3), batch_size=1)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="features")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="scores")(keras.layers.Flatten()(x))
    return convert(keras.Model(inputs, outputs), None)


def dynamic_batch_model() -> bytes:
    """A small int8 CNN saved with batch None: its Flatten works out the batch at run time
    (SHAPE, STRIDED_SLICE, PACK feed the RESHAPE)."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="features")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="scores")(keras.layers.Flatten()(x))
    return convert(keras.Model(inputs, outputs), np.random.default_rng(0).random((20, 8, 8, 3), dtype=np.float32))


def log_softmax_model() -> bytes:
    """int8, with an op the numpy kernels lack (LOG_SOFTMAX) after layers they have."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3), batch_size=1)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="features")(inputs)
    x = keras.layers.Dense(5, name="logits")(keras.layers.Flatten()(x))
    outputs = keras.layers.Activation("log_softmax", name="log_probs")(x)
    calibration = np.random.default_rng(0).random((20, 8, 8, 3), dtype=np.float32)
    return convert(keras.Model(inputs, outputs), calibration)


def while_loop_model() -> bytes:
    """Three subgraphs (WHILE, its condition and its body): halves the image until it is dim."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def dim(x):
        _, y = tf.while_loop(lambda i, v: tf.reduce_max(v) > 0.25, lambda i, v: (i + 1, v * 0.5),
                             [tf.constant(0), x])
        return tf.nn.relu(y - 0.1)

    return convert(dim, None)


def variable_model() -> bytes:
    """A resource variable that accumulates frames (VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE)."""
    import tensorflow as tf

    class Accumulate(tf.Module):
        def __init__(self) -> None:
            self.total = tf.Variable(tf.zeros([1, 8, 8, 3]))

        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
        def __call__(self, x):
            self.total.assign_add(x)
            return tf.nn.relu(self.total * 0.5)

    module = Accumulate()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()], module)
    converter.experimental_enable_resource_variables = True
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()
