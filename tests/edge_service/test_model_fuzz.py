"""Malformed and hostile .tflite files: a ModelError or a correct run, never a crash or a hang."""

from __future__ import annotations

import random
import signal
from contextlib import contextmanager

import numpy as np
import pytest

from edge_service.errors import ModelError
from edge_service.manifest import load_artefact
from edge_service.numpy_interpreter import NumpyInterpreter
from tests.edge_service.model_zoo import build_zoo_model
from edge_service.oracles import sample_inputs

SECONDS_PER_FILE = 3


@contextmanager
def time_limit(seconds: int, what: str):
    def expired(signum, frame):
        raise TimeoutError(f"{what} took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_and_run(data: bytes, what: str) -> str:
    """'refused' or 'ran'; anything else (another exception, a hang) fails the test."""
    with time_limit(SECONDS_PER_FILE, what):
        try:
            interpreter = NumpyInterpreter(data)
            x = sample_inputs(interpreter.input.shape, interpreter.input.dtype, 1)[0]
            outputs = interpreter.run(x)
        except ModelError:
            return "refused"
    assert outputs, what
    return "ran"


@pytest.fixture(scope="module")
def seeds(shipped_model) -> dict[str, bytes]:
    pytest.importorskip("tensorflow")
    return {"shipped": load_artefact(shipped_model).model_bytes,
            "add_mul_relu": build_zoo_model("add_mul_relu"),
            "mean_logistic": build_zoo_model("mean_logistic")}


def test_random_bit_flips(seeds):
    rng = random.Random(0)
    outcomes = {"refused": 0, "ran": 0}
    for case in range(1500):
        name = rng.choice(list(seeds))
        data = bytearray(seeds[name])
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            data[position] ^= 1 << rng.randrange(8)
        outcomes[load_and_run(bytes(data), f"bit flips #{case} of {name}")] += 1
    assert outcomes["refused"] > 0 and outcomes["ran"] > 0


def test_truncated_files(seeds):
    rng = random.Random(1)
    for case in range(600):
        name = rng.choice(list(seeds))
        data = seeds[name]
        cut = rng.randrange(len(data)) if case > 20 else case
        assert load_and_run(data[:cut], f"{name} cut to {cut} bytes") == "refused"


def test_random_bytes_and_garbage_headers():
    rng = random.Random(2)
    for case in range(300):
        size = rng.randrange(0, 4096)
        data = bytes(rng.randrange(256) for _ in range(size))
        if case % 2:
            data = data[:4] + b"TFL3" + data[8:]
        assert load_and_run(data, f"random file #{case}") == "refused"


def _mutate(seed: bytes, change) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils as fbu
    model = fbu.read_model_from_bytearray(bytearray(seed))
    change(model)
    return bytes(fbu.convert_object_to_bytearray(model))


STRUCTURED = {
    "huge shape": lambda m, r: setattr(r.choice(m.subgraphs[0].tensors), "shape", [1, 1 << 20, 1 << 20, 64]),
    "negative dim": lambda m, r: setattr(r.choice(m.subgraphs[0].tensors), "shape", [1, -4, 4, 1]),
    "wrong buffer index": lambda m, r: setattr(r.choice(m.subgraphs[0].tensors), "buffer", 10 ** 6),
    "opcode out of range": lambda m, r: setattr(r.choice(m.subgraphs[0].operators), "opcodeIndex", 999),
    "input index out of range": lambda m, r: r.choice(m.subgraphs[0].operators).inputs.__setitem__(0, 5000),
    "graph output out of range": lambda m, r: m.subgraphs[0].outputs.__setitem__(0, 10 ** 5),
    "operators reversed": lambda m, r: m.subgraphs[0].operators.reverse(),
    "zero scale": lambda m, r: _set_scale(r.choice(m.subgraphs[0].tensors), 0.0),
    "nan scale": lambda m, r: _set_scale(r.choice(m.subgraphs[0].tensors), float("nan")),
    "shrunk weights": lambda m, r: _shrink_largest_buffer(m),
    "future op version": lambda m, r: setattr(r.choice(m.operatorCodes), "version", 99),
    "two subgraphs": lambda m, r: m.subgraphs.append(m.subgraphs[0]),
}


def _set_scale(tensor, value):
    if tensor.quantization is not None and tensor.quantization.scale is not None:
        tensor.quantization.scale = np.full(len(tensor.quantization.scale), value, np.float32)
    else:
        tensor.shape = [1, -1]


def _shrink_largest_buffer(model):
    buffer = max(model.buffers, key=lambda b: 0 if b.data is None else len(b.data))
    buffer.data = buffer.data[: len(buffer.data) // 2]


@pytest.mark.parametrize("kind", sorted(STRUCTURED))
def test_structural_damage_is_refused_by_name(seeds, kind):
    rng = random.Random(kind)
    refused = 0
    for case in range(15):
        name = rng.choice(list(seeds))
        data = _mutate(seeds[name], lambda m: STRUCTURED[kind](m, rng))
        refused += load_and_run(data, f"{kind} #{case} in {name}") == "refused"
    assert refused >= 10, f"{kind}: only {refused} of 15 damaged models were refused"
