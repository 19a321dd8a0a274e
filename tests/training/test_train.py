"""The int8 artefact's real properties, checked on a freshly trained model and the shipped one."""

import json

import numpy as np
import pytest

from edge_service.manifest import load_artefact, sha256_of
from edge_service.tflite_graph import read_graph

LAYERS = ["conversion", "conv1", "pool1", "conv2", "pool2", "flatten", "dense1", "predictions"]


def test_artefact_is_full_int8_with_one_output_per_layer_in_order(small_model):
    artefact = load_artefact(small_model)
    graph = read_graph(artefact.model_bytes)
    assert [graph.tensors[i].name for i in graph.outputs] == LAYERS
    assert [layer.name for layer in artefact.manifest.layers] == LAYERS
    assert graph.tensors[graph.inputs[0]].dtype == np.int8
    assert graph.tensors[graph.inputs[0]].shape[0] == 1  # batch 1
    for tensor in graph.tensors:
        if tensor.data is None or tensor.dtype != np.int32:
            assert tensor.dtype == np.int8 or tensor.name.startswith("arith.constant"), tensor.name
    assert {op.op for op in graph.operators} <= {"CONV_2D", "MAX_POOL_2D", "RESHAPE",
                                                 "FULLY_CONNECTED", "SOFTMAX"}


def test_manifest_records_hash_accuracy_and_conversion(small_model):
    manifest = json.loads((small_model / "manifest.json").read_text())
    assert manifest["model_sha256"] == sha256_of((small_model / "model.tflite").read_bytes())
    for key in ("float_accuracy", "int8_accuracy"):
        assert 0.0 < manifest["training"][key] <= 1.0
    assert manifest["conversion"]["method"] == "pca"
    assert manifest["conversion"]["components"] == manifest["layers"][0]["shape"][-1]
    assert manifest["input"]["dtype"] == "int8"


def test_litert_loads_the_model_and_its_outputs_match_the_manifest(small_model):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    artefact = load_artefact(small_model)
    interpreter = litert.Interpreter(model_content=artefact.model_bytes)
    interpreter.allocate_tensors()
    outputs = interpreter.get_output_details()
    assert [o["name"] for o in outputs] == [layer.name for layer in artefact.manifest.layers]
    for detail, layer in zip(outputs, artefact.manifest.layers):
        assert list(detail["shape"]) == layer.shape
        assert detail["dtype"] == np.int8
        assert detail["quantization"] == pytest.approx((layer.scale, layer.zero_point))
    runner = interpreter.get_signature_runner()
    result = runner(image=np.zeros((1, 16, 16, 1), np.int8))
    assert sorted(result) == sorted(LAYERS)


def test_shipped_model_meets_the_accuracy_bar(shipped_model):
    artefact = load_artefact(shipped_model)
    t = artefact.manifest.training
    assert t["dataset"] == "digits" and t["preset"] == "seed"
    assert t["int8_accuracy"] >= 0.97
    assert t["float_accuracy"] - t["int8_accuracy"] <= 0.005


def test_shipped_model_accuracy_is_real(shipped_model):
    """Recomputes the shipped model's int8 test accuracy instead of trusting the manifest."""
    pytest.importorskip("ai_edge_litert")
    from training.datasets import load_dataset
    from training.evaluate import int8_accuracy
    artefact = load_artefact(shipped_model)
    data = load_dataset("digits", size=(16, 16))
    accuracy = int8_accuracy(artefact.model_bytes, data.x_test, data.y_test)
    assert accuracy == pytest.approx(artefact.manifest.training["int8_accuracy"], abs=1e-4)


def test_micro_preset_trains_and_converts(tmp_path):
    pytest.importorskip("tensorflow")
    from training.train import TrainOptions, train
    manifest = train(TrainOptions(preset="micro", output=tmp_path, epochs=1, limit=300,
                                  calibration_samples=20))
    ops = {layer.op for layer in manifest.layers}
    assert "DEPTHWISE_CONV_2D" in ops
