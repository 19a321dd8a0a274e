"""Keras models, every layer an output, for the ops the architectures use (HARD_SWISH ... BATCH_MATMUL).

Each builder takes (keras, layers, input) and returns the layer outputs to expose.
"""

from __future__ import annotations


def activations_v3(keras, layers, x):
    """HARD_SWISH, LEAKY_RELU, PRELU, TANH, SUB, MAXIMUM, MINIMUM as Keras writes them."""
    a = layers.Conv2D(8, 3, padding="same", name="mix")(x)
    h = layers.Activation("hard_swish", name="hard_swish")(a)
    leaky = layers.LeakyReLU(negative_slope=0.2, name="leaky_relu")(a)
    prelu = layers.PReLU(alpha_initializer=keras.initializers.RandomUniform(-0.5, 1.5), shared_axes=[1, 2],
                         name="prelu")(a)
    t = layers.Activation("tanh", name="tanh")(a)
    s = layers.Subtract(name="sub")([h, leaky])
    mx = layers.Maximum(name="maximum")([prelu, t])
    mn = layers.Minimum(name="minimum")([s, mx])
    return [a, h, leaky, prelu, t, s, mx, mn]


def resizing(keras, layers, x):
    """Resizing nearest and bilinear, up and down; UpSampling2D bilinear (half-pixel centres).

    UpSampling2D's nearest mode becomes TILE, which TFLite Micro lacks: Resizing instead.
    """
    a = layers.Conv2D(4, 3, strides=2, padding="same", name="down")(x)
    n = layers.Resizing(12, 12, interpolation="nearest", name="up_nearest")(a)
    b = layers.UpSampling2D((3, 2), interpolation="bilinear", name="up_bilinear")(a)
    r = layers.Resizing(5, 7, interpolation="bilinear", name="resize_down")(n)
    o = layers.Resizing(17, 9, interpolation="nearest", name="resize_odd")(a)
    return [a, n, b, r, o]


def transposed(keras, layers, x):
    """Conv2DTranspose: stride 2 SAME with RELU, VALID (3, 2) kernels, no bias, output padding."""
    a = layers.Conv2DTranspose(6, 3, strides=2, padding="same", activation="relu", name="tconv_same")(x)
    b = layers.Conv2DTranspose(4, (3, 2), strides=(1, 2), padding="valid", use_bias=False, name="tconv_valid")(x)
    c = layers.Conv2DTranspose(3, 3, strides=2, padding="valid", output_padding=1, name="tconv_outpad")(x)
    return [a, b, c]


def reshuffles(keras, layers, x):
    """Permute, slicing, split, stack, unstack, take: the data movers.

    (The converter leaves an uneven split in float; the hand-built graphs cover SPLIT_V.)
    """
    ops = keras.ops
    a = layers.Conv2D(6, 3, padding="same", name="mix")(x)
    p = layers.Permute((2, 1, 3), name="permute")(a)
    s = layers.Lambda(lambda t: t[:, 1:-1:2, ::-1, 1:5], name="strided")(p)
    first, second = layers.Lambda(lambda t: ops.split(t, 2, axis=-1), name="split")(a)
    st = layers.Lambda(lambda ts: ops.stack(ts, axis=1), name="stack")([first, second])
    un = layers.Lambda(lambda t: ops.unstack(t, axis=1), name="unstack")(st)
    g = layers.Lambda(lambda t: ops.take(t, [2, 0, 1, 1], axis=-1), name="gather")(a)
    sl = layers.Lambda(lambda t: ops.slice(t, (0, 2, 1, 0), (1, 5, 9, 6)), name="slice")(a)
    return [a, p, s, first, second, st, un[0], un[1], g, sl]


def attention(keras, layers, x):
    """Self-attention over pixels: BATCH_MATMUL twice, softmax between."""
    ops = keras.ops
    f = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="features")(x)
    seq = layers.Reshape((-1, 8), name="tokens")(f)
    q, k, v = (layers.Dense(8, name=n)(seq) for n in ("query", "key", "value"))
    scores = layers.Lambda(lambda qk: ops.matmul(qk[0], ops.transpose(qk[1], (0, 2, 1))), name="scores")([q, k])
    weights = layers.Softmax(name="weights")(scores)
    mixed = layers.Lambda(lambda wv: ops.matmul(wv[0], wv[1]), name="mixed")([weights, v])
    return [f, seq, q, k, v, scores, weights, mixed]


LAYER_MODELS = {"layers_activations_v3": activations_v3, "layers_resizing": resizing,
                "layers_transposed": transposed, "layers_reshuffles": reshuffles, "layers_attention": attention}
