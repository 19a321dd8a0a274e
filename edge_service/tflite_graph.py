"""Reads a .tflite file with the `tflite` flatbuffer package into plain, validated objects.

Nothing is trusted: every vector length, index, shape, buffer size and quantization
parameter is checked before use, so a malformed or hostile file raises `ModelError`
naming what is wrong instead of crashing, hanging, or allocating what a shape claims.
"""

from __future__ import annotations

import re

import numpy as np
import tflite

from edge_service.errors import ModelError
from edge_service.tflite_model import Graph, Operator, Tensor

__all__ = ["Graph", "Operator", "Tensor", "read_graph"]

MAX_TENSORS = 100_000
MAX_OPERATORS = 100_000
MAX_RANK = 6
MAX_ELEMENTS = 1 << 26  # 64 M elements in one tensor: far beyond any edge model

_TYPES = {
    tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.INT8: np.int8,
    tflite.TensorType.UINT8: np.uint8, tflite.TensorType.INT16: np.int16,
    tflite.TensorType.INT32: np.int32, tflite.TensorType.INT64: np.int64,
    tflite.TensorType.BOOL: np.bool_,
}
_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_OPTION_NAMES = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
_ACTIVATIONS = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
_PADDINGS = {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_")}


def read_graph(data: bytes) -> Graph:
    """Parses and validates the first (only) subgraph of a .tflite file."""
    data = bytes(data)
    if len(data) < 16:
        raise ModelError(f"not a TFLite model: only {len(data)} bytes")
    if data[4:8] != b"TFL3":
        raise ModelError("not a TFLite model: the file identifier is not 'TFL3'")
    try:
        return _read(data)
    except ModelError:
        raise
    except Exception as exc:  # any slip of the flatbuffer decoder means a corrupt file
        raise ModelError(f"corrupt TFLite flatbuffer ({type(exc).__name__}: {exc})") from None


def _length(n: int, what: str, limit: int, data: bytes) -> int:
    # A vector's elements take at least 4 bytes each, so its length is bounded by the file.
    if n < 0 or n > limit or n * 4 > len(data):
        raise ModelError(f"{what}: implausible count {n}")
    return n


def _read(data: bytes) -> Graph:
    model = tflite.Model.GetRootAsModel(data, 0)
    n_sub = _length(model.SubgraphsLength(), "subgraphs", 1000, data)
    if n_sub != 1:
        raise ModelError(f"the model has {n_sub} subgraphs; only single-graph models are supported")
    sub = model.Subgraphs(0)
    codes = [_op_name(model.OperatorCodes(i))
             for i in range(_length(model.OperatorCodesLength(), "operator codes", 10_000, data))]
    versions = [max(1, model.OperatorCodes(i).Version()) for i in range(len(codes))]
    n_buffers = _length(model.BuffersLength(), "buffers", MAX_TENSORS, data)
    n_tensors = _length(sub.TensorsLength(), "tensors", MAX_TENSORS, data)
    tensors = [_tensor(sub.Tensors(i), i, model, n_buffers, data) for i in range(n_tensors)]
    operators = []
    for i in range(_length(sub.OperatorsLength(), "operators", MAX_OPERATORS, data)):
        raw = sub.Operators(i)
        code = raw.OpcodeIndex()
        if not 0 <= code < len(codes):
            raise ModelError(f"operator {i}: opcode index {code} out of range")
        ins = _indices(raw.InputsAsNumpy(), n_tensors, f"operator {i} ({codes[code]}) inputs", True)
        outs = _indices(raw.OutputsAsNumpy(), n_tensors, f"operator {i} ({codes[code]}) outputs", False)
        operators.append(Operator(i, codes[code], versions[code], ins, outs, _options(raw)))
    graph_in = _indices(sub.InputsAsNumpy(), n_tensors, "graph inputs", False)
    graph_out = _indices(sub.OutputsAsNumpy(), n_tensors, "graph outputs", False)
    _check_order(tensors, operators, graph_in, graph_out)
    signature = {}
    if model.SignatureDefsLength() > 0:
        sig = model.SignatureDefs(0)
        for j in range(_length(sig.OutputsLength(), "signature outputs", MAX_TENSORS, data)):
            m = sig.Outputs(j)
            name = (m.Name() or b"").decode("utf-8", "replace")
            if not 0 <= m.TensorIndex() < n_tensors:
                raise ModelError(f"signature output {name!r}: tensor index out of range")
            signature[name] = int(m.TensorIndex())
    desc = (model.Description() or b"").decode("utf-8", "replace")
    return Graph(tensors, operators, graph_in, graph_out, signature, desc)


def _op_name(code) -> str:
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == tflite.BuiltinOperator.CUSTOM:
        return "CUSTOM:" + (code.CustomCode() or b"?").decode("utf-8", "replace")
    return _OP_NAMES.get(builtin, f"UNKNOWN_OP_{builtin}")


def _indices(arr, n_tensors: int, what: str, optional: bool) -> list[int]:
    if isinstance(arr, int):  # the flatbuffer vector is absent
        return []
    out = [int(v) for v in arr]
    low = -1 if optional else 0
    for v in out:
        if not low <= v < n_tensors:
            raise ModelError(f"{what}: tensor index {v} out of range (0..{n_tensors - 1})")
    return out


def _tensor(raw, index: int, model, n_buffers: int, data: bytes) -> Tensor:
    name = (raw.Name() or b"").decode("utf-8", "replace") or f"tensor{index}"
    where = f"tensor {index} ({name})"
    ttype = raw.Type()
    if ttype not in _TYPES:
        raise ModelError(f"{where}: unsupported tensor type {_TYPE_NAMES.get(ttype, ttype)}")
    dtype = np.dtype(_TYPES[ttype])
    shape_arr = raw.ShapeAsNumpy()
    shape = () if isinstance(shape_arr, int) else tuple(int(d) for d in shape_arr)
    if len(shape) > MAX_RANK:
        raise ModelError(f"{where}: rank {len(shape)} exceeds {MAX_RANK}")
    if any(d < 0 for d in shape):
        raise ModelError(f"{where}: dynamic or negative shape {shape} is not supported")
    elements = 1
    for d in shape:
        elements *= d
    if elements > MAX_ELEMENTS:
        raise ModelError(f"{where}: shape {shape} declares {elements} elements, over the limit")
    tensor = Tensor(index, name, shape, dtype)
    _quantization(raw.Quantization(), tensor, where)
    buf = raw.Buffer()
    if not 0 <= buf < n_buffers:
        raise ModelError(f"{where}: buffer index {buf} out of range")
    if buf > 0:
        tensor.data = _buffer_data(model.Buffers(buf), tensor, data, where)
    return tensor


def _buffer_data(buffer, tensor: Tensor, data: bytes, where: str) -> np.ndarray | None:
    offset, size = buffer.Offset(), buffer.Size()
    if offset > 1:  # data kept outside the flatbuffer (models over 2 GB)
        if offset + size > len(data):
            raise ModelError(f"{where}: buffer lies beyond the end of the file")
        raw = np.frombuffer(data, np.uint8, size, offset)
    else:
        n = buffer.DataLength()
        if n == 0:
            return None
        if n > len(data):
            raise ModelError(f"{where}: buffer of {n} bytes is larger than the file")
        raw = buffer.DataAsNumpy()
    if raw.size != tensor.nbytes:
        raise ModelError(f"{where}: buffer holds {raw.size} bytes, shape {tensor.shape} "
                         f"of {tensor.dtype} needs {tensor.nbytes}")
    return raw.view(tensor.dtype.newbyteorder("<")).reshape(tensor.shape).astype(tensor.dtype)


def _quantization(q, tensor: Tensor, where: str) -> None:
    if q is None or q.ScaleLength() == 0:
        return
    scales = q.ScaleAsNumpy().astype(np.float32)
    zps = q.ZeroPointAsNumpy()
    zps = np.zeros(len(scales), np.int64) if isinstance(zps, int) else zps.astype(np.int64)
    dim = q.QuantizedDimension()
    if len(zps) != len(scales):
        raise ModelError(f"{where}: {len(scales)} scales but {len(zps)} zero points")
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ModelError(f"{where}: quantization scales must be finite and positive")
    if len(scales) > 1 and (not 0 <= dim < len(tensor.shape) or tensor.shape[dim] != len(scales)):
        raise ModelError(f"{where}: {len(scales)} per-channel scales do not fit dimension {dim} "
                         f"of shape {tensor.shape}")
    info = np.iinfo(tensor.dtype) if np.issubdtype(tensor.dtype, np.integer) else None
    if info is not None and (zps.min() < info.min or zps.max() > info.max):
        raise ModelError(f"{where}: zero point outside the {tensor.dtype} range")
    tensor.scales, tensor.zero_points, tensor.quantized_dimension = scales, zps, dim


def _check_order(tensors: list[Tensor], operators: list[Operator], graph_in: list[int],
                 graph_out: list[int]) -> None:
    """Every op reads only constants, graph inputs, or what an earlier op wrote."""
    ready = set(graph_in) | {t.index for t in tensors if t.data is not None}
    for op in operators:
        for t in op.inputs:
            if t >= 0 and t not in ready:
                raise ModelError(f"operator {op.index} ({op.op}) reads tensor {t} "
                                 f"({tensors[t].name}) before anything writes it")
        for t in op.outputs:
            if tensors[t].data is not None:
                raise ModelError(f"operator {op.index} ({op.op}) writes into constant tensor {t}")
            ready.add(t)
    for t in graph_out:
        if t not in ready:
            raise ModelError(f"graph output {t} ({tensors[t].name}) is never computed")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _options(raw) -> dict:
    """The op's builtin options as a plain dict with snake_case keys."""
    kind = raw.BuiltinOptionsType()
    table = raw.BuiltinOptions()
    if kind == 0 or table is None:
        return {}
    cls = getattr(tflite, _OPTION_NAMES.get(kind, ""), None)
    if cls is None:
        return {}
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    out = {}
    for attr in dir(cls):
        if not attr[0].isupper() or attr.startswith(("GetRootAs", "Init")) or attr.endswith(
                ("Length", "IsNone", "BufferHasIdentifier")):
            continue
        method = getattr(opts, attr)
        try:
            value = method()
        except TypeError:
            continue  # an element getter that needs an index; its AsNumpy twin is taken
        key = _snake(attr.removesuffix("AsNumpy"))
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif not isinstance(value, (int, float, bool)):
            continue
        out[key] = value
    if "fused_activation_function" in out:
        out["fused_activation_function"] = _ACTIVATIONS.get(out["fused_activation_function"], "UNKNOWN")
    if "padding" in out:
        out["padding"] = _PADDINGS.get(out["padding"], "UNKNOWN")
    return out
