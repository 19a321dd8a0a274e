"""What exposing layers costs on the Edge TPU, and the split that keeps the compiled part large.

The compiler ends its custom op at a tensor that must be readable, as its
`--intermediate_tensors` flag documents: every op after such a tensor is left to the CPU.
An exposed model makes every layer readable, so almost all of it would run on the CPU.
The split: an Edge TPU variant with the original outputs plus a few chosen layers, and
the full per-layer view on the CPU or numpy path.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_service.manifest import Manifest
from edge_service.tflite_graph import Graph

SHOWN = 6


def downstream_ops(graph: Graph, tensor: int) -> set[int]:
    """The ops that read `tensor`, directly or through other ops."""
    reached, frontier, ops = {tensor}, [tensor], set()
    while frontier:
        t = frontier.pop()
        for op in graph.operators:
            if t in op.inputs and op.index not in ops:
                ops.add(op.index)
                for out in op.outputs:
                    if out not in reached:
                        reached.add(out)
                        frontier.append(out)
    return ops


@dataclass
class EdgeTpuSplit:
    cpu_ops: set[int]                 # ops left to the CPU because an earlier tensor is an output
    cost: dict[str, int]              # exposed layer -> ops it alone pushes to the CPU
    total_ops: int
    names: dict[int, str]

    def lines(self, folder: str | None, manifest: Manifest | None) -> list[str]:
        if not self.cpu_ops:
            return []
        pushed = sorted(self.cost, key=lambda n: -self.cost[n])
        out = [f"{len(self.cpu_ops)} of {self.total_ops} ops would run on the CPU because an earlier layer is "
               f"a model output (the compiler leaves the ops after a readable tensor to the CPU, as its "
               f"--intermediate_tensors flag documents; its --show_operations log has the final word); "
               f"layers that cut the compiled part: {', '.join(pushed[:SHOWN])}"
               + (f" and {len(pushed) - SHOWN} more" if len(pushed) > SHOWN else "")]
        if manifest is None or not manifest.exposed:
            return out
        if manifest.exposed.get("only_layers") is not None:
            return out + [f"this is the Edge TPU variant (--only-layers {','.join(manifest.exposed['only_layers'])}): "
                          "compile it; serve every layer from the full exposure on the CPU"]
        cheap = sorted((n for n in self.cost if self.cost[n] <= max(3, self.total_ops // 10)),
                       key=lambda n: self.cost[n])[:3]
        choice = ",".join(cheap) if cheap else "LAYER,..."
        out += ["split it: the Edge TPU for the original outputs plus chosen layers, the CPU for the full view:",
                f"  unseen expose {folder or 'MODEL_DIR'} --only-layers {choice} -o {folder or 'MODEL_DIR'}-edgetpu"
                f"   (then edgetpu_compiler on that model.tflite)",
                f"  keep {folder or 'MODEL_DIR'} for every layer with --backend numpy or litert"]
        if cheap:
            out.append("  cheapest layers to keep on the Edge TPU variant: "
                       + ", ".join(f"{n} ({self.cost[n]} op{'s' if self.cost[n] != 1 else ''} on the CPU)"
                                   for n in cheap))
        return out


def edgetpu_split(graph: Graph, manifest: Manifest | None) -> EdgeTpuSplit:
    names = {layer.tensor_index: layer.name for layer in manifest.layers} if manifest else {}
    names = {t: names.get(t, graph.tensors[t].name) for t in graph.outputs}
    cost, cpu = {}, set()
    for t in graph.outputs:
        ops = downstream_ops(graph, t)
        if ops:
            cost[names[t]] = len(ops)
            cpu |= ops
    return EdgeTpuSplit(cpu, cost, len(graph.operators), names)
