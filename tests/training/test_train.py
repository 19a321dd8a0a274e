"""The int8 artefact's real properties, checked on a freshly trained model and the shipped one."""

import json
from pathlib import Path

import numpy as np
import pytest

from edge_service.idx import FASHION_MNIST_LABELS as FASHION_LABELS
from edge_service.manifest import default_model_dir, load_artefact, sha256_of
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
    result = runner(image=np.zeros((1, 16, 16, 1), np.int8))  # the fixture's digits are drawn at 16x16
    assert sorted(result) == sorted(LAYERS)


def test_shipped_model_is_seed_003s_network_on_fashion_mnist_at_the_bar(shipped_model):
    artefact = load_artefact(shipped_model)
    t = artefact.manifest.training
    assert t["dataset"] == "fashion-mnist" and t["preset"] == "seed" and t["split"] == "own test files"
    assert t["train_images"] + t["validation_images"] == 60_000 and t["test_images"] == 10_000
    assert t["float_accuracy"] >= 0.91
    assert t["float_accuracy"] - t["int8_accuracy"] <= 0.005
    assert artefact.manifest.labels == FASHION_LABELS
    shapes = {layer.name: layer.shape for layer in artefact.manifest.layers}
    assert shapes["conv1"] == [1, 26, 26, 64] and shapes["pool1"] == [1, 13, 13, 64]
    assert shapes["conv2"] == [1, 11, 11, 64] and shapes["pool2"] == [1, 5, 5, 64]
    assert shapes["dense1"] == [1, 20] and shapes["predictions"] == [1, 10]
    int8 = t["metrics"]["int8"]
    assert sum(map(sum, int8["confusion"])) == 10_000 and list(int8["per_class"]) == FASHION_LABELS


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="apt-get install dataset-fashion-mnist")
def test_shipped_model_accuracy_is_real(shipped_model):
    """Recomputes the shipped model's int8 accuracy and confusion matrix on the 10,000 t10k images."""
    pytest.importorskip("ai_edge_litert")
    from training.datasets import load_dataset
    from training.evaluate import class_report, int8_predictions
    artefact = load_artefact(shipped_model)
    data = load_dataset("fashion-mnist")
    report = class_report(data.y_test, int8_predictions(artefact.model_bytes, data.x_test), data.labels)
    assert report == artefact.manifest.training["metrics"]["int8"]


@pytest.mark.parametrize("name, bar", [("digits", 0.97), ("digits-micro", 0.9)])
def test_the_small_digits_models_stay(name, bar):
    artefact = load_artefact(default_model_dir().parent / name)
    t = artefact.manifest.training
    assert t["dataset"] == "digits" and t["int8_accuracy"] >= bar
    assert artefact.manifest.preprocessing["size"] == [16, 16]


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_trains_on_a_subset_with_its_recipe(tmp_path):
    """The CI-sized run: the real files, a subset, two epochs; the whole artefact is written."""
    pytest.importorskip("tensorflow")
    from training.train import TrainOptions, train
    manifest = train(TrainOptions(dataset="fashion-mnist", output=tmp_path, limit=1500, epochs=2,
                                  calibration_samples=50))
    t = manifest.training
    assert t["split"] == "own test files" and t["test_images"] == 1500
    assert "flip+shift" in t["recipe"] and "cosine" in t["recipe"] and "dropout 0.2" in t["recipe"]
    assert t["float_accuracy"] > 0.3  # three times chance after two short epochs
    shapes = {layer.name: layer.shape for layer in manifest.layers}
    assert shapes["conv1"] == [1, 26, 26, 64] and shapes["pool2"] == [1, 5, 5, 64]
    assert "dropout1" not in shapes  # training-only layers are not device layers
    for name in ("model.tflite", "conversion.tflite", "model_float.tflite", "metrics.png", "manifest.json"):
        assert (tmp_path / name).exists(), name
    artefact = load_artefact(tmp_path)
    assert artefact.manifest.float_model["sha256"] == sha256_of((tmp_path / "model_float.tflite").read_bytes())


def test_micro_preset_trains_and_converts(tmp_path):
    pytest.importorskip("tensorflow")
    from training.train import TrainOptions, train
    manifest = train(TrainOptions(preset="micro", output=tmp_path, epochs=1, limit=300,
                                  calibration_samples=20))
    ops = {layer.op for layer in manifest.layers}
    assert "DEPTHWISE_CONV_2D" in ops
