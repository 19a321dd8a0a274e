"""Malformed and hostile .tflite files: a ModelError or a correct run, never a crash or a hang."""

from __future__ import annotations

import random
import signal
import struct
from contextlib import contextmanager

import numpy as np
import pytest

from edge_service.errors import ModelError
from edge_service.manifest import load_artefact
from edge_service.numpy_interpreter import NumpyInterpreter
from edge_service.oracles import sample_inputs
from tests.edge_service import zoo_store

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


#: small stored zoo models that between them hold every op the kernels support
SEED_MODELS = ("add_mul_relu", "mean_logistic", "graph_elementwise", "graph_activations", "graph_resizes",
               "graph_slicing", "graph_splitting", "graph_matmuls", "graph_transpose_convs",
               "layers_reshuffles", "layers_attention", "layers_transposed")


@pytest.fixture(scope="module")
def seeds(shipped_model) -> dict[str, bytes]:
    return {"shipped": load_artefact(shipped_model).model_bytes,
            **{name: zoo_store.load_model(name) for name in SEED_MODELS}}


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
    from ai_edge_litert.tools import flatbuffer_utils as fbu
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
    "option values": lambda m, r: _damage_options(m, r),
    "axis, shape and index constants": lambda m, r: _damage_int_constants(m, r),
    "outputs dropped or added": lambda m, r: _damage_output_count(m, r),
}
NASTY = (-(1 << 31), -99, -5, -1, 0, 1, 2, 3, 7, 99, (1 << 31) - 1)


def _damage_options(model, rng):
    """A random field of a random op's options set to a nasty integer (axes, masks, counts, flags)."""
    ops = [op for op in model.subgraphs[0].operators if op.builtinOptions is not None]
    options = rng.choice(ops).builtinOptions
    fields = [k for k, v in vars(options).items() if isinstance(v, (int, bool))]
    if not fields:
        return
    field = rng.choice(fields)
    if isinstance(getattr(options, field), bool):
        setattr(options, field, not getattr(options, field))
        return
    from ai_edge_litert.tools import flatbuffer_utils as fbu
    for value in (rng.choice(NASTY), -1, 7):  # the first that the field's width can hold
        setattr(options, field, value)
        try:
            fbu.convert_object_to_bytearray(model)
            return
        except (TypeError, struct.error):
            continue


def _damage_int_constants(model, rng):
    """The values of a small int32 constant (an axis, a shape, begin/end, a permutation, indices)."""
    sub = model.subgraphs[0]
    small = [t for t in sub.tensors if t.type == 2 and t.buffer and model.buffers[t.buffer].data is not None
             and len(model.buffers[t.buffer].data) <= 64]
    if small:
        buffer = model.buffers[rng.choice(small).buffer]
        values = np.frombuffer(bytes(buffer.data), np.int32).copy()
        values[rng.randrange(len(values))] = rng.choice(NASTY)
        buffer.data = np.frombuffer(values.tobytes(), np.uint8)


def _damage_output_count(model, rng):
    op = rng.choice(model.subgraphs[0].operators)
    if rng.random() < 0.5 and len(op.outputs) > 1:
        op.outputs = list(op.outputs)[:-1]
    else:
        op.outputs = list(op.outputs) + [rng.randrange(len(model.subgraphs[0].tensors))]


def _set_scale(tensor, value):
    if tensor.quantization is not None and tensor.quantization.scale is not None:
        tensor.quantization.scale = np.full(len(tensor.quantization.scale), value, np.float32)
    else:
        tensor.shape = [1, -1]


def _shrink_largest_buffer(model):
    buffer = max(model.buffers, key=lambda b: 0 if b.data is None else len(b.data))
    if buffer.data is not None:  # a model without constants has nothing to shrink
        buffer.data = buffer.data[: len(buffer.data) // 2]


ALWAYS_REFUSED = set(STRUCTURED) - {"option values", "axis, shape and index constants",
                                    "outputs dropped or added"}


@pytest.mark.parametrize("kind", sorted(STRUCTURED))
def test_structural_damage_is_refused_by_name(seeds, kind):
    pytest.importorskip("ai_edge_litert")  # its flatbuffer_utils rewrites the models
    rng = random.Random(kind)
    refused, cases = 0, 15 if kind in ALWAYS_REFUSED else 150
    for case in range(cases):
        name = rng.choice(list(seeds))
        data = _mutate(seeds[name], lambda m: STRUCTURED[kind](m, rng))
        refused += load_and_run(data, f"{kind} #{case} in {name}") == "refused"
    # Damaged options or constants may still describe a valid model: then it must run.
    minimum = 10 if kind in ALWAYS_REFUSED else cases // 10
    assert refused >= minimum, f"{kind}: only {refused} of {cases} damaged models were refused"
