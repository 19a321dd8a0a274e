"""Does this model fit TFLite Micro? Ops, tensor types, and what to do when it does not."""

from __future__ import annotations

import numpy as np

from edge_service.tflite_graph import Graph
from firmware_export.tflm_ops import TFLM_OPS

TFLM_TYPES = {np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.int32, np.int64, np.float32, np.bool_)}


def tflm_problems(graph: Graph) -> list[str]:
    """One line per problem, naming the op or tensor; empty when the model fits."""
    problems = []
    for op in graph.operators:
        out = graph.tensors[op.outputs[0]].name
        if op.op.startswith("CUSTOM:"):
            problems.append(f"op {op.index} ({out}): custom op {op.op[7:]} needs a kernel of your own")
        elif op.op not in TFLM_OPS:
            problems.append(f"op {op.index} ({out}): {op.op} is not a TFLite Micro builtin")
    for t in graph.tensors:
        if np.dtype(t.dtype) not in TFLM_TYPES:
            problems.append(f"tensor {t.index} ({t.name}): type {t.dtype} is not supported by TFLite Micro")
    return problems


def resolver_ops(graph: Graph) -> list[tuple[str, str]]:
    """(op, MicroMutableOpResolver method) for each distinct op the model uses, in first-use order."""
    seen: dict[str, str] = {}
    for op in graph.operators:
        if op.op in TFLM_OPS and op.op not in seen:
            seen[op.op] = TFLM_OPS[op.op]
    return list(seen.items())
