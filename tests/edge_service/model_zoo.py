"""The model zoo: together its models cover every op and option the numpy kernels support.

Three kinds: small Keras models converted by the training code's own int8 converter with
every layer an output; hand-built graphs for options no Keras layer writes; and the
architectures users deploy (only their real outputs exposed). Weights are random but
calibration is real, so activations span their int8 ranges. The built models and their
reference outputs are stored in zoo/ (scripts/make_zoo_references), so the exactness
tests need neither TensorFlow nor the oracles.
"""

from __future__ import annotations

import numpy as np

from tests.edge_service.zoo_architectures import ARCHITECTURES, normalise_batch_norms
from tests.edge_service.zoo_graphs import GRAPHS
from tests.edge_service.zoo_layers import LAYER_MODELS

SHAPE = (12, 12, 3)


def _conv_options(keras, layers, x):
    a = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6", name="conv_s2_same_relu6")(x)
    b = layers.Conv2D(6, (2, 3), padding="valid", name="conv_2x3_valid")(a)
    return [a, b, layers.Conv2D(5, 3, dilation_rate=2, padding="same", activation="relu", name="conv_dilated")(b)]


def _depthwise(keras, layers, x):
    a = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu", name="dw_mult2")(x)
    b = layers.DepthwiseConv2D(3, strides=2, padding="valid", name="dw_s2_valid")(a)
    return [a, b, layers.DepthwiseConv2D(3, dilation_rate=2, padding="same", activation="relu6", name="dw_dilated")(b)]


def _pools(keras, layers, x):
    a = layers.Conv2D(4, 1, name="mix")(x)
    b = layers.MaxPooling2D(3, strides=2, padding="same", name="max_same_s2")(a)
    c = layers.AveragePooling2D(3, strides=1, padding="same", name="avg_same")(b)
    return [a, b, c, layers.AveragePooling2D(2, name="avg_valid")(c)]


def _dense(keras, layers, x):
    a = layers.Flatten(name="flatten")(x)
    b = layers.Dense(16, activation="relu", name="dense_relu")(a)
    c = layers.Dense(10, name="dense_logits")(b)
    return [a, b, c, layers.Softmax(name="softmax")(c)]


def _add_mul_relu(keras, layers, x):
    a = layers.Conv2D(6, 3, padding="same", name="branch_a")(x)
    b = layers.Conv2D(6, 1, name="branch_b")(x)
    s = layers.Add(name="add")([a, b])
    m = layers.Multiply(name="mul")([s, b])
    r = layers.ReLU(name="relu")(m)
    return [a, b, s, m, r, layers.ReLU(max_value=6.0, name="relu6")(r)]


def _concat_pad(keras, layers, x):
    p = layers.ZeroPadding2D(((1, 2), (2, 1)), name="pad")(x)
    a = layers.Conv2D(4, 3, name="left")(p)
    b = layers.Conv2D(3, 3, activation="relu", name="right")(p)
    return [p, a, b, layers.Concatenate(name="concat")([a, b])]


def _mean_logistic(keras, layers, x):
    a = layers.Conv2D(8, 3, padding="same", activation="relu", name="features")(x)
    g = layers.GlobalAveragePooling2D(name="gap")(a)
    k = layers.GlobalAveragePooling2D(keepdims=True, name="gap_keepdims")(a)
    f = layers.Flatten(name="flat_keep")(k)
    both = layers.Concatenate(name="both")([g, f])
    return [a, g, k, f, both, layers.Dense(4, activation="sigmoid", name="sigmoid")(both)]


def _broadcast_add(keras, layers, x):
    a = layers.Conv2D(4, 3, padding="same", name="maps")(x)
    g = layers.GlobalAveragePooling2D(keepdims=True, name="pooled")(a)
    return [a, g, layers.Add(name="add_broadcast")([a, g])]


def _seed_like(keras, layers, x):
    a = layers.Conv2D(16, 3, padding="same", activation="relu", name="c1")(x)
    b = layers.MaxPooling2D(2, name="p1")(a)
    c = layers.Conv2D(16, 3, padding="same", activation="relu", name="c2")(b)
    d = layers.Flatten(name="f")(c)
    return [a, b, c, d, layers.Dense(10, activation="softmax", name="out")(d)]


# name -> (builder, converter options): every layer an output
LAYER_ZOO = {
    "conv_options": (_conv_options, {}),
    "depthwise": (_depthwise, {}),
    "pools": (_pools, {}),
    "dense_per_channel": (_dense, {}),
    "dense_per_tensor": (_dense, {"per_channel_dense": False}),
    "add_mul_relu": (_add_mul_relu, {}),
    "concat_pad": (_concat_pad, {}),
    "mean_logistic": (_mean_logistic, {}),
    "broadcast_add": (_broadcast_add, {}),
    "float_io": (_seed_like, {"float_io": True}),
    "seed_like_per_tensor": (_seed_like, {"per_channel_dense": False}),
    **{name: (builder, {}) for name, builder in LAYER_MODELS.items()},
}
#: every zoo model: Keras layers (every layer an output), hand-built graphs, architectures
ZOO = sorted([*LAYER_ZOO, *GRAPHS, *ARCHITECTURES])
CALIBRATION_SAMPLES = 40


def build_zoo_model(name: str, seed: int = 0) -> bytes:
    """The int8 .tflite bytes of zoo model `name` (needs TensorFlow, or LiteRT for the graphs)."""
    if name in GRAPHS:
        return GRAPHS[name]()
    import keras
    from keras import layers

    from training.quantize import quantize_every_layer

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    if name in ARCHITECTURES:
        builder, shape = ARCHITECTURES[name]
        options = {}
    else:
        (builder, options), shape = LAYER_ZOO[name], SHAPE
    inputs = keras.Input(shape, batch_size=1, name="image")
    outputs = builder(keras, layers, inputs)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    model = keras.Model(inputs, outputs, name=name)
    calibration = rng.random((CALIBRATION_SAMPLES, *shape), dtype=np.float32)
    if name in ARCHITECTURES:
        normalise_batch_norms(keras, model, calibration[:16], rng)
    names = [t._keras_history.operation.name for t in outputs]
    return quantize_every_layer(model, calibration, progress=lambda _: None, names=names, **options)
