"""Why the numpy kernels cannot run a model, in one line naming the op or feature and the layer.

LiteRT runs what they cannot (float layers, ops without a numpy kernel, several subgraphs,
resource variables), so every refusal says so: `--backend litert`.
"""

from __future__ import annotations

import numpy as np
import tflite

from edge_service.kernels import KERNELS
from edge_service.tflite_graph import Graph

HINT = "; run it with --backend litert"
STATEFUL_OPS = {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}
SUBGRAPH_OPS = {"WHILE", "IF", "CALL", "CALL_ONCE", "STABLEHLO_WHILE", "STABLEHLO_CASE"}
FLOAT_BOUNDARY = {"QUANTIZE", "DEQUANTIZE"}  # float on one side by design; the kernels have both
_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}


def _layer(graph: Graph, op) -> str:
    name = graph.tensors[op.outputs[0]].name if op.outputs else f"operator {op.index}"
    return f"layer {name!r} ({op.op})"


def bytes_refusal(data: bytes) -> str | None:
    """The line for several subgraphs or resource variables, read from the bytes (the graph reader
    refuses such models before it gets to their ops)."""
    try:
        model = tflite.Model.GetRootAsModel(bytes(data), 0)
        count = model.SubgraphsLength()
        sub = model.Subgraphs(0)
        found = []  # (kind, who): a stateful op before a control-flow one, an op with a named output first
        for i in range(sub.OperatorsLength()):
            raw = sub.Operators(i)
            code = model.OperatorCodes(raw.OpcodeIndex())
            op = _OP_NAMES.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?")
            if op in SUBGRAPH_OPS | STATEFUL_OPS:
                out = raw.Outputs(0) if raw.OutputsLength() else -1
                who = (f"layer {(sub.Tensors(out).Name() or b'?').decode('utf-8', 'replace')!r} ({op})" if out >= 0
                       else f"operator {i} ({op})")
                found.append((op not in STATEFUL_OPS, out < 0, i, who))
    except Exception:  # a corrupt file: the graph reader says what is wrong
        return None
    if found:
        control_flow, _, _, who = min(found)
        if not control_flow:
            return f"{who} keeps state in a resource variable: the numpy kernels are stateless{HINT}"
        return (f"{who} runs another subgraph: the numpy kernels run models of one subgraph, "
                f"this one has {count}{HINT}")
    if count > 1:
        return f"the model has {count} subgraphs: the numpy kernels run models of one subgraph{HINT}"
    return None


def numpy_refusal(graph: Graph) -> str | None:
    """None when every op has a numpy kernel and computes in integers; else the first problem."""
    for op in graph.operators:
        if op.op in FLOAT_BOUNDARY:
            continue
        for t in [*op.inputs, *op.outputs]:
            tensor = graph.tensors[t] if t >= 0 else None
            if tensor is not None and tensor.data is None and np.dtype(tensor.dtype) == np.float32:
                return (f"{_layer(graph, op)} computes in float32: the numpy kernels run int8-quantized "
                        f"layers only{HINT}")
    missing = [op for op in graph.operators if op.op not in KERNELS]
    if missing:
        more = len({op.op for op in missing}) - 1
        also = f" (and {more} other op{'s' if more > 1 else ''} without one)" if more else ""
        return f"{_layer(graph, missing[0])}: the numpy kernels do not support {missing[0].op}{also}{HINT}"
    return None
