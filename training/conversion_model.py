"""The files beside model.tflite: conversion.tflite (the first layer alone) and model_float.tflite.

conversion.tflite is the model's first layer cut out of model.tflite, for full-resolution frames.

Cutting (rather than converting the Keras layer again) keeps the very weights, bias and
quantization of the model's conversion layer: at the model's input size the two give the
same int8 values. The stored input is one TFLite Micro tile; LiteRT resizes it and the
numpy kernels run it at any size (edge_service.fullres).
"""

from __future__ import annotations

import copy
from pathlib import Path

from edge_service.manifest import CONVERSION_MODEL_FILE, FLOAT_MODEL_FILE, Manifest, sha256_of
from edge_service.tflite_graph import read_graph
from training.errors import TrainingError

TILE = 64  # the stored input side: one TFLite Micro tile (64 x 64 x (C + K) bytes of tensors)


def conversion_model_bytes(flat: bytes, tile: int = TILE) -> bytes:
    """The first op of `flat` (a stride-1 SAME CONV_2D on the input) as its own model, input tile x tile."""
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model = fbu.read_model_from_bytearray(bytearray(flat))
    sub = model.subgraphs[0]
    op = sub.operators[0]
    code = model.operatorCodes[op.opcodeIndex]
    opts = op.builtinOptions
    if max(code.builtinCode, code.deprecatedBuiltinCode) != 3 or op.inputs[0] != sub.inputs[0]:
        raise TrainingError("the model's first op is not a CONV_2D on its input: no conversion layer to cut")
    if (opts.padding, opts.strideH, opts.strideW, opts.dilationHFactor, opts.dilationWFactor) != (0, 1, 1, 1, 1):
        raise TrainingError("the conversion layer must be a stride-1 'same' convolution to run at any size")
    old = [op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]]
    buffer_type = type(model.buffers[0])
    tensors, buffers = [], [buffer_type()]  # buffer 0 is the empty sentinel
    for index in old:
        tensor = copy.deepcopy(sub.tensors[index])
        source = model.buffers[tensor.buffer] if tensor.buffer else None
        buffers.append(copy.deepcopy(source) if source is not None and source.data is not None else buffer_type())
        tensor.buffer = len(buffers) - 1
        tensor.shapeSignature = None
        tensors.append(tensor)
    tensors[0].shape = [1, tile, tile, int(tensors[0].shape[3])]
    tensors[3].shape = [1, tile, tile, int(tensors[3].shape[3])]
    tensors[3].name = b"conversion"
    op = copy.deepcopy(op)
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, 2], [3]
    sub.tensors, sub.operators, sub.inputs, sub.outputs = tensors, [op], [0], [3]
    model.operatorCodes = [code]
    model.buffers = buffers
    model.metadata = None          # its entries point at buffers of the whole model
    if model.signatureDefs:
        sig = model.signatureDefs[0]
        sig.inputs = sig.inputs[:1]
        sig.inputs[0].tensorIndex = 0
        sig.outputs = sig.outputs[:1]
        sig.outputs[0].name, sig.outputs[0].tensorIndex = b"conversion", 3
        model.signatureDefs = [sig]
    return bytes(fbu.convert_object_to_bytearray(model))


def add_conversion_model(folder: Path, manifest: Manifest, tile: int = TILE) -> dict:
    """Writes conversion.tflite beside model.tflite and records it (hash, tile, halo) in the manifest."""
    folder = Path(folder)
    flat = (folder / manifest.model_file).read_bytes()
    data = conversion_model_bytes(flat, tile)
    graph = read_graph(data)
    inp, out = graph.tensors[graph.inputs[0]], graph.tensors[graph.outputs[0]]
    patch = int(graph.tensors[graph.operators[0].inputs[1]].shape[1])
    (folder / CONVERSION_MODEL_FILE).write_bytes(data)
    manifest.conversion_model = {
        "file": CONVERSION_MODEL_FILE, "sha256": sha256_of(data), "tile": [tile, tile], "halo": patch // 2,
        "patch": patch, "channels": int(inp.shape[3]), "layers": int(out.shape[3]),
        "input": {"scale": inp.scale, "zero_point": inp.zero_point},
        "output": {"scale": out.scale, "zero_point": out.zero_point}}
    manifest.save(folder)
    return manifest.conversion_model


def add_float_model(folder: Path, manifest: Manifest, layers_model) -> dict:
    """Writes model_float.tflite (every layer, float32; LiteRT runs it without TensorFlow) and records it."""
    from training.quantize import float_every_layer
    data = float_every_layer(layers_model)
    (Path(folder) / FLOAT_MODEL_FILE).write_bytes(data)
    manifest.float_model = {"file": FLOAT_MODEL_FILE, "sha256": sha256_of(data)}
    manifest.save(folder)
    return manifest.float_model
