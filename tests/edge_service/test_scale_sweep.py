"""Element-wise ops over many random scales and zero points, every int8 input value, live.

Their multipliers come from float arithmetic on the scales that each oracle does its own
way (float32 or double): a few stored models cannot show every rounding, a sweep can.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_service.numpy_interpreter import NumpyInterpreter

CONFIGURATIONS = 60
EVERY_VALUE = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16)


def _graph(kind: str, rng: np.random.Generator) -> bytes:
    from tests.edge_service.graph_builder import GraphBuilder
    g = GraphBuilder()
    scale = lambda: float(np.exp(rng.uniform(np.log(0.002), np.log(0.5))))
    zero = lambda: int(rng.integers(-100, 100))
    x = g.tensor("x", (1, 16, 16), scale=scale(), zero_point=zero())
    other = g.tensor("other", (1, 16, 16), scale=scale(), zero_point=zero(),
                     data=rng.integers(-128, 128, (1, 16, 16)))
    out_scale, out_zero = (1 / 128, 0) if kind == "TANH" else (scale(), zero())
    out = g.tensor("out", (1, 16, 16), scale=out_scale, zero_point=out_zero)
    if kind in ("SUB", "MUL", "ADD"):
        g.op(kind, [x, other], [out], f"{kind.title()}Options", version=2,
             fusedActivationFunction=int(rng.choice([0, 1, 3])))
    elif kind == "PRELU":
        g.op(kind, [x, other], [out])
    elif kind == "LEAKY_RELU":
        g.op(kind, [x], [out], "LeakyReluOptions", version=2, alpha=float(rng.uniform(-0.5, 2.0)))
    else:
        g.op(kind, [x], [out], version=2 if kind == "TANH" else 1)
    return g.build([x], [out])


@pytest.mark.parametrize("kind", ["SUB", "MUL", "ADD", "PRELU", "LEAKY_RELU", "HARD_SWISH", "TANH", "RELU"])
def test_every_input_value_over_random_scales_matches_both_oracles(kind):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tflite_micro")
    from edge_service.errors import ModelError
    from edge_service.oracles import LiteRTOracle, TflmOracle
    rng = np.random.default_rng(sum(map(ord, kind)))
    compared = 0
    for case in range(CONFIGURATIONS):
        model = _graph(kind, rng)
        try:
            ours = {mode: NumpyInterpreter(model, mode).run(EVERY_VALUE)["out"] for mode in ("tflm", "litert-ref")}
        except ModelError:
            continue  # e.g. a hard swish output scale too small: both oracles refuse it too
        for mode, oracle in (("tflm", TflmOracle(model)), ("litert-ref", LiteRTOracle(model))):
            expected = np.asarray(oracle.run(EVERY_VALUE, [2])[2]).reshape(ours[mode].shape)
            np.testing.assert_array_equal(ours[mode], expected, err_msg=f"{kind} case {case} ({mode})")
        compared += 1
    assert compared >= CONFIGURATIONS // 2


@pytest.mark.parametrize("kind", ["RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR"])
def test_resizes_over_random_sizes_and_modes_match_both_oracles(kind):
    """Source positions are float32 (nearest) or 1/1024ths (bilinear): odd ratios probe them."""
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tflite_micro")
    from edge_service.oracles import LiteRTOracle, TflmOracle, sample_inputs
    from tests.edge_service.graph_builder import GraphBuilder
    rng = np.random.default_rng(len(kind))
    for case in range(CONFIGURATIONS):
        in_hw, out_hw = rng.integers(1, 10, 2), rng.integers(1, 24, 2)
        align, half = [(False, False), (True, False), (False, True)][case % 3]
        g = GraphBuilder()
        x = g.tensor("x", (1, *in_hw, 2), scale=0.1, zero_point=3)
        out = g.tensor("out", (1, *out_hw, 2), scale=0.1, zero_point=3)
        g.op(kind, [x, g.constant("size", out_hw)], [out], kind.title().replace("_", "") + "Options",
             version=3, alignCorners=align, halfPixelCenters=half)
        model = g.build([x], [out])
        image = sample_inputs((1, *in_hw, 2), np.int8, 4, seed=case)[-1]
        for mode, oracle in (("tflm", TflmOracle(model)), ("litert-ref", LiteRTOracle(model))):
            got = NumpyInterpreter(model, mode).run(image)["out"]
            expected = np.asarray(oracle.run(image, [out])[out]).reshape(got.shape)
            np.testing.assert_array_equal(got, expected, err_msg=f"{kind} {in_hw}->{out_hw} "
                                                                 f"align={align} half={half} ({mode})")
