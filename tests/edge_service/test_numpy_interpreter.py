"""The numpy kernels are bit-exact with TFLite Micro and LiteRT's reference kernels, on every tensor.

First against the stored zoo (tests/edge_service/zoo: models, inputs and both oracles'
outputs of every tensor), which needs only numpy; then live against the oracles, each
such test skipping by itself when its runtime is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_service.errors import FrameError, ModelError
from edge_service.kernels import supported_ops
from edge_service.kernels.registry import MODES
from edge_service.manifest import load_artefact
from edge_service.numpy_interpreter import NumpyInterpreter, written_tensors
from edge_service.oracles import LiteRTOracle, TflmOracle, sample_inputs
from edge_service.tflite_graph import read_graph
from tests.edge_service import zoo_store
from tests.edge_service.model_zoo import LAYER_ZOO, ZOO, build_zoo_model
from tests.edge_service.op_graphs import T, op_graph

STORED = zoo_store.stored_names()
LIVE_INPUTS, LIVE_INPUTS_LARGE = 100, 8


@pytest.fixture(scope="module")
def shipped(shipped_model) -> bytes:
    return load_artefact(shipped_model).model_bytes


def _model(name: str, shipped: bytes) -> bytes:
    return shipped if name == "shipped" else zoo_store.load_model(name)


def test_every_zoo_model_is_stored_and_together_they_cover_every_supported_op():
    assert STORED == ZOO and len(STORED) >= 30
    used = {op.op for name in STORED for op in read_graph(zoo_store.load_model(name)).operators}
    assert used >= set(supported_ops()) - {"PADV2"}  # the converter writes PAD for zero padding


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", STORED)
def test_bit_exact_with_the_stored_references_on_every_tensor(name, mode):
    refs = zoo_store.load_references(name)
    ours = NumpyInterpreter(zoo_store.load_model(name), mode)
    assert sorted(refs.tflm) == sorted(written_tensors(ours.graph))
    for row, x in enumerate(refs.inputs):
        got = ours.run(x, intermediate=True).by_index
        for index in refs.tflm:
            np.testing.assert_array_equal(got[index], refs.expected(mode, index)[row],
                                          err_msg=f"{name} ({mode}), input {row}: tensor {ours.names[index]}")


#: the ops whose kernels follow each oracle's own arithmetic (`mode` branches)
MODE_DEPENDENT = {"FULLY_CONNECTED", "MUL", "CONCATENATION", "PRELU", "TANH"}


def test_the_stored_references_tell_the_two_modes_apart():
    """LiteRT's reference FULLY_CONNECTED requantizes in floating point (TFLM in fixed point),
    and its MUL multiplies the scales in float32 (TFLM in double): a MobileNetV3 shows it."""
    differing = {name: zoo_store.load_references(name).litert for name in STORED}
    differing = {name: tensors for name, tensors in differing.items() if tensors}
    assert {"dense_per_tensor", "mobilenet_v3_small"} <= set(differing)
    for name, tensors in differing.items():
        graph = read_graph(zoo_store.load_model(name))
        assert {graph.producer(i).op for i in tensors} <= MODE_DEPENDENT | _downstream(graph, tensors)


def _downstream(graph, tensors) -> set[str]:
    """Ops fed (directly or not) by a tensor on which the oracles already differ."""
    tainted, ops = set(tensors), set()
    for op in graph.operators:
        if tainted & set(op.inputs):
            tainted |= set(op.outputs)
            ops.add(op.op)
    return ops


@pytest.mark.parametrize("name", STORED)
def test_the_stored_references_are_what_the_oracles_say_today(name):
    pytest.importorskip("tflite_micro")
    pytest.importorskip("ai_edge_litert")
    stored = zoo_store.load_references(name)
    live = zoo_store.make_references(zoo_store.load_model(name), inputs=stored.inputs)
    for table in ("tflm", "litert"):
        a, b = getattr(stored, table), getattr(live, table)
        assert sorted(a) == sorted(b), f"{name}: {table} differs on other tensors"
        for index in a:
            np.testing.assert_array_equal(a[index], b[index], err_msg=f"{name}: {table} tensor {index}")


def _live_check(name: str, model: bytes, mode: str, oracle) -> None:
    ours = NumpyInterpreter(model, mode)
    tensors = written_tensors(ours.graph)
    count = LIVE_INPUTS_LARGE if len(model) > zoo_store.LARGE_MODEL_BYTES else LIVE_INPUTS
    for x in sample_inputs(ours.input.shape, ours.input.dtype, count, seed=1):
        got = ours.run(x, intermediate=True).by_index
        expected = oracle.run(x, tensors)
        for index in tensors:
            np.testing.assert_array_equal(got[index], np.asarray(expected[index]).reshape(got[index].shape),
                                          err_msg=f"{name} ({mode}): tensor {ours.names[index]}")


@pytest.mark.parametrize("name", ["shipped"] + STORED)
def test_bit_exact_live_with_tflite_micro_on_every_tensor(name, shipped):
    pytest.importorskip("tflite_micro")
    model = _model(name, shipped)
    _live_check(name, model, "tflm", TflmOracle(model))


@pytest.mark.parametrize("name", ["shipped"] + STORED)
def test_bit_exact_live_with_litert_reference_kernels_on_every_tensor(name, shipped):
    pytest.importorskip("ai_edge_litert")
    model = _model(name, shipped)
    _live_check(name, model, "litert-ref", LiteRTOracle(model, reference=True))


def test_the_two_oracles_really_differ_on_fully_connected_and_each_mode_follows_its_own():
    pytest.importorskip("tflite_micro")
    pytest.importorskip("ai_edge_litert")
    model = zoo_store.load_model("dense_per_tensor")
    tflm, litert = NumpyInterpreter(model, "tflm"), NumpyInterpreter(model, "litert-ref")
    tflm_oracle, litert_oracle = TflmOracle(model), LiteRTOracle(model)
    fc = [op.outputs[0] for op in tflm.graph.operators if op.op == "FULLY_CONNECTED"]
    disagreements = 0
    for x in sample_inputs(tflm.input.shape, tflm.input.dtype, 600):
        a, b = tflm_oracle.run(x, fc), litert_oracle.run(x, fc)
        ours_a, ours_b = tflm.run(x, True).by_index, litert.run(x, True).by_index
        for i in fc:
            disagreements += int(not np.array_equal(a[i], b[i]))
            np.testing.assert_array_equal(ours_a[i], a[i])
            np.testing.assert_array_equal(ours_b[i], b[i])
    assert disagreements > 0


@pytest.mark.parametrize("name", ["shipped"] + sorted(LAYER_ZOO))
def test_within_one_quantum_of_litert_xnnpack_two_for_add(name, shipped):
    """XNNPACK rounds once in fp32: it is not an oracle, only a close neighbour.

    Each op is fed XNNPACK's own inputs (every layer is an output, so they are readable),
    so a difference in one layer does not compound into the next.
    """
    pytest.importorskip("ai_edge_litert")
    model = _model(name, shipped)
    ours = NumpyInterpreter(model)
    xnnpack = LiteRTOracle(model, reference=False)
    graph = ours.graph
    readable = set(graph.outputs) | set(graph.inputs)
    checked = set()
    for x in sample_inputs(ours.input.shape, ours.input.dtype, 30):
        theirs = xnnpack.run(x, graph.outputs)
        theirs[graph.inputs[0]] = x
        for op in graph.operators:  # a dequantized output gives back its int8 tensor exactly
            if op.op == "DEQUANTIZE" and op.outputs[0] in theirs:
                q = graph.tensors[op.inputs[0]]
                theirs[q.index] = (np.round(theirs[op.outputs[0]] / q.scale) + q.zero_point).astype(np.int8)
                readable.add(q.index)
        for kernel in ours.kernels:
            op = kernel.op
            dynamic = [i for i in op.inputs if i >= 0 and graph.tensors[i].data is None]
            if not set(op.outputs) <= set(theirs) or not set(dynamic) <= readable:
                continue
            args = [theirs[i] if i in theirs else graph.tensors[i].data for i in op.inputs if i >= 0]
            got = kernel.run(*args)
            for out, value in zip(op.outputs, (got,) if kernel.output_count == 1 else got):
                if graph.tensors[out].dtype != np.int8:
                    continue
                diff = np.abs(value.astype(int) - theirs[out].reshape(value.shape).astype(int)).max()
                tolerance = 2 if op.op == "ADD" else 1
                assert diff <= tolerance, f"{name}: {ours.names[out]} ({op.op}) differs by {diff}"
                checked.add(out)
    assert checked, "no layer could be compared"


@pytest.mark.parametrize("name", ["conv_options", "layers_activations_v3", "layers_reshuffles",
                                  "graph_slicing", "resnet8"])
def test_rebuilding_a_zoo_model_gives_the_stored_graph(name):
    pytest.importorskip("tensorflow" if not name.startswith("graph_") else "ai_edge_litert")
    rebuilt, stored = read_graph(build_zoo_model(name)), read_graph(zoo_store.load_model(name))
    assert [(op.op, op.options) for op in rebuilt.operators] == [(op.op, op.options) for op in stored.operators]
    assert [t.shape for t in rebuilt.tensors] == [t.shape for t in stored.tensors]


def test_run_returns_outputs_by_name_and_every_tensor_with_times(shipped):
    ours = NumpyInterpreter(shipped)
    x = sample_inputs(ours.input.shape, ours.input.dtype, 1)[0]
    outputs = ours.run(x)
    assert list(outputs)[:3] == ["conversion", "conv1", "pool1"] and list(outputs)[-1] == "predictions"
    full = ours.run(x, intermediate=True)
    assert list(full.tensors) == [ours.names[op.outputs[0]] for op in ours.graph.operators]
    assert set(full.op_seconds) == set(full.tensors) and all(t >= 0 for t in full.op_seconds.values())
    np.testing.assert_array_equal(full.tensors["predictions"], outputs["predictions"])


def test_every_output_of_a_multi_output_op_is_written_and_timed():
    ours = NumpyInterpreter(zoo_store.load_model("graph_splitting"))
    x = sample_inputs(ours.input.shape, ours.input.dtype, 1)[0]
    full = ours.run(x, intermediate=True)
    assert sorted(full.by_index) == sorted(written_tensors(ours.graph))
    unpack = next(op for op in ours.graph.operators if op.op == "UNPACK")
    assert len(unpack.outputs) == 6 and all(ours.names[i] in full.op_seconds for i in unpack.outputs)
    assert set(ours.run(x)) == {ours.names[i] for i in ours.graph.outputs}


def test_wrong_input_is_a_frame_error(shipped):
    ours = NumpyInterpreter(shipped)
    with pytest.raises(FrameError, match="int8 of shape"):
        ours.run(np.zeros((1, 8, 8, 1), np.int8))
    with pytest.raises(FrameError):
        ours.run(np.zeros(ours.input.shape, np.float32))


def test_unsupported_op_is_named():
    with pytest.raises(ModelError, match="do not support TILE"):
        NumpyInterpreter(op_graph("TILE", [T((2, 2)), T((2,), None, dtype="int32", data=[2, 1])], [T((4, 2))]))


def test_an_op_with_the_wrong_number_of_outputs_is_refused():
    with pytest.raises(ModelError, match="must have 1 output"):
        NumpyInterpreter(op_graph("RELU", [T((2,))], [T((2,)), T((2,))]))


def test_unknown_mode_is_refused(shipped):
    with pytest.raises(ModelError, match="mode"):
        NumpyInterpreter(shipped, mode="fast")
