"""The manifest of an exposed model, built from the graph itself (and a labels file when given)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_service.expose.errors import ExposeError
from edge_service.expose.flatbuf import schema
from edge_service.expose.rewrite import Exposure, enum_names, text
from edge_service.manifest import LayerInfo, Manifest, sha256_of
from edge_service.preprocess import FITS

KINDS = {"CONV_2D": "Conv2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D", "FULLY_CONNECTED": "Dense",
         "TRANSPOSE_CONV": "Conv2DTranspose", "MAX_POOL_2D": "MaxPooling2D", "AVERAGE_POOL_2D": "AveragePooling2D",
         "MEAN": "GlobalAveragePooling2D", "ADD": "Add", "MUL": "Multiply", "CONCATENATION": "Concatenate",
         "RESHAPE": "Reshape", "SOFTMAX": "Softmax", "PAD": "ZeroPadding2D"}
COLORS = ("rgb", "bgr", "gray")


@dataclass
class Preprocessing:
    """What the user said about feeding the model; None means: derive it from the input tensor."""

    mean: list[float] | None = None
    scale: list[float] | None = None
    color: str | None = None          # rgb | bgr (gray follows from one channel)
    fit: str | None = None            # stretch | crop | letterbox


def _quant(tensor) -> tuple[float, int]:
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return 0.0, 0
    zero = 0 if q.zeroPoint is None or len(q.zeroPoint) == 0 else int(q.zeroPoint[0])
    return float(q.scale[0]), zero


def _dtype(tensor) -> str:
    return enum_names(schema().TensorType).get(tensor.type, "?").lower()


def read_labels(path: Path) -> list[str]:
    """One label a line; blank lines are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ExposeError(f"{path}: no such labels file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExposeError(f"{path}: cannot read the labels ({exc})") from None
    return [line.strip() for line in lines if line.strip()]


def _labels(given: list[str] | None, path: Path | None, classes: int, where: str) -> list[str]:
    if given is None:
        return [str(i) for i in range(classes)]
    if len(given) != classes:
        raise ExposeError(f"{path}: {len(given)} labels, but {where} has {classes} classes")
    return given


def _input_mapping(sub, inp, model) -> tuple[float, float]:
    """(mean, scale) that feed the input its full quantized range: pixel p becomes int8 p - 128."""
    scale, zero = _quant(inp)
    dtype = _dtype(inp)
    if dtype == "float32":  # a float entry: look at the QUANTIZE that follows it
        for op in sub.operators or []:
            if sub.inputs[0] in (op.inputs or []) and op.outputs:
                scale, zero = _quant(sub.tensors[op.outputs[0]])
                dtype = _dtype(sub.tensors[op.outputs[0]])
                break
    if not scale:
        return 0.0, 1.0 / 255.0
    return (128.0 + zero if dtype == "int8" else float(zero)), scale


def _preprocessing(sub, model, options: Preprocessing, previous: dict | None) -> dict:
    inp = sub.tensors[sub.inputs[0]]
    shape = [int(d) for d in (inp.shape if inp.shape is not None else [])]
    if len(shape) != 4 or shape[-1] not in (1, 3):
        name = inp.name.decode("utf-8", "replace") if isinstance(inp.name, bytes) else inp.name
        raise ExposeError(f"the model's input {name!r} has shape {shape}; unseen shows image models "
                          "(batch, height, width, 1 or 3 channels)")
    p = dict(previous or {})
    if not p:
        mean, scale = _input_mapping(sub, inp, model)
        p = {"size": shape[1:3], "color": "gray" if shape[-1] == 1 else "rgb", "fit": "crop",
             "mean": mean, "scale": scale, "invert": False}
    for key, value in (("mean", options.mean), ("scale", options.scale)):
        if value is not None:
            if len(value) not in (1, shape[-1]):
                raise ExposeError(f"--{key}: give one value or one per channel ({shape[-1]})")
            p[key] = value[0] if len(value) == 1 else list(value)
    if options.color is not None:
        if options.color not in COLORS or (shape[-1] == 1) != (options.color == "gray"):
            raise ExposeError(f"--{options.color}: the input has {shape[-1]} channel(s)")
        p["color"] = options.color
    if options.fit is not None:
        if options.fit not in FITS:
            raise ExposeError(f"--resize {options.fit!r}: choose {', '.join(FITS)}")
        p["fit"] = options.fit
    if np.any(np.asarray(p["scale"], np.float64) == 0):
        raise ExposeError("--scale must not be zero")
    return p


def build_manifest(model, exposure: Exposure, data: bytes, name: str, labels: Path | None,
                   options: Preprocessing, exposed: dict, previous: Manifest | None = None,
                   label_list: list[str] | None = None) -> Manifest:
    sub = model.subgraphs[0]
    if not sub.inputs:
        raise ExposeError("the model has no input")
    inp = sub.tensors[sub.inputs[0]]
    scale, zero = _quant(inp)
    layers = []
    for position, t in enumerate(exposure.outputs):
        tensor = sub.tensors[t]
        s, z = _quant(tensor)
        op = exposure.ops.get(t, "INPUT")
        layers.append(LayerInfo(name=exposure.names[t], kind=KINDS.get(op, op), op=op,
                                shape=[int(d) for d in tensor.shape] if tensor.shape is not None else [],
                                scale=s, zero_point=z, output_index=position, tensor_index=t))
    # A person reads layers from the input on; the output list keeps the originals first.
    layers.sort(key=lambda l: (exposure.op_index.get(l.tensor_index, len(exposure.op_index)), l.output_index))
    prediction = sub.tensors[exposure.original[0]] if exposure.original else None
    classes = int(prediction.shape[-1]) if prediction is not None and prediction.shape is not None \
        and len(prediction.shape) else 1
    if labels is None and previous is not None:
        label_list = previous.labels
    else:
        where = f"the output {exposure.names[exposure.original[0]]!r}" if exposure.original else "the model"
        label_list = _labels(label_list, labels, classes, where)
    outputs = [exposure.names[t] for t in exposure.original]
    return Manifest(
        name=name, labels=label_list,
        input={"name": text(inp.name) or "input", "shape": [int(d) for d in inp.shape], "dtype": _dtype(inp),
               "scale": scale, "zero_point": zero},
        preprocessing=_preprocessing(sub, model, options, previous.preprocessing if previous else None),
        layers=layers, model_sha256=sha256_of(data), exposed={**exposed, "outputs": outputs})
