"""Short, unique, MQTT-safe layer names from the converter's long tensor names.

The converter names a tensor after the TensorFlow ops fused into it, e.g.
`mobilenetv2_0.35_96_1/block_1_expand_relu_1/Relu6;mobilenetv2_0.35_96_1/block_1_expand_1/convolution`:
the Keras layer is the second path part of the first name. Keras 3 traces every scope with a
`_1` suffix (the model's too); it is dropped when the model scope carries the same one.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_SUFFIX = re.compile(r"_\d+$")
_GENERIC = re.compile(r"^(StatefulPartitionedCall|PartitionedCall|Identity|serving_default)", re.I)


def _candidate(tensor_name: str, op: str) -> str:
    first = tensor_name.split(";")[0].split(":")[0]
    parts = [p for p in first.split("/") if p]
    if len(parts) >= 3:
        scope, layer = parts[0], parts[1]
        suffix = _SUFFIX.search(scope)
        if suffix and layer.endswith(suffix.group()) and len(layer) > len(suffix.group()):
            layer = layer[: -len(suffix.group())]
        name = layer
    elif len(parts) == 2:
        name = parts[1] if not _GENERIC.match(parts[1]) else op.lower()
    elif parts and not _GENERIC.match(parts[0]) and not parts[0].startswith("tensor"):
        name = parts[0]
    else:
        name = op.lower()
    return _UNSAFE.sub("_", name).strip("_.") or op.lower()


def layer_names(tensors: list[tuple[str, str]]) -> list[str]:
    """One name per (tensor name, producing op), unique: a repeat gets `_2`, `_3`, ..."""
    names: list[str] = []
    taken: set[str] = set()
    for tensor_name, op in tensors:
        base = _candidate(tensor_name, op)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names.append(name)
    return names
