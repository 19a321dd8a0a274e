"""A model made elsewhere: MobileNetV2-0.35 at 96x96, bit-exact on every tensor in both modes."""

from __future__ import annotations

import numpy as np
import pytest

from edge_service.numpy_interpreter import NumpyInterpreter
from edge_service.oracles import LiteRTOracle, TflmOracle, sample_inputs

INPUTS = 6


@pytest.fixture(scope="module")
def mobilenet() -> bytes:
    pytest.importorskip("tensorflow")
    from training.reference_models import cached_mobilenet_v2
    return cached_mobilenet_v2()


def _check(ours: NumpyInterpreter, oracle, what: str) -> None:
    tensors = [op.outputs[0] for op in ours.graph.operators]
    for x in sample_inputs(ours.input.shape, ours.input.dtype, INPUTS):
        got = ours.run(x, intermediate=True).by_index
        expected = oracle.run(x, tensors)
        for index in tensors:
            np.testing.assert_array_equal(got[index], expected[index].reshape(got[index].shape),
                                          err_msg=f"{what}: tensor {ours.names[index]}")


def test_mobilenet_v2_bit_exact_with_tflite_micro(mobilenet):
    pytest.importorskip("tflite_micro")
    _check(NumpyInterpreter(mobilenet, "tflm"), TflmOracle(mobilenet), "tflm")


def test_mobilenet_v2_bit_exact_with_litert_reference_kernels(mobilenet):
    pytest.importorskip("ai_edge_litert")
    _check(NumpyInterpreter(mobilenet, "litert-ref"), LiteRTOracle(mobilenet, reference=True), "litert-ref")


def test_mobilenet_v2_has_the_ops_it_is_meant_to_exercise(mobilenet):
    ops = {op.op for op in NumpyInterpreter(mobilenet).graph.operators}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED"} <= ops
