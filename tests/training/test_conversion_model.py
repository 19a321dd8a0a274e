"""conversion.tflite cut from a trained model: any patch and channel count, bit-exact on every backend."""

import numpy as np
import pytest

from edge_service.conversion import ConversionMatrix
from edge_service.fullres import ConversionLayers
from edge_service.manifest import Manifest, load_artefact, sha256_of

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def rgb_5x5_artefact(tmp_path_factory):
    """An (untrained) micro model behind a random 5x5 RGB conversion, quantized and cut like a real one."""
    from training.conversion_model import add_conversion_model
    from training.presets import build_model, every_layer_model
    from training.quantize import layer_infos, quantize_every_layer
    rng = np.random.default_rng(0)
    matrix = ConversionMatrix("csv", 5, 3, rng.normal(0, 0.2, (4, 75)), rng.uniform(0, 1, 75))
    layers_model = every_layer_model(build_model("micro", (24, 24, 3), 2, matrix))
    flat = quantize_every_layer(layers_model, rng.uniform(0, 1, (20, 24, 24, 3)).astype(np.float32),
                                progress=lambda s: None)
    folder = tmp_path_factory.mktemp("rgb5")
    (folder / "model.tflite").write_bytes(flat)
    graph_input = {"name": "image", "shape": [1, 24, 24, 3], "dtype": "int8", "scale": 1 / 255, "zero_point": -128}
    manifest = Manifest("rgb5", ["a", "b"], graph_input, {"size": [24, 24], "color": "rgb", "scale": 1 / 255},
                        layer_infos(flat, layers_model), sha256_of(flat), matrix.to_json())
    manifest.save(folder)
    add_conversion_model(folder, manifest, tile=20)
    return load_artefact(folder)


def test_a_5x5_rgb_conversion_is_exact_in_tiles_with_a_halo_of_two(rgb_5x5_artefact):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tflite_micro")
    entry = rgb_5x5_artefact.manifest.conversion_model
    assert entry["halo"] == 2 and entry["tile"] == [20, 20] and entry["channels"] == 3
    frame = np.random.default_rng(1).integers(0, 256, (97, 131, 3)).astype(np.uint8)
    numpy_layers = ConversionLayers(rgb_5x5_artefact, "numpy")(frame)
    assert numpy_layers.shape == (97, 131, 4)
    for backend in ("litert-ref", "tflm"):
        np.testing.assert_array_equal(ConversionLayers(rgb_5x5_artefact, backend)(frame), numpy_layers,
                                      err_msg=backend)


def test_litert_default_xnnpack_is_within_one_quantum(rgb_5x5_artefact):
    pytest.importorskip("ai_edge_litert")
    frame = np.random.default_rng(2).integers(0, 256, (40, 60, 3)).astype(np.uint8)
    exact = ConversionLayers(rgb_5x5_artefact, "numpy")(frame).astype(int)
    fast = ConversionLayers(rgb_5x5_artefact, "litert")(frame).astype(int)
    assert np.abs(exact - fast).max() <= 1
