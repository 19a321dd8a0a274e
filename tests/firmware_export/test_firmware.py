"""Firmware export: the C array is the model, it compiles, the resolver and arena are exact."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from edge_service.manifest import load_artefact
from edge_service.numpy_interpreter import NumpyInterpreter
from edge_service.preprocess import Preprocessor
from edge_service.sources import open_source
from edge_service.sources.reader import FrameReader
from edge_service.tflite_graph import read_graph
from firmware_export.arena import STEP, _runs, quiet_stderr
from firmware_export.errors import ExportError
from firmware_export.firmware import export_firmware

pytest.importorskip("tflite_micro")


@pytest.fixture(scope="module")
def exported(shipped_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("firmware")
    return export_firmware(shipped_model, out), out


def test_the_bytes_in_model_data_cc_are_the_model(exported, shipped_model):
    _, out = exported
    text = (out / "model_data.cc").read_text()
    array = re.search(r"alignas\(16\) const unsigned char g_fashion_mnist_seed_model_data\[\] = \{(.*?)\};", text, re.S)
    parsed = bytes(int(b, 16) for b in re.findall(r"0x([0-9a-f]{2})", array.group(1)))
    assert parsed == (shipped_model / "model.tflite").read_bytes()
    assert f"g_fashion_mnist_seed_model_data_len = {len(parsed)};" in text


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ is not installed")
def test_model_data_and_settings_compile(exported, tmp_path):
    _, out = exported
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", "-c", str(out / "model_data.cc"),
                    "-o", str(tmp_path / "model_data.o")], check=True, cwd=out)
    (tmp_path / "use.cc").write_text('#include "model_settings.h"\n'
                                     "static_assert(unseen_fashion_mnist_seed::kLayerCount == 8, \"layers\");\n"
                                     "int main() { return unseen_fashion_mnist_seed::kInputDims[1] == 28 ? 0 : 1; }\n")
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", f"-I{out}", str(tmp_path / "use.cc"),
                    "-o", str(tmp_path / "use")], check=True)
    assert subprocess.run([str(tmp_path / "use")]).returncode == 0


def test_the_op_resolver_registers_exactly_the_models_ops(exported, shipped_model):
    _, out = exported
    text = (out / "op_resolver.h").read_text()
    registered = re.findall(r"resolver\.(Add\w+)\(\)", text)
    assert registered == ["AddConv2D", "AddMaxPool2D", "AddReshape", "AddFullyConnected", "AddSoftmax"]
    assert "MicroMutableOpResolver<kOpCount>" in text and "constexpr int kOpCount = 5;" in text
    graph = read_graph((shipped_model / "model.tflite").read_bytes())
    assert len(registered) == len({op.op for op in graph.operators})


def test_the_measured_arena_is_the_smallest_that_works(exported, shipped_model):
    report, out = exported
    model = (shipped_model / "model.tflite").read_bytes()
    graph = read_graph(model)
    sample = np.zeros(graph.tensors[graph.inputs[0]].shape, np.int8)
    with quiet_stderr():
        assert _runs(model, report.arena_measured, sample)
        assert not _runs(model, report.arena_measured - 2 * STEP, sample)
    assert report.arena_bytes >= report.arena_measured * 1.1
    assert f"kTensorArenaSize = {report.arena_bytes};" in (out / "model_settings.h").read_text()


def test_tflm_with_the_exported_arena_is_bit_identical_to_the_numpy_kernels(exported, shipped_model):
    from tflite_micro.python.tflite_micro import runtime
    report, _ = exported
    artefact = load_artefact(shipped_model)
    tflm = runtime.Interpreter.from_bytes(artefact.model_bytes, arena_size=report.arena_bytes)
    ours = NumpyInterpreter(artefact.model_bytes, mode="tflm")
    preprocess = Preprocessor(artefact.manifest)
    frames = list(FrameReader(open_source("samples")))
    assert len(frames) == 11
    for frame in frames:
        x = preprocess(frame.image)
        tflm.set_input(x, 0)
        tflm.invoke()
        expected = ours.run(x)
        for i, (name, values) in enumerate(expected.items()):
            np.testing.assert_array_equal(tflm.get_output(i).reshape(values.shape), values, err_msg=name)


def test_budgets_that_the_model_exceeds_are_reported(shipped_model, tmp_path):
    with pytest.raises(ExportError) as caught:
        export_firmware(shipped_model, tmp_path / "out", flash_kb=32, arena_kb=16)
    message = str(caught.value)
    assert "exceeds the 32 KiB flash budget" in message and "exceeds the 16 KiB RAM budget" in message
    assert not (tmp_path / "out").exists()  # nothing is written for a model that does not fit


def test_an_op_tflm_lacks_is_reported_by_layer(shipped_model, tmp_path):
    pytest.importorskip("tensorflow")
    from tensorflow.lite.tools import flatbuffer_utils as fbu
    import tflite
    model = fbu.read_model_from_bytearray(bytearray((shipped_model / "model.tflite").read_bytes()))
    for code in model.operatorCodes:
        if code.builtinCode == tflite.BuiltinOperator.RESHAPE:
            code.builtinCode = code.deprecatedBuiltinCode = tflite.BuiltinOperator.UNIQUE
    (tmp_path / "odd.tflite").write_bytes(bytes(fbu.convert_object_to_bytearray(model)))
    with pytest.raises(ExportError, match=r"op 5 \(flatten\): UNIQUE is not a TFLite Micro builtin"):
        export_firmware(tmp_path / "odd.tflite", tmp_path / "out")


def test_the_micro_preset_fits_a_64_kb_arena(tmp_path):
    pytest.importorskip("tensorflow")
    from training.train import TrainOptions, train
    train(TrainOptions(preset="micro", output=tmp_path / "micro", epochs=1, limit=200, calibration_samples=20))
    report = export_firmware(tmp_path / "micro", tmp_path / "fw", arena_kb=64, flash_kb=64)
    assert report.arena_bytes <= 64 * 1024


def test_cli_export_firmware_and_edgetpu(tmp_path):
    from click.testing import CliRunner
    from unseen.cli import main
    result = CliRunner().invoke(main, ["export", "firmware", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "tensor arena:" in result.output and "(host build)" in result.output
    edgetpu = CliRunner().invoke(main, ["export", "edgetpu"])
    assert edgetpu.exit_code == 0 and "every layer meets the Edge TPU's requirements" in edgetpu.output
