"""The conversion matrix as the first layer: exact shapes, fixed filters, JSON and CSV."""

import numpy as np
import pytest
from scipy import ndimage

from edge_service.conversion import SOBEL_X, SOBEL_Y, ConversionMatrix, fixed_matrix, matrix_from_csv
from edge_service.errors import ConversionError


def test_fixed_sobel_applied_as_a_layer_equals_a_direct_convolution():
    rng = np.random.default_rng(0)
    image = rng.random((20, 24))
    layers = fixed_matrix("sobel", channels=1).apply(image)
    # A Conv2D is a correlation; 'same' padding pads with zeros.
    np.testing.assert_allclose(layers[:, :, 0], ndimage.correlate(image, SOBEL_X, mode="constant"))
    np.testing.assert_allclose(layers[:, :, 1], ndimage.correlate(image, SOBEL_Y, mode="constant"))


def test_sobel_on_rgb_filters_the_luma():
    rng = np.random.default_rng(1)
    image = rng.random((10, 12, 3))
    luma = image @ np.array([0.299, 0.587, 0.114])
    layers = fixed_matrix("sobel", channels=3).apply(image)
    np.testing.assert_allclose(layers[:, :, 0], ndimage.correlate(luma, SOBEL_X, mode="constant"))


def test_layers_are_matrix_times_centred_pixel():
    m = ConversionMatrix("csv", 1, 3, np.array([[1.0, -1.0, 0.5], [0.0, 2.0, 0.0]]), np.array([0.1, 0.2, 0.3]))
    image = np.random.default_rng(2).random((4, 5, 3))
    expected = (image - m.mean) @ m.matrix.T
    np.testing.assert_allclose(m.apply(image), expected)


def test_conv_kernel_layout_matches_apply():
    rng = np.random.default_rng(3)
    m = ConversionMatrix("csv", 3, 2, rng.normal(size=(4, 18)), rng.normal(size=18))
    image = rng.random((6, 7, 2))
    kernel, bias = m.conv_kernel(), m.conv_bias()
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    direct = np.zeros((6, 7, 4))
    for y in range(6):
        for x in range(7):
            direct[y, x] = np.einsum("ijc,ijck->k", padded[y:y + 3, x:x + 3], kernel) + bias
    np.testing.assert_allclose(m.apply(image), direct)


def test_json_round_trip_keeps_everything(tmp_path):
    m = fixed_matrix("edges", channels=3)
    m.save(tmp_path / "m.json")
    back = ConversionMatrix.load(tmp_path / "m.json")
    assert back.method == "edges" and back.layer_names == m.layer_names
    np.testing.assert_array_equal(back.matrix, m.matrix)


@pytest.mark.parametrize("text", ["not json", '{"format": "other"}',
                                  '{"format": "unseen-conversion-matrix/1", "method": "x"}'])
def test_a_bad_matrix_file_is_a_clear_error(tmp_path, text):
    (tmp_path / "m.json").write_text(text)
    with pytest.raises(ConversionError):
        ConversionMatrix.load(tmp_path / "m.json")


def test_wrong_channel_count_is_refused():
    with pytest.raises(ConversionError, match="3-channel"):
        fixed_matrix("luma", channels=3).apply(np.zeros((4, 4, 1)))


def test_user_csv_matrix(tmp_path):
    (tmp_path / "m.csv").write_text("# two layers\n1,0,0\n0,0.5,0.5\nmean,0.1,0.1,0.1\n")
    m = matrix_from_csv(tmp_path / "m.csv", channels=3, patch=1)
    assert m.components == 2 and m.mean.tolist() == [0.1, 0.1, 0.1]
    (tmp_path / "bad.csv").write_text("1,0,0\n0,1\n")
    with pytest.raises(ConversionError, match="different lengths"):
        matrix_from_csv(tmp_path / "bad.csv", channels=3, patch=1)
