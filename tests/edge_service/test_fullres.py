"""Full-resolution conversion layers: numpy at any size == LiteRT-ref resized == TFLite Micro in tiles."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from edge_service.errors import FrameError, ModelError
from edge_service.fullres import ConversionLayers, conversion_layers, fit_max_pixels, run_in_tiles
from edge_service.manifest import load_artefact
from edge_service.numpy_interpreter import NumpyInterpreter, at_input_size
from edge_service.tflite_graph import read_graph


def _same_correlation(x: np.ndarray, kernel: np.ndarray, fill: int) -> np.ndarray:
    """A plain 'same' k x k correlation of (H, W, C) -> (H, W, K), padded with `fill`."""
    k = kernel.shape[0]
    r = k // 2
    padded = np.pad(x.astype(np.int64), ((r, r), (r, r), (0, 0)), constant_values=fill)
    h, w, _ = x.shape
    out = np.zeros((h, w, kernel.shape[-1]), np.int64)
    for dy in range(k):
        for dx in range(k):
            out += padded[dy:dy + h, dx:dx + w] @ kernel[dy, dx]
    return out


@pytest.mark.parametrize("k, tile, size", [(1, (8, 8), (17, 23)), (3, (16, 16), (50, 31)),
                                           (3, (5, 9), (7, 40)), (5, (12, 20), (33, 33)), (7, (64, 64), (10, 12))])
def test_tiles_overlapping_by_the_halo_give_the_whole_image(k, tile, size):
    rng = np.random.default_rng(k)
    x = rng.integers(-128, 128, (*size, 2)).astype(np.int8)
    kernel = rng.integers(-5, 6, (k, k, 2, 3))
    fill = -7
    whole = _same_correlation(x, kernel, fill)
    tiles = []
    tiled = run_in_tiles(lambda t: tiles.append(t.shape) or _same_correlation(t, kernel, fill), x, tile, k // 2, fill)
    np.testing.assert_array_equal(tiled, whole)
    assert set(tiles) == {(*tile, 2)}  # every tile at the stored size, edges padded


def test_a_tile_no_larger_than_its_halo_is_refused():
    with pytest.raises(ModelError, match="nothing inside"):
        run_in_tiles(lambda t: t, np.zeros((8, 8, 1), np.int8), (4, 4), 2, 0)


def test_frames_above_the_pixel_cap_are_scaled_down_with_their_aspect():
    assert fit_max_pixels(480, 640) == (480, 640)
    h, w = fit_max_pixels(3000, 4000)
    assert h * w <= 2_000_000 and abs(w / h - 4 / 3) < 0.01 and h * w > 1_990_000
    with pytest.raises(FrameError):
        fit_max_pixels(10, 10, 0)


def test_the_cap_applies_before_the_layers(shipped_model):
    layers = conversion_layers(np.zeros((300, 500, 3), np.uint8), load_artefact(shipped_model), max_pixels=15_000)
    assert layers.shape[0] * layers.shape[1] <= 15_000 and layers.shape[:2] == fit_max_pixels(300, 500, 15_000)


def _frames():
    skimage = pytest.importorskip("skimage.data")
    # A real photograph (NASA's portrait of Eileen Collins) and the Hubble Deep Field, both full size.
    return {"astronaut": skimage.astronaut(), "hubble": skimage.hubble_deep_field()}


@pytest.mark.parametrize("name", ["astronaut", "hubble"])
def test_numpy_litert_ref_and_tiled_tflm_agree_on_every_value_at_full_resolution(shipped_model, name):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tflite_micro")
    frame = _frames()[name]
    artefact = load_artefact(shipped_model)
    numpy_layers = ConversionLayers(artefact, "numpy")(frame)
    assert numpy_layers.shape == (*frame.shape[:2], artefact.manifest.conversion_model["layers"])
    assert numpy_layers.dtype == np.int8 and len(np.unique(numpy_layers)) > 50
    for backend in ("litert-ref", "tflm"):
        np.testing.assert_array_equal(ConversionLayers(artefact, backend)(frame), numpy_layers, err_msg=backend)


def test_at_the_models_input_size_the_layers_are_the_models_own_conversion_layer(shipped_model):
    artefact = load_artefact(shipped_model)
    h, w = artefact.manifest.preprocessing["size"]
    frame = np.random.default_rng(3).integers(0, 256, (h, w, 3)).astype(np.uint8)
    from edge_service.preprocess import Preprocessor
    model = NumpyInterpreter(artefact.model_bytes).run(Preprocessor(artefact.manifest)(frame))
    np.testing.assert_array_equal(conversion_layers(frame, artefact), model["conversion"][0])


def test_the_whole_frame_goes_through_the_models_own_pixel_mapping(shipped_model):
    from edge_service.preprocess import Preprocessor
    artefact = load_artefact(shipped_model)
    artefact.manifest.preprocessing.update(mean=40.0, scale=1 / 200, invert=True)
    frame = np.random.default_rng(4).integers(0, 256, (37, 61, 3)).astype(np.uint8)
    grey = np.asarray(Image.fromarray(frame).convert("L"))
    want = Preprocessor(artefact.manifest).convert(grey[..., None].astype(np.float32))
    np.testing.assert_array_equal(ConversionLayers(artefact).quantized_input(frame), want)


def test_the_conversion_model_is_one_conv_with_a_tile_input(shipped_model):
    artefact = load_artefact(shipped_model)
    entry = artefact.manifest.conversion_model
    graph = read_graph((shipped_model / entry["file"]).read_bytes())
    assert [op.op for op in graph.operators] == ["CONV_2D"]
    assert list(graph.tensors[graph.inputs[0]].shape) == [1, *entry["tile"], entry["channels"]]
    assert entry["halo"] == entry["patch"] // 2 == artefact.manifest.conversion["patch"] // 2
    weights = graph.tensors[graph.operators[0].inputs[1]]
    model = read_graph(artefact.model_bytes)
    np.testing.assert_array_equal(weights.data, model.tensors[model.operators[0].inputs[1]].data)


def test_only_fully_convolutional_models_change_size(shipped_model):
    graph = read_graph(load_artefact(shipped_model).model_bytes)
    with pytest.raises(ModelError, match="stored input size"):
        at_input_size(graph, 100, 100)


def test_a_tampered_or_missing_conversion_model_is_refused(shipped_model, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(shipped_model, folder)
    data = bytearray((folder / "conversion.tflite").read_bytes())
    data[-50] ^= 1
    (folder / "conversion.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match"):
        ConversionLayers(load_artefact(folder))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.pop("conversion_model")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="retrain"):
        ConversionLayers(load_artefact(folder))


def test_bad_frames_and_backends_are_clear_errors(shipped_model):
    artefact = load_artefact(shipped_model)
    with pytest.raises(ModelError, match="unknown backend"):
        ConversionLayers(artefact, "gpu")
    with pytest.raises(FrameError, match="uint8"):
        conversion_layers(np.zeros((10, 10, 3), np.float32), artefact)
