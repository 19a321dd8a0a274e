"""The stored zoo: each model's .tflite and its oracles' outputs of every tensor (.npz).

`tflm:<tensor>` holds TFLite Micro's value of each tensor an op writes, one row per stored
input; `litert:<tensor>` is stored only where LiteRT's BUILTIN_REF kernels differ from it.
Reading needs only numpy; `make_references` needs the oracles (tflite-micro, ai-edge-litert).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_service.numpy_interpreter import written_tensors
from edge_service.oracles import sample_inputs
from edge_service.tflite_graph import read_graph

ZOO_DIR = Path(__file__).parent / "zoo"
#: saturating inputs first (all -128, all 127, alternating), then random ones
INPUTS = 4
LARGE_MODEL_INPUTS = 3  # the saturating ones: larger models' references dominate the stored size
LARGE_MODEL_BYTES = 300_000


@dataclass
class References:
    inputs: np.ndarray                 # (inputs, *input shape)
    tflm: dict[int, np.ndarray]        # tensor index -> (inputs, *shape)
    litert: dict[int, np.ndarray]      # only where LiteRT differs from TFLite Micro

    def expected(self, mode: str, tensor: int) -> np.ndarray:
        return self.litert.get(tensor, self.tflm[tensor]) if mode == "litert-ref" else self.tflm[tensor]


def stored_names() -> list[str]:
    return sorted(p.stem for p in ZOO_DIR.glob("*.tflite") if p.with_suffix(".npz").exists())


def load_model(name: str) -> bytes:
    return (ZOO_DIR / f"{name}.tflite").read_bytes()


def load_references(name: str) -> References:
    with np.load(ZOO_DIR / f"{name}.npz") as data:
        tables: dict[str, dict[int, np.ndarray]] = {"tflm": {}, "litert": {}}
        for key in data.files:
            if ":" in key:
                oracle, index = key.split(":")
                tables[oracle][int(index)] = data[key]
        return References(data["inputs"], tables["tflm"], tables["litert"])


def input_count(model: bytes) -> int:
    return LARGE_MODEL_INPUTS if len(model) > LARGE_MODEL_BYTES else INPUTS


def make_references(model: bytes, count: int | None = None, inputs: np.ndarray | None = None,
                    candidates: int = 400) -> References:
    """Both oracles' value of every tensor an op writes, on `inputs` or on chosen ones.

    Chosen inputs: the saturating extremes, then random ones, each preferred among
    `candidates` for making the two oracles disagree somewhere (where they can), so the
    stored references tell the two arithmetic modes apart.
    """
    from edge_service.oracles import LiteRTOracle, TflmOracle

    graph = read_graph(model)
    source = graph.tensors[graph.inputs[0]]
    tensors = written_tensors(graph)
    tflm, litert = TflmOracle(model), LiteRTOracle(model, reference=True)

    def run(x: np.ndarray) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        a, b = tflm.run(x, tensors), litert.run(x, tensors)
        shape = lambda i, v: np.asarray(v).reshape(graph.tensors[i].shape).copy()
        return {i: shape(i, a[i]) for i in tensors}, {i: shape(i, b[i]) for i in tensors}

    if inputs is None:
        count = count or input_count(model)
        pool = sample_inputs(source.shape, source.dtype, 3 + max(count - 3, 0) * candidates)
        chosen = pool[:min(count, 3)]
        for k in range(max(count - 3, 0)):
            options = pool[3 + k * candidates: 3 + (k + 1) * candidates]
            differing = (x for x in options if any(not np.array_equal(u, v) for u, v in
                                                   zip(*(d.values() for d in run(x)))))
            chosen.append(next(differing, options[0]))
        inputs = np.stack(chosen)
    rows = [run(x) for x in inputs]
    tflm_rows = {i: np.stack([r[0][i] for r in rows]) for i in tensors}
    litert_rows = {i: np.stack([r[1][i] for r in rows]) for i in tensors}
    return References(np.asarray(inputs), tflm_rows,
                      {i: v for i, v in litert_rows.items() if not np.array_equal(v, tflm_rows[i])})


def write(name: str, model: bytes, refs: References) -> None:
    ZOO_DIR.mkdir(exist_ok=True)
    (ZOO_DIR / f"{name}.tflite").write_bytes(model)
    arrays = {"inputs": refs.inputs, **{f"tflm:{i}": v for i, v in refs.tflm.items()},
              **{f"litert:{i}": v for i, v in refs.litert.items()}}
    np.savez_compressed(ZOO_DIR / f"{name}.npz", **arrays)
