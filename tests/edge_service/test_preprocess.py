"""Preprocessing follows the manifest: fit, resize, colour, scale, int8."""

import numpy as np
import pytest

from edge_service.errors import ModelError
from edge_service.manifest import load_artefact
from edge_service.preprocess import Preprocessor


@pytest.fixture
def manifest(shipped_model):
    return load_artefact(shipped_model).manifest


def test_output_is_the_models_int8_input(manifest):
    x = Preprocessor(manifest)(np.zeros((480, 640, 3), np.uint8))
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.int8
    assert (x == manifest.input["zero_point"]).all()  # black maps to the zero point of 0.0


def test_white_maps_to_the_top_of_the_range(manifest):
    x = Preprocessor(manifest)(np.full((28, 28, 3), 255, np.uint8))
    expected = round(1.0 / manifest.input["scale"]) + manifest.input["zero_point"]
    assert (x == min(expected, 127)).all()


@pytest.mark.parametrize("fit, inside", [("letterbox", False), ("crop", True), ("stretch", True)])
def test_fit_modes_on_a_wide_frame(manifest, fit, inside):
    manifest.preprocessing["fit"] = fit
    frame = np.full((100, 400, 3), 255, np.uint8)
    picture = np.asarray(Preprocessor(manifest).image(frame))
    # letterbox pads top and bottom with black; crop and stretch fill the square.
    assert (picture[0, 8] == 255) == inside


def test_invert(manifest):
    manifest.preprocessing["invert"] = True
    x = Preprocessor(manifest)(np.full((28, 28, 3), 255, np.uint8))
    assert (x == manifest.input["zero_point"]).all()


def test_unknown_fit_is_a_model_error(manifest):
    manifest.preprocessing["fit"] = "zoom"
    with pytest.raises(ModelError, match="zoom"):
        Preprocessor(manifest)


@pytest.mark.parametrize("color, invert, dtype, mean, scale", [
    ("gray", False, "int8", 0.0, 1 / 255), ("gray", True, "int8", 0.0, 1 / 255),
    ("rgb", False, "int8", [123.7, 116.3, 103.5], [0.017, 0.0175, 0.0174]),
    ("bgr", False, "uint8", 127.5, 1 / 127.5), ("rgb", True, "float32", 0.0, 1 / 255)])
def test_the_pixel_table_equals_the_float_path_on_every_value(manifest, color, invert, dtype, mean, scale):
    channels = 1 if color == "gray" else 3
    manifest.preprocessing.update(color=color, invert=invert, mean=mean, scale=scale)
    manifest.input.update(dtype=dtype, shape=[1, *manifest.preprocessing["size"], channels])
    p = Preprocessor(manifest)
    frame = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    pixels = np.asarray(p.image(frame), np.float32)
    if color == "bgr":
        pixels = pixels[..., ::-1]
    expected = p.convert(pixels if channels == 3 else pixels[..., None]).reshape(p.shape)
    got = p(frame)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("color, invert, dtype, per_channel", [
    ("gray", False, "int8", True), ("rgb", True, "int8", True), ("bgr", False, "uint8", True),
    ("rgb", False, "float32", True), ("rgb", False, "int8", False), ("bgr", True, "uint8", False)])
def test_the_picture_undoes_the_input_mapping_value_by_value(manifest, color, invert, dtype, per_channel):
    channels = 1 if color == "gray" else 3
    given = channels if per_channel else 1  # one mean and scale for each channel, or one for all
    manifest.preprocessing.update(color=color, invert=invert, mean=[10.0, 20.0, 30.0][:given],
                                  scale=[1 / 200, 1 / 210, 1 / 220][:given])
    manifest.input.update(dtype=dtype, shape=[1, *manifest.preprocessing["size"], channels])
    p = Preprocessor(manifest)
    frame = np.random.default_rng(3).integers(0, 256, (28, 28, 3), dtype=np.uint8)
    x = p(frame)
    picture = p.picture(x)
    assert picture.shape == np.asarray(p.image(frame)).shape and picture.dtype == np.uint8
    # The picture, seen again, is the same input wherever the input was not clipped to its type's range.
    again = p(picture if channels == 3 else np.repeat(picture[..., None], 3, axis=-1))
    kept = (x > np.iinfo(x.dtype).min) & (x < np.iinfo(x.dtype).max) if dtype != "float32" else np.ones(x.shape, bool)
    assert kept.mean() > 0.3
    np.testing.assert_array_equal(again[kept], x[kept])


def test_a_letterboxed_frame_fills_the_middle_and_pads_black(manifest):
    picture = np.asarray(Preprocessor(manifest).image(np.full((120, 480, 3), 200, np.uint8)))
    assert picture.shape == (28, 28)
    assert (picture[:10] == 0).all() and (picture[-10:] == 0).all()  # 28 * 120 / 480 = 7 rows of picture
    assert (picture[12:16] == 200).all()
