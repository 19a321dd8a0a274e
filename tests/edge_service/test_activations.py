"""Seed 003's figure and the full-resolution layer pictures, from the command line."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edge_service.activations import float_maps, int8_maps
from edge_service.manifest import default_model_dir, load_artefact
from unseen.cli import main

needs_fashion = pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                                   reason="apt-get install dataset-fashion-mnist")


@needs_fashion
def test_the_figure_has_a_row_per_image_and_a_float_row_beside_each(tmp_path):
    pytest.importorskip("ai_edge_litert")
    runner = CliRunner()
    plain = runner.invoke(main, ["activations", "--dataset", "fashion-mnist", "--label", "9", "--channel", "1",
                                 "-o", str(tmp_path / "fig.png")])
    assert plain.exit_code == 0, plain.output
    assert "3 images of 'Ankle boot', channel 1" in plain.output
    both = runner.invoke(main, ["activations", "--label", "Ankle boot", "--compare-float", "-o", str(tmp_path / "f.png")])
    assert both.exit_code == 0, both.output
    one, two = Image.open(tmp_path / "fig.png"), Image.open(tmp_path / "f.png")
    assert one.width == two.width and 1.9 < (two.height - 22) / (one.height - 22) < 2.1


def test_int8_maps_are_the_dequantized_layers_and_close_to_the_float_models():
    pytest.importorskip("ai_edge_litert")
    artefact = load_artefact(default_model_dir())
    image = np.asarray(Image.open(default_model_dir().parent.parent / "samples" / "fashion_9_ankle_boot.png")
                       .convert("L").resize((28, 28), Image.BILINEAR))
    x, maps = int8_maps(artefact, image)
    assert list(maps) == ["conversion", "conv1", "pool1", "conv2", "pool2"]
    assert maps["conv1"].shape == (26, 26, 64) and maps["pool2"].shape == (5, 5, 64)
    floats = float_maps(artefact, x)
    for layer in artefact.manifest.layers[:5]:
        # Quantization moves each value by about a quantum per layer: a few quanta at most here.
        assert np.abs(maps[layer.name] - floats[layer.name]).max() <= 6 * layer.scale, layer.name


@pytest.mark.parametrize("args, message", [
    (["--label", "12"], "is not one of 0..9"),
    (["--channel", "8"], "channel 8 is beyond the channels of conversion (8)"),
    (["--data-dir", "/nonexistent"], "apt-get install dataset-fashion-mnist"),
    (["--model", str(default_model_dir().parent / "digits"), "--compare-float"], "model_float.tflite"),
    (["-o", "/proc/unseen/fig.png"], "cannot write the folder of picture"),
])
def test_mistakes_are_one_line(args, message, tmp_path):
    if "/nonexistent" not in args and not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    output = [] if "-o" in args else ["-o", str(tmp_path / "fig.png")]
    result = CliRunner().invoke(main, ["activations", *args, *output])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output


def test_conversion_layer_pictures_keep_the_frames_resolution(tmp_path):
    skimage = pytest.importorskip("skimage.data")
    Image.fromarray(skimage.hubble_deep_field()).save(tmp_path / "hubble.png")  # 1000 x 872
    result = CliRunner().invoke(main, ["conversion-layers", str(tmp_path / "hubble.png"), "--composite", "0,1,2",
                                       "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "8 conversion layers at 1000x872 (numpy)" in result.output
    composite = Image.open(tmp_path / "out" / "composite_0_1_2.png")
    assert composite.size == (1000, 872) and composite.mode == "RGB"
    layer = Image.open(tmp_path / "out" / "00_pca0.png")
    assert layer.width > 1000 and layer.height == 872 + 16  # the map, its colour bar and its title
    bad = CliRunner().invoke(main, ["conversion-layers", str(tmp_path / "hubble.png"), "--composite", "0,1"])
    assert bad.exit_code == 2 and "three layer numbers" in bad.output
