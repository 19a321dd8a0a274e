"""What each manifest field must hold, checked at load: a hand-edited manifest fails in one line, not deep in a frame."""

from __future__ import annotations

import math
import re
from pathlib import PurePath

from edge_service.errors import ModelError

REQUIRED = ("name", "labels", "input", "preprocessing", "layers", "model_sha256")
COLORS = ("gray", "rgb", "bgr")
INPUT_TYPES = ("int8", "uint8", "float32")
SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_NAME = 100  # a layer name is part of file names (and of the 255-byte limit on them)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(value) -> bool:
    """A finite number, or a non-empty list of them (one per channel)."""
    if isinstance(value, list):
        return bool(value) and all(_is_number(v) for v in value)
    return _is_number(value)


def _shape(value) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_int(v) and v >= 1 for v in value)


def _file_name(value) -> bool:
    """A plain file name beside the model: a manifest may not point elsewhere on the device."""
    return isinstance(value, str) and value not in ("", ".", "..") and PurePath(value).name == value and "\\" not in value


def manifest_problem(data: dict) -> str | None:
    """The first thing wrong with a manifest's fields, in words, or None."""
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        return f"no {', '.join(repr(k) for k in missing)} field"
    if not isinstance(data["name"], str):
        return "'name' must be a string"
    labels = data["labels"]
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return "'labels' must be a list of strings"
    if not labels:
        return "'labels' is empty: give one name per class (numbers will do)"
    if not isinstance(data["model_sha256"], str) or not SHA256.fullmatch(data["model_sha256"]):
        return "'model_sha256' must be 64 lowercase hex digits"
    if "model_file" in data and not _file_name(data["model_file"]):
        return "'model_file' must be a file name beside the manifest, not a path"
    return _input_problem(data["input"]) or _preprocessing_problem(data["preprocessing"]) \
        or _size_problem(data["input"]["shape"], data["preprocessing"]["size"],
                         data["preprocessing"].get("color", "rgb")) \
        or _layers_problem(data["layers"]) or _files_problem(data)


def _size_problem(shape: list[int], size: list[int], color: str) -> str | None:
    """The frame is resized to `size`, turned `color`, and fed as the input: (1, height, width, channels)."""
    if len(shape) != 4 or shape[0] != 1 or list(shape[1:3]) != list(size):
        return f"input 'shape' {shape} does not hold one {size[0]}x{size[1]} image (preprocessing 'size' {size})"
    channels = 1 if color == "gray" else 3
    if shape[3] != channels:
        return f"input 'shape' {shape} has {shape[3]} channels, preprocessing 'color' {color!r} makes {channels}"
    return None


def _input_problem(value) -> str | None:
    if not isinstance(value, dict):
        return "'input' must be an object (shape, dtype, scale, zero_point)"
    if not _shape(value.get("shape")):
        return "input 'shape' must be a list of positive whole numbers"
    if value.get("dtype", "int8") not in INPUT_TYPES:
        return f"input 'dtype' must be one of {', '.join(INPUT_TYPES)}"
    quantized = value.get("dtype", "int8") != "float32"  # a float input has no scale to speak of
    if not _is_number(value.get("scale")) or value["scale"] < 0 or (quantized and value["scale"] == 0):
        return "input 'scale' must be a positive number"
    if not _is_int(value.get("zero_point")):
        return "input 'zero_point' must be a whole number"
    return None


def _preprocessing_problem(value) -> str | None:
    if not isinstance(value, dict):
        return "'preprocessing' must be an object (size, color, fit, scale, mean, invert)"
    if not _shape(value.get("size")) or len(value["size"]) != 2:
        return "preprocessing 'size' must be [height, width] in positive whole numbers"
    if value.get("color", "rgb") not in COLORS:
        return f"preprocessing 'color' must be one of {', '.join(COLORS)}"
    for key in ("scale", "mean"):
        if key in value and not _numbers(value[key]):
            return f"preprocessing {key!r} must be a finite number or a list of them"
    if not isinstance(value.get("invert", False), bool):
        return "preprocessing 'invert' must be true or false"
    return None


def _layers_problem(value) -> str | None:
    if not isinstance(value, list) or not value:
        return "'layers' must be a non-empty list"
    for i, layer in enumerate(value):
        if not isinstance(layer, dict):
            return f"layer {i} must be an object"
        name = layer.get("name")
        if not isinstance(name, str) or not name:
            return f"layer {i} needs a 'name' string"
        if len(name) > MAX_NAME or any(c in "/+#" or not c.isprintable() for c in name):
            return (f"layer {name[:40]!r}: a name goes into MQTT topics and file names: at most {MAX_NAME} "
                    f"characters, no '/', '+', '#' or control characters")
        if not _shape(layer.get("shape")):
            return f"layer {name!r}: 'shape' must be a list of positive whole numbers"
        if not _is_number(layer.get("scale")) or layer["scale"] < 0:
            return f"layer {name!r}: 'scale' must be a number >= 0"
        for key in ("zero_point", "output_index", "tensor_index"):
            if not _is_int(layer.get(key)):
                return f"layer {name!r}: {key!r} must be a whole number"
        if layer["output_index"] < 0:
            return f"layer {name!r}: 'output_index' must be >= 0"
    if sorted(layer["output_index"] for layer in value) != list(range(len(value))):
        return f"the layers' 'output_index' values must be 0 to {len(value) - 1}, each once"
    names = [layer["name"] for layer in value]
    if len(set(names)) != len(names):
        return "two layers have the same 'name'"
    return None


def _files_problem(data: dict) -> str | None:
    for key in ("training", "conversion", "exposed"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"{key!r} must be an object"
    for key in ("conversion_model", "float_model"):
        entry = data.get(key)
        if entry is None:
            continue
        if not isinstance(entry, dict) or not _file_name(entry.get("file")) or not isinstance(entry.get("sha256"), str):
            return f"{key!r} must name a file beside the manifest and its 'sha256'"
    return None


def model_problem(manifest, input_shape, input_dtype: str, output_shapes: list) -> str | None:
    """What in `manifest` (a Manifest) its model contradicts: the input, or a layer's shape in output
    order. A hand-edited `output_index` would otherwise hand one layer's numbers to another."""
    expected, actual = list(manifest.input["shape"]), [int(n) for n in input_shape]
    if expected != actual:
        return f"the manifest's input is {expected}, the model's {actual}"
    if manifest.input.get("dtype", "int8") != input_dtype:
        return f"the manifest's input is {manifest.input.get('dtype', 'int8')}, the model's {input_dtype}"
    layers = sorted(manifest.layers, key=lambda layer: layer.output_index)
    if len(output_shapes) != len(layers):
        return f"the model has {len(output_shapes)} outputs, its manifest {len(layers)} layers"
    for position, (layer, shape) in enumerate(zip(layers, output_shapes)):
        shape = [int(n) for n in shape]
        if list(layer.shape) != shape:
            return (f"manifest layer {layer.name!r} (output {layer.output_index}) is {list(layer.shape)}, "
                    f"the model's output {position} is {shape}")
    return None


def graph_problem(manifest, graph) -> str | None:
    """model_problem, read from the parsed .tflite (tflite_graph.Graph)."""
    first = graph.tensors[graph.inputs[0]]
    return model_problem(manifest, first.shape, first.dtype.name, [graph.tensors[i].shape for i in graph.outputs])


def check_manifest(data: dict, where: str) -> None:
    problem = manifest_problem(data)
    if problem:
        raise ModelError(f"{where}: malformed manifest: {problem}")
