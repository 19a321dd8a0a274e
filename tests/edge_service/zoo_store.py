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
LARGE_MODEL_INPUTS = 2  # architectures: their references dominate the stored size
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


def make_references(model: bytes, count: int | None = None) -> References:
    """Runs both oracles on the stored inputs and reads every tensor an op writes."""
    from edge_service.oracles import LiteRTOracle, TflmOracle

    graph = read_graph(model)
    source = graph.tensors[graph.inputs[0]]
    inputs = np.stack(sample_inputs(source.shape, source.dtype, count or input_count(model)))
    tensors = written_tensors(graph)
    runs = {"tflm": TflmOracle(model), "litert": LiteRTOracle(model, reference=True)}
    rows: dict[str, dict[int, list[np.ndarray]]] = {k: {i: [] for i in tensors} for k in runs}
    for x in inputs:
        for oracle_name, oracle in runs.items():
            values = oracle.run(x, tensors)
            for i in tensors:
                rows[oracle_name][i].append(np.asarray(values[i]).reshape(graph.tensors[i].shape).copy())
    tflm = {i: np.stack(v) for i, v in rows["tflm"].items()}
    litert = {i: np.stack(v) for i, v in rows["litert"].items()}
    return References(inputs, tflm, {i: v for i, v in litert.items() if not np.array_equal(v, tflm[i])})


def write(name: str, model: bytes, refs: References) -> None:
    ZOO_DIR.mkdir(exist_ok=True)
    (ZOO_DIR / f"{name}.tflite").write_bytes(model)
    arrays = {"inputs": refs.inputs, **{f"tflm:{i}": v for i, v in refs.tflm.items()},
              **{f"litert:{i}": v for i, v in refs.litert.items()}}
    np.savez_compressed(ZOO_DIR / f"{name}.npz", **arrays)
