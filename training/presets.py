"""The CNN presets. Each starts with the conversion matrix as a frozen Conv2D.

`seed` is seed 003's network; `micro` is sized for a TFLite Micro arena of 64 KB or less.
Small inputs (under 28 px, like the 8x8 digits) use 'same' padding so the two
pooling stages still have something to pool.
"""

from __future__ import annotations

from edge_service.conversion import ConversionMatrix

PRESETS = ("seed", "micro")
CONVERSION_LAYER = "conversion"


def build_model(preset: str, input_shape: tuple[int, int, int], classes: int,
                conversion: ConversionMatrix, fine_tune_conversion: bool = False,
                dropout: float = 0.0, learning_rate=1e-3):
    """A compiled Keras model (Adam at `learning_rate`, a float or a schedule).

    `dropout` > 0 puts Dropout before each dense layer: training-only, so the layers the
    device runs (and their names) are the same with or without it.
    """
    import keras
    from keras import layers

    h, w, c = input_shape
    if conversion.channels != c:
        from training.errors import TrainingError
        raise TrainingError(f"the conversion matrix takes {conversion.channels} channel(s), "
                            f"the dataset has {c}")
    inputs = keras.Input(shape=input_shape, name="image")
    conv_layer = layers.Conv2D(conversion.components, conversion.patch, padding="same",
                               name=CONVERSION_LAYER, trainable=fine_tune_conversion)
    x = conv_layer(inputs)
    conv_layer.set_weights([conversion.conv_kernel(), conversion.conv_bias()])
    pad = "same" if min(h, w) < 28 else "valid"
    if preset == "seed":
        x = layers.Conv2D(64, 3, padding=pad, activation="relu", name="conv1")(x)
        x = layers.MaxPooling2D(2, name="pool1")(x)
        x = layers.Conv2D(64, 3, padding=pad, activation="relu", name="conv2")(x)
        x = layers.MaxPooling2D(2, name="pool2")(x)
        x = layers.Flatten(name="flatten")(x)
        x = _dropout(x, dropout, "dropout1")
        x = layers.Dense(20, activation="relu", name="dense1")(x)
        x = _dropout(x, dropout / 2, "dropout2")  # 20 units: a lighter hand
    elif preset == "micro":
        x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(x)
        x = layers.MaxPooling2D(2, name="pool1")(x)
        x = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="depthwise1")(x)
        x = layers.Conv2D(32, 1, activation="relu", name="pointwise1")(x)
        x = layers.MaxPooling2D(2, name="pool2")(x)
        x = layers.Flatten(name="flatten")(x)
        x = _dropout(x, dropout, "dropout1")
    else:
        from training.errors import TrainingError
        raise TrainingError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    outputs = layers.Dense(classes, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name=f"unseen_{preset}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _dropout(x, rate: float, name: str):
    from keras import layers
    return layers.Dropout(rate, name=name)(x) if rate > 0 else x


def deployed_layers(model) -> list:
    """The layers a device runs, in order: every layer but the input and training-only ones."""
    import keras
    return [layer for layer in model.layers[1:] if not isinstance(layer, keras.layers.Dropout)]


def every_layer_model(model):
    """The same weights with every deployed layer's output as a model output, in order, batch 1."""
    import keras
    inputs = keras.Input(shape=model.input_shape[1:], batch_size=1, name="image")
    x, outputs = inputs, []
    for layer in deployed_layers(model):
        x = layer(x)
        outputs.append(x)
    return keras.Model(inputs, outputs, name=model.name + "_layers")
