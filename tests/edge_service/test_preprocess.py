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
