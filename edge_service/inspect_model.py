"""`unseen inspect`: one line per op with its output, quantization, parameters and MACs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_service.errors import ModelError
from edge_service.manifest import (MANIFEST_FILE, MODEL_FILE, ModelArtefact, default_model_dir, load_artefact,
                                   resolve_model_path)
from edge_service.numpy_support import bytes_refusal
from edge_service.tflite_graph import Graph, Operator, read_graph


def multiply_accumulates(graph: Graph, op: Operator) -> int:
    """MACs of one op (0 for ops that only move or compare values)."""
    out = graph.tensors[op.outputs[0]]
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        weights = graph.tensors[op.inputs[1]]
        if op.op == "CONV_2D":
            return out.size * weights.size // weights.shape[0]
        if op.op == "DEPTHWISE_CONV_2D":
            return out.size * weights.shape[1] * weights.shape[2]
        return out.size * weights.shape[-1]
    if op.op in ("ADD", "MUL", "AVERAGE_POOL_2D", "MEAN"):
        return out.size
    return 0


def parameters(graph: Graph, op: Operator) -> int:
    return sum(graph.tensors[i].size for i in op.inputs if i >= 0 and graph.tensors[i].data is not None)


@dataclass
class LoadedModel:
    graph: Graph
    data: bytes                         # the .tflite bytes the graph was read from
    artefact: ModelArtefact | None      # when a manifest is beside the model, verified
    path: Path


def load_graph(model: Path | None) -> LoadedModel:
    """A model folder or bare .tflite (default: the shipped model), read once and validated."""
    path = resolve_model_path(model) if model else default_model_dir()
    folder = path if path.is_dir() else path.parent
    if (folder / MANIFEST_FILE).exists():
        artefact = load_artefact(path)
        return LoadedModel(_read(artefact.model_bytes), artefact.model_bytes, artefact, artefact.model_path)
    if path.is_dir():
        if (path / MODEL_FILE).exists():  # a bare model: read it, it simply has no manifest
            path = path / MODEL_FILE
        else:
            raise ModelError(f"{path}: no {MODEL_FILE} in this folder")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror})") from None
    return LoadedModel(_read(data), data, None, path)


def _read(data: bytes) -> Graph:
    """The graph; a model of several subgraphs or with variables gets the line that names the op."""
    try:
        return read_graph(data)
    except ModelError:
        refusal = bytes_refusal(data)
        if refusal:
            raise ModelError(refusal) from None
        raise


def describe(model: Path | None) -> str:
    loaded = load_graph(model)
    graph, artefact, path = loaded.graph, loaded.artefact, loaded.path
    lines = [f"model {path} ({path.stat().st_size} bytes)"]
    if artefact is not None:
        m = artefact.manifest
        t = m.training
        shown = ", ".join(m.labels[:12]) + (f", ... ({len(m.labels)} labels)" if len(m.labels) > 12 else "")
        lines.append(f"name {m.name}, sha256 {m.model_sha256[:16]}..., labels {shown}")
        if m.exposed:
            e = m.exposed
            lines.append(f"exposed from {e.get('source')} (sha256 {str(e.get('source_sha256'))[:16]}...), original "
                         f"outputs {', '.join(e.get('outputs', []))}; numpy: {e.get('numpy')}; "
                         f"litert: {e.get('litert')}")
        if "int8_accuracy" in t:
            lines.append(f"accuracy: float {t['float_accuracy']:.2%}, int8 {t['int8_accuracy']:.2%} "
                         f"on {t.get('test_images', '?')} test images of {t.get('dataset', '?')}")
    inp = graph.tensors[graph.inputs[0]]
    lines.append(f"input {inp.name} {list(inp.shape)} {inp.dtype} scale {inp.scale:.6g} zp {inp.zero_point}")
    header = f"{'#':>3} {'op':<18} {'output':<22} {'shape':<16} {'scale':>10} {'zp':>5} {'params':>8} {'MACs':>10}"
    lines += ["", header, "-" * len(header)]
    outputs = set(graph.outputs)
    total_params = total_macs = 0
    for op in graph.operators:
        out = graph.tensors[op.outputs[0]]
        params, macs = parameters(graph, op), multiply_accumulates(graph, op)
        total_params += params
        total_macs += macs
        mark = "*" if op.outputs[0] in outputs else " "
        shape = "x".join(str(d) for d in out.shape)
        lines.append(f"{op.index:>3} {op.op:<18} {mark}{out.name[:21]:<21} {shape:<16} "
                     f"{out.scale:>10.5g} {out.zero_point:>5} {params:>8} {macs:>10}")
    lines.append("-" * len(header))
    lines.append(f"{len(graph.operators)} ops, {len(graph.outputs)} outputs (* = a layer output), "
                 f"{total_params} parameters, {total_macs} multiply-accumulates per frame")
    return "\n".join(lines)
