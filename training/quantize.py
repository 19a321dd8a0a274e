"""Full-integer int8 conversion with every layer as a named output, in layer order."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable

import numpy as np

from edge_service.manifest import LayerInfo
from edge_service.tflite_graph import read_graph
from training.errors import TrainingError


def representative_sample(x: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """A class-blind random sample of the training split, for calibration."""
    rng = np.random.default_rng(seed)
    return x[rng.permutation(len(x))[:count]]


def quantize_every_layer(layers_model, calibration: np.ndarray,
                         progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
                         float_io: bool = False, per_channel_dense: bool = True,
                         names: list[str] | None = None) -> bytes:
    """int8 TFLite bytes, batch 1, one output per Keras layer.

    The input and outputs are int8 unless `float_io` (then QUANTIZE / DEQUANTIZE ops
    wrap the graph); `per_channel_dense=False` gives per-tensor FULLY_CONNECTED weights.
    """
    import tensorflow as tf

    total = len(calibration)

    def representative():
        for i, sample in enumerate(calibration):
            if i % max(1, total // 10) == 0 or i == total - 1:
                progress(f"calibrating {i + 1}/{total}")
            yield [sample[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(layers_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if not per_channel_dense:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    try:
        # The converter prints its SavedModel signature to stdout; the user wants progress, not that.
        with contextlib.redirect_stdout(io.StringIO()):
            flat = converter.convert()
    except Exception as exc:  # the converter reports its failures as many types
        raise TrainingError(f"int8 conversion failed: {exc}") from exc
    names = names or [layer.name for layer in layers_model.layers[1:]]
    return name_outputs_by_layer(flat, names)


def name_outputs_by_layer(flat: bytes, layer_names: list[str]) -> bytes:
    """Renames output tensors after their layers and puts the outputs in layer order.

    The converter names outputs `StatefulPartitionedCall:N` and shuffles their order; the
    signature's `output_N` keeps N = the Keras output position, which we rely on.
    """
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model = fbu.read_model_from_bytearray(bytearray(flat))
    sub = model.subgraphs[0]
    sig = model.signatureDefs[0]
    by_position = {}
    for tmap in sig.outputs:
        name = tmap.name.decode() if isinstance(tmap.name, bytes) else tmap.name
        by_position[int(name.rsplit("_", 1)[1])] = tmap.tensorIndex
    if sorted(by_position) != list(range(len(layer_names))):
        raise TrainingError(f"converter produced outputs {sorted(by_position)} for {len(layer_names)} layers")
    ordered = [by_position[i] for i in range(len(layer_names))]
    for tensor_index, name in zip(ordered, layer_names):
        sub.tensors[tensor_index].name = name.encode()
    sub.outputs = ordered
    for tmap in sig.outputs:
        position = int((tmap.name.decode() if isinstance(tmap.name, bytes) else tmap.name).rsplit("_", 1)[1])
        tmap.name = layer_names[position].encode()
    sig.outputs.sort(key=lambda t: ordered.index(t.tensorIndex))
    return bytes(fbu.convert_object_to_bytearray(model))


def layer_infos(flat: bytes, layers_model) -> list[LayerInfo]:
    """The manifest's layer list, read back from the converted model."""
    graph = read_graph(flat)
    infos = []
    for position, (tensor_index, layer) in enumerate(zip(graph.outputs, layers_model.layers[1:])):
        tensor = graph.tensors[tensor_index]
        producer = graph.producer(tensor_index)
        infos.append(LayerInfo(name=layer.name, kind=type(layer).__name__,
                               op=producer.op if producer else "INPUT", shape=list(tensor.shape),
                               scale=tensor.scale, zero_point=tensor.zero_point,
                               output_index=position, tensor_index=tensor_index))
    return infos


def float_every_layer(layers_model) -> bytes:
    """The float32 TFLite of the same every-layer model (for comparing int8 maps with float ones)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(layers_model)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            flat = converter.convert()
    except Exception as exc:  # the converter reports its failures as many types
        raise TrainingError(f"float conversion failed: {exc}") from exc
    return name_outputs_by_layer(flat, [layer.name for layer in layers_model.layers[1:]])
