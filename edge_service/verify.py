"""`unseen verify`: the numpy kernels and every available oracle side by side, per layer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_service.errors import EdgeError
from edge_service.numpy_interpreter import NumpyInterpreter, written_tensors
from edge_service.oracles import LiteRTOracle, TflmOracle, sample_inputs
from edge_service.tflite_graph import Graph


@dataclass
class Comparison:
    """One runtime against one arithmetic mode: per tensor, the largest difference and the mismatch count.

    `tolerance` 0 is an oracle (bit-exact on what it is compared on); 1 is XNNPACK, which rounds
    once in fp32: each op is fed the runtime's own inputs and may differ by one quantum (ADD two).
    """

    oracle: str
    mode: str
    tolerance: int
    outputs_only: bool = False   # compared on the model's outputs (every layer), not internal tensors
    max_diff: dict[int, int] = field(default_factory=dict)
    mismatched: dict[int, int] = field(default_factory=dict)
    allowed: dict[int, int] = field(default_factory=dict)
    unavailable: str = ""

    @property
    def exact(self) -> bool:
        return not any(self.mismatched.values())

    @property
    def passed(self) -> bool:
        return all(self.max_diff[i] <= self.allowed.get(i, 0) for i in self.max_diff)


# (name, our mode, tolerance, outputs only, factory). tflite-runtime 2.14's reference
# FULLY_CONNECTED still requantizes in fixed point (mode tflm). Its preserve_all_tensors
# does not keep every internal tensor (a FULLY_CONNECTED output feeding a SOFTMAX can read
# back as another tensor's bytes), so it is held to the model's outputs: every layer of an
# unseen model. XNNPACK reuses buffers too: only outputs are readable there.
RUNTIMES = (
    ("tflite-micro", "tflm", 0, False, lambda m: TflmOracle(m)),
    ("litert-ref", "litert-ref", 0, False, lambda m: LiteRTOracle(m, True)),
    ("litert-xnnpack", "tflm", 1, True, lambda m: LiteRTOracle(m, False)),
    ("tflite-runtime-ref", "tflm", 0, True, lambda m: LiteRTOracle(m, True, "tflite_runtime")),
    ("tflite-runtime-xnnpack", "tflm", 1, True, lambda m: LiteRTOracle(m, False, "tflite_runtime")),
)


def _oracles(model: bytes) -> list[tuple[Comparison, object | None]]:
    found = []
    for name, mode, tolerance, outputs_only, make in RUNTIMES:
        comparison, oracle = Comparison(name, mode, tolerance, outputs_only), None
        try:
            oracle = make(model)
        except ImportError as exc:
            comparison.unavailable = f"not installed ({exc.name})"
        except EdgeError as exc:
            comparison.unavailable = str(exc)
        found.append((comparison, oracle))
    return found


def _record(c: Comparison, index: int, ours: np.ndarray, theirs: np.ndarray, allowed: int) -> None:
    diff = np.abs(ours.astype(np.float64) - np.asarray(theirs).reshape(ours.shape).astype(np.float64))
    c.max_diff[index] = max(c.max_diff.get(index, 0), float(diff.max(initial=0)))
    c.mismatched[index] = c.mismatched.get(index, 0) + int((diff > 0).sum())
    c.allowed[index] = allowed


def _compare_end_to_end(c: Comparison, oracle, interpreter: NumpyInterpreter, x: np.ndarray) -> None:
    graph = interpreter.graph
    written = written_tensors(graph)
    indices = [i for i in written if i in graph.outputs] if c.outputs_only else written
    ours = interpreter.run(x, intermediate=True).by_index
    theirs = oracle.run(x, indices)
    for i in indices:
        _record(c, i, ours[i], theirs[i], 0)


def readable_int8(graph: Graph, outputs: dict[int, np.ndarray], x: np.ndarray) -> dict[int, np.ndarray]:
    """The runtime's int8 tensors: its outputs, its input, and the int8 source of each dequantized output."""
    tensors = dict(outputs)
    tensors[graph.inputs[0]] = x
    for op in graph.operators:
        if op.op == "DEQUANTIZE" and op.outputs[0] in outputs:
            q = graph.tensors[op.inputs[0]]
            tensors[q.index] = (np.round(outputs[op.outputs[0]] / q.scale) + q.zero_point).astype(np.int8)
    return tensors


def _compare_per_op(c: Comparison, oracle, interpreter: NumpyInterpreter, x: np.ndarray) -> None:
    # Feeding each op the runtime's own inputs keeps one layer's rounding out of the next.
    graph = interpreter.graph
    theirs = readable_int8(graph, oracle.run(x, graph.outputs), x)
    for kernel in interpreter.kernels:
        op, out = kernel.op, kernel.op.outputs[0]
        if len(op.outputs) != 1:  # SPLIT and UNPACK: compared end to end only
            continue
        dynamic = [i for i in op.inputs if i >= 0 and graph.tensors[i].data is None]
        if out not in theirs or graph.tensors[out].dtype != np.int8 or not set(dynamic) <= set(theirs):
            continue
        got = kernel.run(*[theirs[i] if i in theirs else graph.tensors[i].data for i in op.inputs if i >= 0])
        _record(c, out, got, theirs[out], c.tolerance * (2 if op.op == "ADD" else 1))


def verify(model: bytes, samples: int = 20, seed: int = 0) -> tuple[NumpyInterpreter, list[Comparison]]:
    interpreters = {mode: NumpyInterpreter(model, mode) for mode in ("tflm", "litert-ref")}
    graph = interpreters["tflm"].graph
    inputs = sample_inputs(graph.tensors[graph.inputs[0]].shape, graph.tensors[graph.inputs[0]].dtype,
                           samples, seed)
    comparisons = []
    for comparison, oracle in _oracles(model):
        comparisons.append(comparison)
        if comparison.unavailable:
            continue
        compare = _compare_per_op if comparison.tolerance else _compare_end_to_end
        for x in inputs:
            compare(comparison, oracle, interpreters[comparison.mode], x)
    return interpreters["tflm"], comparisons


def report(interpreter: NumpyInterpreter, comparisons: list[Comparison], samples: int) -> tuple[str, bool]:
    """A per-layer table and whether every runtime agreed: oracles bit for bit, XNNPACK within its quantum."""
    graph = interpreter.graph
    active = [c for c in comparisons if not c.unavailable]
    header = f"{'layer':<24} {'op':<18}" + "".join(f" {c.oracle + ' (' + c.mode + ')':>34}" for c in active)
    lines = [f"{samples} sample inputs (saturating extremes first); cells are max diff / mismatched values",
             header, "-" * len(header)]
    for op in graph.operators:
        for index in op.outputs:  # SPLIT and UNPACK write several
            cells = "".join(f" {_cell(c, index):>34}" for c in active)
            lines.append(f"{display_name(interpreter.names[index])[:24]:<24} {op.op:<18}{cells}")
    ok = True
    for c in comparisons:
        ok &= c.passed
        scope = "every layer output" if c.outputs_only else "every tensor"
        if c.unavailable:
            lines.append(f"{c.oracle}: skipped, {c.unavailable}")
        elif not c.tolerance:
            verdict = f"bit-exact on {scope}" if c.exact else "NOT bit-exact"
            lines.append(f"{c.oracle}: {verdict} with mode {c.mode}")
        else:
            worst = max(c.max_diff.values(), default=0)
            verdict = "within" if c.passed else "NOT within"
            lines.append(f"{c.oracle}: not an oracle (rounds in fp32); {verdict} one quantum of mode "
                         f"{c.mode} (two for ADD), each op fed its own inputs; largest difference {worst:g}")
    return "\n".join(lines), ok


def _cell(c: Comparison, index: int) -> str:
    if index not in c.max_diff:
        return "-"
    return f"{c.max_diff[index]:g} / {c.mismatched[index]}"


def display_name(tensor_name: str) -> str:
    """A readable name for a tensor: TensorFlow's "model_1/predictions_1/MatMul;..." -> "predictions/MatMul"."""
    first = tensor_name.split(";")[0]
    parts = [p.rsplit("_", 1)[0] if p.rsplit("_", 1)[-1].isdigit() else p for p in first.split("/")]
    return "/".join(parts[1:]) if len(parts) > 1 else parts[0]
