"""The graph rewrite: every operator's output added to the primary subgraph's outputs.

The original outputs stay first and in their order; every other op output follows in
execution order. Nothing that computes is touched: only the output list, the signature's
output map, and the names of the exposed tensors (so every tool shows one name per layer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge_service.expose.errors import ExposeError
from edge_service.expose.flatbuf import schema
from edge_service.expose.names import layer_names

# Tensor types that hold values a person can look at (not strings, resources or variants).
VIEWABLE = {"FLOAT32", "FLOAT16", "FLOAT64", "INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32",
            "INT64", "BOOL"}


@dataclass
class Exposure:
    """What the rewrite did, in terms the manifest builder needs."""

    outputs: list[int]                       # tensor indices, in the new output order
    original: list[int]                      # the graph's own outputs (first in `outputs`)
    names: dict[int, str]                    # tensor index -> layer name
    ops: dict[int, str]                      # tensor index -> the op that writes it
    op_index: dict[int, int]                 # tensor index -> that op's execution position
    subgraphs: int = 1
    skipped: list[str] = field(default_factory=list)  # op outputs not exposed, and why


def enum_names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_") and isinstance(v, int)}


def op_name(model, opcode_index: int) -> str:
    fb = schema()
    codes = model.operatorCodes or []
    if not 0 <= opcode_index < len(codes):
        raise ExposeError(f"corrupt model: opcode index {opcode_index} out of range")
    code = codes[opcode_index]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == fb.BuiltinOperator.CUSTOM:
        custom = code.customCode.decode("utf-8", "replace") if isinstance(code.customCode, bytes) else code.customCode
        return f"CUSTOM:{custom or '?'}"
    return enum_names(fb.BuiltinOperator).get(builtin, f"UNKNOWN_OP_{builtin}")


def text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "")


def expose_outputs(model, original: list[int] | None = None, only: list[str] | None = None) -> Exposure:
    """Rewrites `model` (ModelT) in place; `only` limits the added outputs to those layers."""
    sub = model.subgraphs[0]
    tensors = sub.tensors or []
    n = len(tensors)
    types = enum_names(schema().TensorType)
    original = list(sub.outputs or []) if original is None else list(original)
    for t in original:
        if not 0 <= t < n:
            raise ExposeError(f"corrupt model: output tensor {t} out of range")
    ops, op_index, candidates, skipped = {}, {}, [], []
    shape_math: set[int] = set()
    graph_inputs = set(sub.inputs or [])
    for position, op in enumerate(sub.operators or []):
        name = op_name(model, op.opcodeIndex)
        values = [t for t in op.inputs or [] if t in ops or t in graph_inputs]  # not weights or constants
        # SHAPE, and what is computed from shapes alone (a dynamic batch's STRIDED_SLICE and PACK),
        # are sizes the graph works out for itself, not feature maps.
        sizes = name == "SHAPE" or bool(values) and all(t in shape_math for t in values)
        for t in op.outputs or []:
            if t < 0:
                continue
            if t >= n:
                raise ExposeError(f"corrupt model: operator {position} ({name}) writes tensor {t} of {n}")
            ops[t], op_index[t] = name, position
            kind = types.get(tensors[t].type, "?")
            if sizes:
                shape_math.add(t)
            if kind not in VIEWABLE:
                skipped.append(f"{text(tensors[t].name)} ({name}): a {kind} tensor holds no values to show")
            elif sizes and t not in original:
                skipped.append(f"{text(tensors[t].name)} ({name}): shape arithmetic, not a feature map")
            elif t not in original and t not in candidates:
                candidates.append(t)
    labelled = original + candidates
    names = dict(zip(labelled, layer_names([(text(tensors[t].name), ops.get(t, "INPUT")) for t in labelled])))
    if only is not None:
        by_name = {names[t]: t for t in candidates}
        unknown = [x for x in only if x not in by_name and x not in (names[t] for t in original)]
        if unknown:
            raise ExposeError(f"--only-layers: no layer {', '.join(map(repr, unknown))}; the layers are "
                              f"{', '.join(names[t] for t in labelled)}")
        candidates = [t for t in candidates if names[t] in set(only)]
    outputs = original + candidates
    sub.outputs = outputs
    for t in outputs:
        tensors[t].name = names[t]
    _extend_signatures(model, candidates, names)
    return Exposure(outputs, original, {t: names[t] for t in outputs}, ops, op_index,
                    len(model.subgraphs), skipped)


def _extend_signatures(model, added: list[int], names: dict[int, str]) -> None:
    """The signature runner sees the same outputs as the graph."""
    fb = schema()
    for sig in model.signatureDefs or []:
        if sig.subgraphIndex != 0:
            continue
        sig.outputs = [m for m in sig.outputs or [] if m.tensorIndex not in added]
        keys = {text(m.name) for m in sig.outputs}
        for t in added:
            key, k = names[t], 1
            while key in keys:
                k += 1
                key = f"{names[t]}_{k}"
            keys.add(key)
            entry = fb.TensorMapT()
            entry.name, entry.tensorIndex = key, t
            sig.outputs.append(entry)
