"""The conversion matrix inside the network: a frozen Conv2D that computes exactly M (v - mu)."""

import numpy as np
import pytest
from scipy import ndimage

from edge_service.conversion import SOBEL_X, SOBEL_Y, fixed_matrix
from training.presets import CONVERSION_LAYER, build_model

pytest.importorskip("tensorflow")


def test_a_fixed_sobel_matrix_as_the_models_first_layer_equals_a_direct_convolution():
    import keras
    model = build_model("seed", (16, 16, 1), 10, fixed_matrix("sobel", channels=1))
    first = keras.Model(model.inputs, model.get_layer(CONVERSION_LAYER).output)
    image = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    layers = first.predict(image[None, :, :, None], verbose=0)[0]
    np.testing.assert_allclose(layers[:, :, 0], ndimage.correlate(image, SOBEL_X, mode="constant"), atol=1e-5)
    np.testing.assert_allclose(layers[:, :, 1], ndimage.correlate(image, SOBEL_Y, mode="constant"), atol=1e-5)


def test_the_conversion_layer_is_frozen_unless_fine_tuned():
    matrix = fixed_matrix("edges", channels=3)
    frozen = build_model("micro", (16, 16, 3), 4, matrix)
    tuned = build_model("micro", (16, 16, 3), 4, matrix, fine_tune_conversion=True)
    assert not frozen.get_layer(CONVERSION_LAYER).trainable
    assert tuned.get_layer(CONVERSION_LAYER).trainable
