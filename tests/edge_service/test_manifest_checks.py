"""A hand-edited manifest is refused at load in one line that names the field, never deep in a frame."""

from __future__ import annotations

import copy
import json
import re
import time

import numpy as np
import pytest

from edge_service.backends.select import select_backend
from edge_service.errors import ModelError
from edge_service.manifest import MANIFEST_FILE, Manifest, default_model_dir, load_artefact
from edge_service.manifest_checks import manifest_problem


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads((default_model_dir() / MANIFEST_FILE).read_text())


def _set(path: str, value):
    """A change to the manifest: `path` is keys joined by dots, a number indexing a list."""
    def change(data: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[int(key)] if isinstance(data, list) else data[key]
        if value is DELETE:
            del data[last]
        else:
            data[int(last) if isinstance(data, list) else last] = value
    return change


DELETE = object()
MISTAKES = {
    "labels as numbers": (_set("labels", [1, 2, 3]), "'labels' must be a list of strings"),
    "labels as one string": (_set("labels", "abc"), "'labels' must be a list of strings"),
    "hash as a number": (_set("model_sha256", 5), "'model_sha256' must be 64"),
    "input as a string": (_set("input", "x"), "'input' must be an object"),
    "input scale as text": (_set("input.scale", "abc"), "input 'scale' must be a positive number"),
    "input scale NaN": (_set("input.scale", float("nan")), "input 'scale' must be a positive number"),
    "unknown input type": (_set("input.dtype", "int4"), "input 'dtype' must be one of"),
    "no preprocessing": (_set("preprocessing", None), "'preprocessing' must be an object"),
    "negative size": (_set("preprocessing.size", [-5, 0]), "'size' must be [height, width]"),
    "unknown colour": (_set("preprocessing.color", "purple"), "'color' must be one of gray, rgb, bgr"),
    "mean NaN": (_set("preprocessing.mean", float("nan")), "'mean' must be a finite number"),
    "no layers": (_set("layers", []), "'layers' must be a non-empty list"),
    "a layer as a string": (_set("layers.0", "conv"), "layer 0 must be an object"),
    "a layer without a shape": (_set("layers.1.shape", DELETE), "layer 'conv1': 'shape'"),
    "a negative output index": (_set("layers.1.output_index", -1), "'output_index' must be >= 0"),
    "an output index past the end": (_set("layers.2.output_index", 99), "'output_index' values must be 0 to 7"),
    "two layers at one output": (_set("layers.2.output_index", 1), "'output_index' values must be 0 to 7"),
    "two layers named alike": (_set("layers.2.name", "conv1"), "two layers have the same 'name'"),
    "an input that is not the preprocessed frame": (_set("input.shape", [1, 32, 32, 1]),
                                                     "input 'shape' [1, 32, 32, 1] does not hold one 28x28 image"),
    "colour for a grey input": (_set("preprocessing.color", "rgb"), "has 1 channels, preprocessing 'color' 'rgb' makes 3"),
    "a layer name too long for a file": (_set("layers.2.name", "p" * 300), "at most 100 characters"),
    "a layer name with a wildcard": (_set("layers.2.name", "pool+1"), "a name goes into MQTT topics"),
    "a layer name with a slash": (_set("layers.2.name", "pool/1"), "a name goes into MQTT topics"),
    "no labels": (_set("labels", []), "'labels' is empty"),
    "a model file elsewhere": (_set("model_file", "/etc/hostname"), "'model_file' must be a file name"),
    "a conversion model up the tree": (_set("conversion_model.file", "../../../etc/passwd"),
                                       "'conversion_model' must name a file beside the manifest"),
    "training as text": (_set("training", "abc"), "'training' must be an object"),
    "a missing field": (_set("labels", DELETE), "no 'labels' field"),
}


def test_the_shipped_manifest_passes(shipped):
    assert manifest_problem(shipped) is None


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_is_named_in_one_line(shipped, mistake):
    change, words = MISTAKES[mistake]
    data = copy.deepcopy(shipped)
    change(data)
    with pytest.raises(ModelError, match="malformed manifest") as refused:
        Manifest.from_json(data, "m/manifest.json")
    assert words in str(refused.value) and "\n" not in str(refused.value)


def test_a_model_folder_with_a_bad_manifest_is_refused_at_load(tmp_path, shipped):
    folder = tmp_path / "model"
    folder.mkdir()
    for entry in default_model_dir().iterdir():
        (folder / entry.name).write_bytes(entry.read_bytes())
    data = copy.deepcopy(shipped)
    data["preprocessing"]["color"] = "purple"
    (folder / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="'color' must be one of"):
        load_artefact(folder)


def _swap_outputs(data: dict) -> None:
    """Still 0..n-1 each once, so only the model can tell: conv1 and pool1 trade places."""
    first, second = data["layers"][1], data["layers"][2]
    first["output_index"], second["output_index"] = second["output_index"], first["output_index"]


def _edit_shape(data: dict) -> None:
    data["layers"][3]["shape"] = [1, 12, 12, 64]


def _edit_input(data: dict) -> None:
    """Consistent within the manifest (the frame resized to 32x32), so only the model can tell."""
    data["input"]["shape"], data["preprocessing"]["size"] = [1, 32, 32, 1], [32, 32]


@pytest.mark.parametrize("backend", ["numpy", "litert"])
@pytest.mark.parametrize("edit, words", [(_swap_outputs, "manifest layer 'pool1' (output 1) is [1, 13, 13, 64], "
                                                          "the model's output 1 is [1, 26, 26, 64]"),
                                         (_edit_shape, "manifest layer 'conv2' (output 3) is [1, 12, 12, 64]"),
                                         (_edit_input, "the manifest's input is [1, 32, 32, 1], the model's "
                                                       "[1, 28, 28, 1]")],
                         ids=["two outputs swapped", "a shape edited", "the input edited"])
def test_a_manifest_that_disagrees_with_its_model_is_refused_when_the_backend_opens(tmp_path, shipped, backend,
                                                                                   edit, words):
    if backend == "litert":
        pytest.importorskip("ai_edge_litert", reason="LiteRT is not installed")
    folder = tmp_path / "model"
    folder.mkdir()
    for entry in default_model_dir().iterdir():
        (folder / entry.name).write_bytes(entry.read_bytes())
    data = copy.deepcopy(shipped)
    edit(data)
    (folder / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(ModelError, match=re.escape(words)):
        select_backend(load_artefact(folder), backend)


def test_fewer_labels_than_classes_is_said_once_and_the_rest_are_numbered(tmp_path, shipped, caplog):
    """Two labels: the default top-k (3) shrinks to them, as for any one- or two-class model."""
    from edge_service.analyzer import BackendChoice, FrameAnalyzer
    from edge_service.sources import Frame
    folder = tmp_path / "model"
    folder.mkdir()
    for entry in default_model_dir().iterdir():
        (folder / entry.name).write_bytes(entry.read_bytes())
    data = copy.deepcopy(shipped)
    data["labels"] = data["labels"][:2]
    (folder / MANIFEST_FILE).write_text(json.dumps(data))
    analyzer = FrameAnalyzer.open(folder, BackendChoice("numpy"))
    assert "has 2 labels for the 10 values of 'predictions'" in caplog.text
    result = analyzer.analyze(Frame(1, time.time(), np.zeros((28, 28, 3), np.uint8), "test"), 1)
    assert len(result.top) == 2
    for entry in result.top:
        index = entry["index"]
        assert entry["label"] == (data["labels"][index] if index < 2 else str(index))
    analyzer.close()
