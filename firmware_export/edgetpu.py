"""`unseen export edgetpu`: the Edge TPU's requirements, checked layer by layer, then the compiler.

Requirements (Coral's model documentation): full 8-bit quantization, static shapes,
batch 1, no tensor with more than three dimensions larger than one, and ops from the
supported list with their limits. Op versions are the compiler's own to judge: it reports
them per op when it runs. Unmapped ops run on the CPU, which is slow but works.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from edge_service.inspect_model import load_graph
from edge_service.tflite_graph import Graph, Operator
from firmware_export.edgetpu_split import edgetpu_split
from firmware_export.errors import ExportError

EDGETPU_OPS = {
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS", "FULLY_CONNECTED",
    "L2_NORMALIZATION", "LOGISTIC", "LSTM", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MUL", "PACK", "PAD",
    "PRELU", "QUANTIZE", "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE",
    "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT",
    "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM", "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
}
NO_FUSED_ACTIVATION = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "CONCATENATION"}
INTEGER = {np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int32)}


def _op_problems(graph: Graph, op: Operator) -> list[str]:
    where = f"layer {graph.tensors[op.outputs[0]].name} ({op.op})"
    if op.op == "DEQUANTIZE":
        return [f"{where}: runs on the CPU (float output); an int8 output keeps the model on the TPU"]
    if op.op not in EDGETPU_OPS:
        return [f"{where}: not supported by the Edge TPU; this op and every op after it run on the CPU"]
    problems = []
    if op.op in NO_FUSED_ACTIVATION and op.options.get("fused_activation_function", "NONE") != "NONE":
        problems.append(f"{where}: a fused activation is not supported here")
    if op.op == "MEAN":
        axes = graph.tensors[op.inputs[1]].data
        if axes is not None and not set(np.atleast_1d(axes).tolist()) <= {1, 2}:
            problems.append(f"{where}: reduces along axes {np.atleast_1d(axes).tolist()}; only x and y are supported")
    if op.op == "PAD":
        paddings = graph.tensors[op.inputs[1]].data
        if paddings is not None and paddings.shape[0] == 4 and (paddings[0].any() or paddings[3].any()):
            problems.append(f"{where}: pads the batch or channel dimension; only x and y are supported")
    return problems


def edgetpu_problems(graph: Graph) -> list[str]:
    problems = []
    inp = graph.tensors[graph.inputs[0]]
    if inp.shape and inp.shape[0] != 1:
        problems.append(f"input {inp.name}: batch {inp.shape[0]}; the Edge TPU needs batch 1")
    for op in graph.operators:
        problems += _op_problems(graph, op)
    for t in graph.tensors:
        if t.data is None and np.dtype(t.dtype) not in INTEGER and t.index not in graph.inputs + graph.outputs:
            problems.append(f"tensor {t.name}: {t.dtype} activations; the Edge TPU needs 8-bit quantization")
        if t.data is None and sum(1 for d in t.shape if d > 1) > 3:
            problems.append(f"tensor {t.name}: shape {list(t.shape)} has more than three dimensions larger than one")
    return problems


def export_edgetpu(model: Path | None, output: Path | None = None) -> tuple[list[str], str]:
    """(problems, what happened): runs edgetpu_compiler when it is installed."""
    loaded = load_graph(model)
    path = loaded.path
    problems = edgetpu_problems(loaded.graph)
    manifest = loaded.artefact.manifest if loaded.artefact else None
    split = "\n".join(edgetpu_split(loaded.graph, manifest).lines(str(model or path.parent), manifest))
    split = split + "\n" if split else ""
    compiler = shutil.which("edgetpu_compiler")
    if compiler is None:
        return problems, split + (
            "edgetpu_compiler is not installed here. On an x86-64 Debian or Ubuntu machine, install "
            "the edgetpu-compiler package from Coral's apt repository, then run:\n"
            f"  edgetpu_compiler --show_operations --out_dir {output or path.parent} {path}\n"
            "and copy model_edgetpu.tflite beside model.tflite on the device.")
    out_dir = output or path.parent
    try:
        done = subprocess.run([compiler, "--show_operations", "--out_dir", str(out_dir), str(path)],
                              capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExportError(f"edgetpu_compiler failed to run: {exc}") from None
    if done.returncode != 0:
        raise ExportError(f"edgetpu_compiler failed:\n{done.stdout}{done.stderr}")
    return problems, split + done.stdout
