"""The architectures users deploy, int8 with random weights: only their real outputs are outputs.

Every tensor is still compared: both oracles read intermediates without exposing them,
so the graphs keep the converter's fusions (activations into convolutions, and so on).
"""

from __future__ import annotations


def mobilenet_v1(keras, layers, x):
    return keras.applications.MobileNet(input_tensor=x, alpha=0.35, weights=None, classes=10).output


def mobilenet_v2(keras, layers, x):
    return keras.applications.MobileNetV2(input_tensor=x, alpha=0.35, weights=None, classes=10).output


def mobilenet_v3_small(keras, layers, x):
    return keras.applications.MobileNetV3Small(input_tensor=x, alpha=0.35, weights=None, classes=10,
                                               include_preprocessing=False).output


def _mbconv(layers, x, filters: int, expand: int, kernel: int, stride: int, name: str):
    """EfficientNet-Lite's block: no squeeze-excite, ReLU6, a residual when shapes allow."""
    channels = x.shape[-1]
    y = layers.Conv2D(channels * expand, 1, use_bias=False, name=name + "_expand")(x) if expand > 1 else x
    if expand > 1:
        y = layers.ReLU(6.0, name=name + "_expand_relu6")(layers.BatchNormalization(name=name + "_bn0")(y))
    y = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=name + "_dw")(y)
    y = layers.ReLU(6.0, name=name + "_dw_relu6")(layers.BatchNormalization(name=name + "_bn1")(y))
    y = layers.BatchNormalization(name=name + "_bn2")(layers.Conv2D(filters, 1, use_bias=False,
                                                                    name=name + "_project")(y))
    return layers.Add(name=name + "_add")([x, y]) if stride == 1 and channels == filters else y


def efficientnet_lite_like(keras, layers, x):
    y = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu6", name="stem")(x)
    for i, (filters, expand, kernel, stride) in enumerate(
            ((8, 1, 3, 1), (12, 6, 3, 2), (12, 6, 3, 1), (20, 6, 5, 2), (20, 6, 5, 1), (32, 6, 3, 2))):
        y = _mbconv(layers, y, filters, expand, kernel, stride, f"block{i}")
    y = layers.Conv2D(64, 1, activation="relu6", name="head")(y)
    y = layers.GlobalAveragePooling2D(name="pool")(y)
    return layers.Dense(10, activation="softmax", name="predictions")(y)


def resnet8(keras, layers, x):
    """The MLPerf Tiny image classification model (CIFAR-10 sized)."""
    def conv_bn(y, filters, stride, name, relu=True):
        y = layers.BatchNormalization(name=name + "_bn")(
            layers.Conv2D(filters, 3, strides=stride, padding="same", name=name)(y))
        return layers.Activation("relu", name=name + "_relu")(y) if relu else y

    y = conv_bn(x, 16, 1, "stem")
    for stack, (filters, stride) in enumerate(((16, 1), (32, 2), (64, 2))):
        z = conv_bn(conv_bn(y, filters, stride, f"s{stack}_a"), filters, 1, f"s{stack}_b", relu=False)
        shortcut = y if stride == 1 else layers.Conv2D(filters, 1, strides=stride, name=f"s{stack}_short")(y)
        y = layers.Activation("relu", name=f"s{stack}_relu")(layers.Add(name=f"s{stack}_add")([z, shortcut]))
    y = layers.Flatten(name="flatten")(layers.AveragePooling2D(8, name="pool")(y))
    return layers.Dense(10, activation="softmax", name="predictions")(y)


def unet_small(keras, layers, x):
    """Two levels down, two up (TRANSPOSE_CONV), skip connections by CONCATENATION."""
    def double(y, filters, name):
        y = layers.Conv2D(filters, 3, padding="same", activation="relu", name=name + "_a")(y)
        return layers.Conv2D(filters, 3, padding="same", activation="relu", name=name + "_b")(y)

    e1 = double(x, 8, "enc1")
    e2 = double(layers.MaxPooling2D(name="pool1")(e1), 16, "enc2")
    b = double(layers.MaxPooling2D(name="pool2")(e2), 32, "bottom")
    u2 = layers.Conv2DTranspose(16, 2, strides=2, name="up2")(b)
    d2 = double(layers.Concatenate(name="skip2")([u2, e2]), 16, "dec2")
    u1 = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu", name="up1")(d2)
    d1 = double(layers.Concatenate(name="skip1")([u1, e1]), 8, "dec1")
    return layers.Conv2D(3, 1, activation="softmax", name="mask")(d1)


def _backbone(layers, x):
    y = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c1")(x)
    large = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="c2")(y)
    small = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="c3")(large)
    return large, small


def ssd_head(keras, layers, x, anchors: int = 3, classes: int = 4):
    """Per-scale box and class convolutions, RESHAPEd and CONCATENATEd; LOGISTIC class scores."""
    boxes, scores = [], []
    for i, feature in enumerate(_backbone(layers, x)):
        boxes.append(layers.Reshape((-1, 4), name=f"boxes{i}")(
            layers.Conv2D(anchors * 4, 3, padding="same", name=f"box_conv{i}")(feature)))
        scores.append(layers.Reshape((-1, classes), name=f"scores{i}")(
            layers.Conv2D(anchors * classes, 3, padding="same", name=f"class_conv{i}")(feature)))
    box = layers.Concatenate(axis=1, name="all_boxes")(boxes)
    score = layers.Activation("sigmoid", name="class_scores")(layers.Concatenate(axis=1, name="all_scores")(scores))
    return [box, score]


def yolo_head(keras, layers, x, anchors: int = 2, classes: int = 3):
    """The small map upsampled (RESIZE) and joined to the large; outputs cut by STRIDED_SLICE."""
    large, small = _backbone(layers, x)
    up = layers.Resizing(large.shape[1], large.shape[2], interpolation="nearest", name="upsample")(
        layers.Conv2D(16, 1, activation="relu", name="lateral")(small))
    y = layers.Conv2D(24, 3, padding="same", activation="relu", name="neck")(
        layers.Concatenate(name="join")([large, up]))
    raw = layers.Reshape((-1, 5 + classes), name="grid")(layers.Conv2D(anchors * (5 + classes), 1, name="detect")(y))
    xy = layers.Activation("sigmoid", name="xy")(layers.Lambda(lambda t: t[..., 0:2], name="raw_xy")(raw))
    wh = layers.Lambda(lambda t: t[..., 2:4], name="raw_wh")(raw)
    rest = layers.Activation("sigmoid", name="objectness_classes")(layers.Lambda(lambda t: t[..., 4:],
                                                                                name="raw_rest")(raw))
    return layers.Concatenate(name="detections")([xy, wh, rest])


# name -> (builder, input shape)
ARCHITECTURES = {
    "mobilenet_v1": (mobilenet_v1, (96, 96, 3)),
    "mobilenet_v2": (mobilenet_v2, (96, 96, 3)),
    "mobilenet_v3_small": (mobilenet_v3_small, (96, 96, 3)),
    "efficientnet_lite_like": (efficientnet_lite_like, (64, 64, 3)),
    "resnet8": (resnet8, (32, 32, 3)),
    "unet_small": (unet_small, (32, 32, 3)),
    "ssd_head": (ssd_head, (64, 64, 3)),
    "yolo_head": (yolo_head, (64, 64, 3)),
}


def normalise_batch_norms(keras, model, data, rng) -> None:
    """Sets every BatchNormalization's statistics from `data`, with random gamma and beta.

    Random weights alone shrink the activations of a deep net to nothing (a MobileNet's
    last layers quantize to one value); measured statistics keep every layer's range alive.
    """
    import numpy as np
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        probe = keras.Model(model.inputs, layer.input)
        values = np.asarray(probe(data, training=False), np.float64)
        axes = tuple(range(values.ndim - 1))
        channels = values.shape[-1]
        gamma, beta = rng.uniform(0.5, 1.5, channels), rng.uniform(-0.5, 0.5, channels)
        layer.set_weights([gamma, beta, values.mean(axis=axes), values.var(axis=axes) + 1e-3])
