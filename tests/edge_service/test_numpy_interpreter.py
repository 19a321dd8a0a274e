"""The numpy kernels are bit-exact with TFLite Micro and LiteRT's reference kernels, on every tensor."""

from __future__ import annotations

import numpy as np
import pytest

from edge_service.errors import FrameError, ModelError
from edge_service.kernels import supported_ops
from edge_service.manifest import load_artefact
from edge_service.numpy_interpreter import NumpyInterpreter
from tests.edge_service.model_zoo import ZOO, build_zoo_model
from edge_service.oracles import LiteRTOracle, TflmOracle, sample_inputs

pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")
pytest.importorskip("ai_edge_litert")

INPUTS_PER_MODEL = 100
ALL_MODELS = ["shipped"] + list(ZOO)


@pytest.fixture(scope="module")
def models(shipped_model) -> dict[str, bytes]:
    zoo = {name: build_zoo_model(name) for name in ZOO}
    return {"shipped": load_artefact(shipped_model).model_bytes, **zoo}


def _written_tensors(interpreter: NumpyInterpreter) -> list[int]:
    return [op.outputs[0] for op in interpreter.graph.operators]


def _inputs(interpreter: NumpyInterpreter, count: int = INPUTS_PER_MODEL):
    return sample_inputs(interpreter.input.shape, interpreter.input.dtype, count)


def test_the_zoo_covers_every_supported_op(models):
    used = {op.op for model in models.values() for op in NumpyInterpreter(model).graph.operators}
    assert used >= set(supported_ops()) - {"PADV2"}  # the converter emits PAD for zero padding
    assert len(models) >= 10


@pytest.mark.parametrize("name", ALL_MODELS)
def test_bit_exact_with_tflite_micro_on_every_tensor(models, name):
    ours = NumpyInterpreter(models[name], mode="tflm")
    oracle = TflmOracle(models[name])
    tensors = _written_tensors(ours)
    for x in _inputs(ours):
        got = ours.run(x, intermediate=True).by_index
        expected = oracle.run(x, tensors)
        for index in tensors:
            np.testing.assert_array_equal(got[index], expected[index].reshape(got[index].shape),
                                          err_msg=f"{name}: tensor {ours.names[index]}")


@pytest.mark.parametrize("name", ALL_MODELS)
def test_bit_exact_with_litert_reference_kernels_on_every_tensor(models, name):
    ours = NumpyInterpreter(models[name], mode="litert-ref")
    oracle = LiteRTOracle(models[name], reference=True)
    tensors = _written_tensors(ours)
    for x in _inputs(ours):
        got = ours.run(x, intermediate=True).by_index
        expected = oracle.run(x, tensors)
        for index in tensors:
            np.testing.assert_array_equal(got[index], expected[index],
                                          err_msg=f"{name}: tensor {ours.names[index]}")


def test_the_two_oracles_really_differ_on_fully_connected_and_each_mode_follows_its_own(models):
    """LiteRT's reference FC requantizes in floating point; TFLM in fixed point."""
    model = models["dense_per_tensor"]
    tflm, litert = NumpyInterpreter(model, "tflm"), NumpyInterpreter(model, "litert-ref")
    tflm_oracle, litert_oracle = TflmOracle(model), LiteRTOracle(model)
    fc = [op.outputs[0] for op in tflm.graph.operators if op.op == "FULLY_CONNECTED"]
    disagreements = 0
    for x in _inputs(tflm, 600):
        a, b = tflm_oracle.run(x, fc), litert_oracle.run(x, fc)
        ours_a, ours_b = tflm.run(x, True).by_index, litert.run(x, True).by_index
        for i in fc:
            disagreements += int(not np.array_equal(a[i], b[i]))
            np.testing.assert_array_equal(ours_a[i], a[i])
            np.testing.assert_array_equal(ours_b[i], b[i])
    assert disagreements > 0


@pytest.mark.parametrize("name", ALL_MODELS)
def test_within_one_quantum_of_litert_xnnpack_two_for_add(models, name):
    """XNNPACK rounds once in fp32: it is not an oracle, only a close neighbour.

    Each op is fed XNNPACK's own inputs (every layer is an output, so they are readable),
    so a difference in one layer does not compound into the next.
    """
    ours = NumpyInterpreter(models[name])
    xnnpack = LiteRTOracle(models[name], reference=False)
    graph = ours.graph
    readable = set(graph.outputs) | set(graph.inputs)
    checked = set()
    for x in _inputs(ours, 30):
        theirs = xnnpack.run(x, graph.outputs)
        theirs[graph.inputs[0]] = x
        for op in graph.operators:  # a dequantized output gives back its int8 tensor exactly
            if op.op == "DEQUANTIZE" and op.outputs[0] in theirs:
                q = graph.tensors[op.inputs[0]]
                theirs[q.index] = (np.round(theirs[op.outputs[0]] / q.scale) + q.zero_point).astype(np.int8)
                readable.add(q.index)
        for kernel in ours.kernels:
            op = kernel.op
            out = op.outputs[0]
            dynamic = [i for i in op.inputs if i >= 0 and graph.tensors[i].data is None]
            if out not in theirs or not set(dynamic) <= readable or graph.tensors[out].dtype != np.int8:
                continue
            args = [theirs[i] if i in theirs else graph.tensors[i].data for i in op.inputs if i >= 0]
            got = kernel.run(*args)
            diff = np.abs(got.astype(int) - theirs[out].reshape(got.shape).astype(int)).max()
            tolerance = 2 if op.op == "ADD" else 1
            assert diff <= tolerance, f"{name}: {ours.names[out]} ({op.op}) differs by {diff}"
            checked.add(out)
    assert checked, "no layer could be compared"


def test_run_returns_outputs_by_name_and_every_tensor_with_times(models):
    ours = NumpyInterpreter(models["shipped"])
    x = _inputs(ours, 1)[0]
    outputs = ours.run(x)
    assert list(outputs)[:3] == ["conversion", "conv1", "pool1"] and list(outputs)[-1] == "predictions"
    full = ours.run(x, intermediate=True)
    assert list(full.tensors) == [ours.names[op.outputs[0]] for op in ours.graph.operators]
    assert set(full.op_seconds) == set(full.tensors) and all(t >= 0 for t in full.op_seconds.values())
    np.testing.assert_array_equal(full.tensors["predictions"], outputs["predictions"])


def test_wrong_input_is_a_frame_error(models):
    ours = NumpyInterpreter(models["shipped"])
    with pytest.raises(FrameError, match="int8 of shape"):
        ours.run(np.zeros((1, 8, 8, 1), np.int8))
    with pytest.raises(FrameError):
        ours.run(np.zeros(ours.input.shape, np.float32))


def test_unsupported_op_is_named():
    import keras
    from training.quantize import quantize_every_layer
    inputs = keras.Input((4, 4, 1), batch_size=1)
    outputs = [keras.layers.Activation("tanh", name="tanh")(inputs)]
    model = quantize_every_layer(keras.Model(inputs, outputs), np.random.rand(5, 4, 4, 1).astype("float32"),
                                 progress=lambda _: None, names=["tanh"])
    with pytest.raises(ModelError, match="do not support TANH"):
        NumpyInterpreter(model)


def test_unknown_mode_is_refused(models):
    with pytest.raises(ModelError, match="mode"):
        NumpyInterpreter(models["shipped"], mode="fast")
