"""`unseen verify`: the numpy kernels and every available oracle side by side, per layer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_service.numpy_interpreter import NumpyInterpreter, written_tensors
from edge_service.oracles import LiteRTOracle, TflmOracle, sample_inputs
from edge_service.tflite_graph import read_graph


@dataclass
class Comparison:
    """One oracle against one arithmetic mode: per tensor, the largest difference and the mismatch count."""

    oracle: str
    mode: str
    exact_required: bool
    max_diff: dict[int, int] = field(default_factory=dict)
    mismatched: dict[int, int] = field(default_factory=dict)
    unavailable: str = ""

    @property
    def exact(self) -> bool:
        return not any(self.mismatched.values())


def _oracles(model: bytes) -> list[tuple[str, str, bool, object]]:
    """(name, our mode, must be exact, oracle or the reason it is missing)."""
    found = []
    for name, mode, exact, make in (("tflite-micro", "tflm", True, lambda: TflmOracle(model)),
                                    ("litert-ref", "litert-ref", True, lambda: LiteRTOracle(model, True)),
                                    ("litert-xnnpack", "tflm", False, lambda: LiteRTOracle(model, False))):
        try:
            found.append((name, mode, exact, make()))
        except ImportError as exc:
            found.append((name, mode, exact, f"not installed ({exc.name})"))
    return found


def verify(model: bytes, samples: int = 20, seed: int = 0) -> tuple[NumpyInterpreter, list[Comparison]]:
    graph = read_graph(model)
    interpreters = {mode: NumpyInterpreter(graph, mode) for mode in ("tflm", "litert-ref")}
    written = written_tensors(graph)
    comparisons = []
    inputs = sample_inputs(graph.tensors[graph.inputs[0]].shape, graph.tensors[graph.inputs[0]].dtype,
                           samples, seed)
    for name, mode, exact, oracle in _oracles(model):
        comparison = Comparison(name, mode, exact)
        comparisons.append(comparison)
        if isinstance(oracle, str):
            comparison.unavailable = oracle
            continue
        # XNNPACK reuses internal buffers: only the model's outputs are readable there.
        indices = written if exact else [i for i in written if i in graph.outputs]
        for x in inputs:
            ours = interpreters[mode].run(x, intermediate=True).by_index
            theirs = oracle.run(x, indices)
            for i in indices:
                a = ours[i].astype(np.float64)
                b = np.asarray(theirs[i]).reshape(ours[i].shape).astype(np.float64)
                diff = np.abs(a - b)
                comparison.max_diff[i] = max(comparison.max_diff.get(i, 0), float(diff.max()))
                comparison.mismatched[i] = comparison.mismatched.get(i, 0) + int((diff > 0).sum())
    return interpreters["tflm"], comparisons


def report(interpreter: NumpyInterpreter, comparisons: list[Comparison], samples: int) -> tuple[str, bool]:
    """A per-layer table and whether every required oracle agreed bit for bit."""
    graph = interpreter.graph
    active = [c for c in comparisons if not c.unavailable]
    header = f"{'layer':<24} {'op':<18}" + "".join(f" {c.oracle + ' (' + c.mode + ')':>28}" for c in active)
    lines = [f"{samples} sample inputs (saturating extremes first); cells are max diff / mismatched values",
             header, "-" * len(header)]
    for op in graph.operators:
        for index in op.outputs:  # SPLIT and UNPACK write several
            cells = "".join(f" {_cell(c, index):>28}" for c in active)
            lines.append(f"{interpreter.names[index][:24]:<24} {op.op:<18}{cells}")
    ok = True
    for c in comparisons:
        if c.unavailable:
            lines.append(f"{c.oracle}: skipped, {c.unavailable}")
        elif c.exact_required:
            ok &= c.exact
            lines.append(f"{c.oracle}: {'bit-exact on every tensor' if c.exact else 'NOT bit-exact'} "
                         f"with mode {c.mode}")
        else:
            worst = max(c.max_diff.values(), default=0)
            lines.append(f"{c.oracle}: not an oracle (rounds in fp32); largest difference {worst:g} quanta")
    return "\n".join(lines), ok


def _cell(c: Comparison, index: int) -> str:
    if index not in c.max_diff:
        return "-"
    return f"{c.max_diff[index]:g} / {c.mismatched[index]}"
