"""The kernels' fast paths equal the integer arithmetic they replace, and are the ones that run."""

from __future__ import annotations

import numpy as np
import pytest

from edge_service.kernels.fixedpoint import get_reciprocal, quantize_multiplier
from edge_service.kernels.float_requant import FloatRequant
from edge_service.kernels.softmax import reciprocal
from edge_service.manifest import load_artefact
from edge_service.numpy_interpreter import NumpyInterpreter


def _random_requant(rng: np.random.Generator, case: int) -> FloatRequant:
    channels = 3
    reals = np.exp(rng.uniform(np.log(1e-7), np.log(3.0), channels))
    if case % 10 == 0:
        reals[:] = 2.0 ** -float(rng.integers(1, 20))            # multiplier exactly 2^30
    pairs = [quantize_multiplier(float(r)) for r in reals]
    multiplier = np.array([p[0] for p in pairs])
    if case % 5 == 1:
        multiplier = multiplier * 8 // rng.integers(9, 200, channels)  # MEAN folds 1/count in
    shift = np.array([p[1] for p in pairs])
    zero_point = int(rng.integers(-128, 128))
    lo, hi = (-128, 127) if case % 3 else (max(-128, zero_point), 127)
    if case % 7 == 0:
        lo, hi = max(-128, zero_point), min(127, zero_point + int(rng.integers(0, 200)))
    span = int(min(1 << 17, 600 / reals.min()))
    return FloatRequant(multiplier, shift, rng.integers(-span, span, channels), zero_point, lo, hi,
                        -rng.integers(0, span, channels), rng.integers(0, span, channels))


def test_float_requantization_equals_the_integer_kernel_on_every_allowed_accumulator():
    rng = np.random.default_rng(1)
    exact = 0
    for case in range(120):
        r = _random_requant(rng, case)
        if not r.exact:
            continue
        exact += 1
        acc = np.minimum(r.acc_min[None] + np.arange(int((r.acc_max - r.acc_min).max()) + 1)[:, None],
                         r.acc_max[None])
        np.testing.assert_array_equal(r.apply(acc.astype(np.float32)), r.integer(acc), err_msg=f"case {case}")
    assert exact >= 110  # the check at load passes for ordinary layers


def test_the_check_at_load_refuses_a_constant_one_unit_off():
    r = FloatRequant([1395864371], [-9], [0], -128, -128, 127, [-40000], [400000])
    assert r.exact
    r.const = r.const + r.scale / 2  # half an accumulator step too high
    r.__dict__.pop("_tiles", None)
    assert not r.verify()


def test_softmax_reciprocal_in_python_integers_equals_the_numpy_fixed_point_one():
    rng = np.random.default_rng(0)
    totals = np.concatenate([np.arange(1 << 19, (1 << 19) + 2000), rng.integers(1 << 19, 1 << 31, 20000),
                             [(1 << 31) - 1, 1 << 30]])
    values, bits = get_reciprocal(totals, 12)
    assert [reciprocal(t, 12) for t in totals.tolist()] == list(zip(values.tolist(), bits.tolist()))


def test_the_shipped_model_runs_every_layer_on_the_fast_path(shipped_model):
    interpreter = NumpyInterpreter(load_artefact(shipped_model).model_bytes)
    slow = [k.op.op for k in interpreter.kernels if getattr(k, "fast", True) is None]
    assert slow == []


@pytest.mark.parametrize("mode", ["tflm", "litert-ref"])
def test_mobilenet_convolutions_run_on_the_fast_path(mode):
    pytest.importorskip("tensorflow")
    from training.reference_models import cached_mobilenet_v2
    interpreter = NumpyInterpreter(cached_mobilenet_v2(), mode)
    slow = [k.op.op for k in interpreter.kernels if getattr(k, "fast", True) is None]
    # LiteRT's reference FULLY_CONNECTED rounds in floating point: it keeps its own path.
    assert slow == ([] if mode == "tflm" else ["FULLY_CONNECTED"])


def test_max_pool_pairs_equal_the_per_tap_maxima(shipped_model):
    interpreter = NumpyInterpreter(load_artefact(shipped_model).model_bytes)
    pools = [k for k in interpreter.kernels if k.op.op == "MAX_POOL_2D"]
    assert pools and all(k.pairs for k in pools)  # 26 -> 13 and 11 -> 5 (the last row and column dropped)
    rng = np.random.default_rng(0)
    for kernel in pools:
        x = rng.integers(-128, 128, kernel.input_shape).astype(np.int8)
        np.testing.assert_array_equal(kernel.run_pairs(x), kernel.run_taps(x))
