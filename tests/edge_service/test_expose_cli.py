"""`unseen expose` as a user runs it, and every other command on what it writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge_service.manifest import load_artefact
from unseen.cli import main

pytest.importorskip("tensorflow")
SAMPLES = Path(__file__).parents[2] / "edge_service" / "samples"


def _cli(*args: str, ok: bool = True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    if ok:
        assert result.exit_code == 0, result.output
    return result


def _error(*args: str) -> str:
    """The one line a user's mistake gets."""
    result = _cli(*args, ok=False)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory) -> tuple[Path, Path]:
    """(the third-party .tflite, its exposed folder with labels)."""
    from tests.edge_service.third_party import mobilenet_v2
    root = tmp_path_factory.mktemp("mobilenet")
    source = root / "mobilenet_v2_035_96.tflite"
    source.write_bytes(mobilenet_v2())
    labels = root / "labels.txt"
    labels.write_text("\n".join(f"class {i}" for i in range(10)) + "\n")
    out = _cli("expose", source, "--labels", labels, "-o", root / "exposed").output
    assert "64 added" in out and "numpy: runs it" in out and "litert: runs it" in out
    return source, root / "exposed"


def test_the_manifest_is_built_from_the_graph(mobilenet):
    source, folder = mobilenet
    m = load_artefact(folder).manifest
    assert m.labels == [f"class {i}" for i in range(10)] and m.name == "mobilenet_v2_035_96"
    assert m.input["shape"] == [1, 96, 96, 3] and m.input["dtype"] == "int8"
    assert m.preprocessing["size"] == [96, 96] and m.preprocessing["color"] == "rgb"
    # Pixel p feeds the int8 value p - 128: the input's whole calibrated range, [-1, 1] here.
    assert m.preprocessing["mean"] == 128 + m.input["zero_point"]
    assert m.preprocessing["scale"] == pytest.approx(m.input["scale"])
    assert [l.output_index for l in m.layers][-1] == 0 and m.prediction == m.layers[-1].name == "softmax"
    assert m.layers[0].name == "Conv1_relu" and m.layers[0].op == "CONV_2D" and m.layers[0].kind == "Conv2D"
    assert len({l.name for l in m.layers}) == len(m.layers) == 65
    assert all("/" not in l.name and "+" not in l.name for l in m.layers)
    assert m.exposed["outputs"] == ["softmax"] and m.exposed["source"] == source.name


def test_inspect_verify_layers_filters_on_the_exposed_model(mobilenet, tmp_path):
    _, folder = mobilenet
    assert "65 ops, 65 outputs" in _cli("inspect", "--model", folder).output
    text = _cli("verify", "--model", folder, "--samples", "3").output
    assert "tflite-micro: bit-exact on every tensor" in text and "litert-ref: bit-exact on every tensor" in text
    for backend in ("numpy", "litert"):
        out = _cli("layers", SAMPLES / "hubble_deep_field.jpg", "--model", folder, "--backend", backend,
                   "-o", tmp_path / backend).output
        assert "class " in out
        pictures = sorted(p.name for p in (tmp_path / backend / "frames" / "000001").glob("*.png"))
        assert pictures[0] == "00_Conv1_relu.png" and "64_softmax.png" in pictures
    assert (tmp_path / "filters").exists() is False
    _cli("filters", "--model", folder, "-o", tmp_path / "filters")
    assert len(list((tmp_path / "filters").glob("*.png"))) == 53  # 35 conv + 17 depthwise + the classifier


def test_serve_export_bundle_and_install(mobilenet, tmp_path):
    _, folder = mobilenet
    results = tmp_path / "results.jsonl"
    _cli("serve", "--model", folder, "--source", SAMPLES, "--frames", "3", "--backend", "numpy",
         "--jsonl", results)
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(lines) == 3 and lines[0]["top"][0]["label"].startswith("class ")
    assert set(lines[0]["layers"]) == {l.name for l in load_artefact(folder).manifest.layers}
    out = _cli("export", "firmware", "--model", folder, "-o", tmp_path / "fw").output
    assert (tmp_path / "fw").is_dir() and "arena" in out.lower()
    _cli("export", "bundle", "--model", folder, "-o", tmp_path / "m.tar.gz")
    _cli("install", tmp_path / "m.tar.gz", "--model-dir", tmp_path / "models")
    installed = load_artefact(tmp_path / "models" / "mobilenet_v2_035_96")
    assert installed.manifest.exposed["outputs"] == ["softmax"]


def test_export_edgetpu_names_the_cpu_layers_and_offers_the_split(mobilenet, tmp_path):
    _, folder = mobilenet
    # Keras numbers its auto-named layers per process: read the names back rather than assume them.
    gap = next(l.name for l in load_artefact(folder).manifest.layers if l.op == "MEAN")
    out = _cli("export", "edgetpu", "--model", folder).output
    assert "64 of 65 ops would run on the CPU because an earlier layer is a model output" in out
    assert f"unseen expose {folder} --only-layers predictions,{gap},out_relu" in out
    variant = tmp_path / "edgetpu"
    out = _cli("expose", folder, "--only-layers", f"out_relu,{gap}", "-o", variant).output
    assert "2 added" in out
    m = load_artefact(variant).manifest
    assert [l.name for l in sorted(m.layers, key=lambda l: l.output_index)] == ["softmax", "out_relu", gap]
    assert m.labels == [f"class {i}" for i in range(10)] and m.exposed["only_layers"] == ["out_relu", gap]
    out = _cli("export", "edgetpu", "--model", variant).output
    assert "3 of 65 ops would run on the CPU" in out and "this is the Edge TPU variant" in out
    assert "no layer 'nope'" in _error("expose", folder, "--only-layers", "nope", "-o", tmp_path / "x")


def test_an_exposed_model_reloads_over_mqtt(mobilenet, tmp_path, shipped_model):
    pytest.importorskip("paho.mqtt")
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.skip("mosquitto is not installed")
    from tests.edge_service.mqtt_helpers import Mosquitto, Subscriber
    from tests.edge_service.test_mqtt import DEVICE, _command, finish, serve
    _, folder = mobilenet
    models = tmp_path / "models"
    shutil.copytree(folder, models / "mobilenet")
    broker = Mosquitto(tmp_path / "broker").start()
    try:
        watcher = Subscriber(broker.port, f"unseen/{DEVICE}/#", "expose-watcher")
        process = serve(broker.port, tmp_path, "--loop", "--backend", "numpy", "--max-fps", "10",
                        "--model-dir", str(models), "--status-every", "0.2")
        assert watcher.wait(lambda: len(watcher.results()) >= 1)
        assert _command(broker.port, "reload", b'{"model": "mobilenet"}', watcher)["ok"]
        assert watcher.wait(lambda: "Conv1_relu" in watcher.results()[-1]["layers"])
        assert watcher.results()[-1]["top"][0]["label"].startswith("class ")
        process.terminate()
        finish(process)
        watcher.close()
    finally:
        broker.stop()


@pytest.mark.parametrize("flags, expected", [
    (["--mean", "127.5", "--scale", "0.0078125", "--bgr", "--resize", "stretch"],
     {"mean": 127.5, "scale": 0.0078125, "color": "bgr", "fit": "stretch"}),
    (["--mean", "123.7,116.3,103.5", "--scale", "0.017,0.018,0.017", "--rgb", "--resize", "letterbox"],
     {"mean": [123.7, 116.3, 103.5], "scale": [0.017, 0.018, 0.017], "color": "rgb", "fit": "letterbox"})])
def test_preprocessing_flags(mobilenet, tmp_path, flags, expected):
    source, _ = mobilenet
    _cli("expose", source, *flags, "-o", tmp_path / "m")
    p = load_artefact(tmp_path / "m").manifest.preprocessing
    assert {k: p[k] for k in expected} == expected


def test_the_preprocessor_applies_mean_scale_and_bgr(mobilenet, tmp_path):
    from edge_service.preprocess import Preprocessor
    source, _ = mobilenet
    _cli("expose", source, "--mean", "100,50,0", "--scale", "0.01", "--bgr", "--resize", "stretch",
         "-o", tmp_path / "m")
    pre = Preprocessor(load_artefact(tmp_path / "m").manifest)
    frame = np.zeros((96, 96, 3), np.uint8)
    frame[..., 0], frame[..., 2] = 200, 10          # red 200, blue 10
    x = pre(frame)
    # BGR: channel 0 is blue, (10 - 100) * 0.01 = -0.9; channel 2 is red, (200 - 0) * 0.01 = 2 -> saturates.
    scale, zero = pre.input_scale, pre.input_zero_point
    assert x[0, 0, 0, 0] == np.clip(round(-0.9 / scale) + zero, -128, 127)
    assert x[0, 0, 0, 2] == 127
    assert pre.picture(x)[0, 0, 2] == 10  # the picture undoes the mapping, in RGB


def test_a_dynamic_batch_model_shows_its_layers_not_its_shape_arithmetic(tmp_path):
    pytest.importorskip("ai_edge_litert")
    from edge_service.backends.select import select_backend
    from tests.edge_service.third_party import dynamic_batch_model
    (tmp_path / "dyn.tflite").write_bytes(dynamic_batch_model())
    _cli("expose", tmp_path / "dyn.tflite", "-o", tmp_path / "dyn")
    artefact = load_artefact(tmp_path / "dyn")
    ops = {layer.op for layer in artefact.manifest.layers}
    assert {"CONV_2D", "RESHAPE", "FULLY_CONNECTED"} <= ops and not ops & {"SHAPE", "STRIDED_SLICE", "PACK"}
    assert any("shape arithmetic" in line for line in artefact.manifest.exposed["skipped"])
    assert artefact.manifest.exposed["numpy"].startswith("runs")  # SHAPE has a numpy kernel
    litert, numpy = (select_backend(artefact, name)[0] for name in ("litert", "numpy"))
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = rng.integers(-128, 128, artefact.manifest.input["shape"], dtype=np.int8)
        expected, got = litert.infer(x).outputs, numpy.infer(x).outputs
        assert set(got) == {layer.name for layer in artefact.manifest.layers}
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
