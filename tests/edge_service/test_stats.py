"""Layer statistics from the int8 values equal the same statistics of the dequantized values."""

import numpy as np
import pytest

from edge_service.results import dequantize
from edge_service.stats import FrameStatistics, LayerPlan, layer_stats, top_k


@pytest.mark.parametrize("shape, scale, zero_point", [((6, 5, 4), 0.0234, -128), ((10,), 0.5, 3),
                                                      ((3, 3, 7), 0.0039, 17)])
def test_integer_statistics_match_the_dequantized_definition(shape, scale, zero_point):
    q = np.random.default_rng(1).integers(-128, 128, shape, dtype=np.int8)
    real = dequantize(q, scale, zero_point).astype(np.float64)
    by_channel = real.reshape(-1, shape[-1]) if len(shape) > 2 else real.reshape(1, -1)
    stats = layer_stats(q, scale, zero_point)
    assert stats["shape"] == list(shape)
    assert stats["min"] == pytest.approx(real.min(), abs=1e-5) and stats["max"] == pytest.approx(real.max(), abs=1e-5)
    assert stats["mean"] == pytest.approx(real.mean(), abs=1e-5)
    assert stats["active"] == pytest.approx((real > 0).mean(), abs=1e-5)
    np.testing.assert_allclose(stats["channels"]["mean"], by_channel.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(stats["channels"]["min"], by_channel.min(axis=0), atol=1e-4)
    np.testing.assert_allclose(stats["channels"]["active"], (by_channel > 0).mean(axis=0), atol=1e-4)
    assert stats["top_channels"] == [int(c) for c in np.argsort(-by_channel.mean(axis=0), kind="stable")[:3]]


def test_without_per_channel_statistics_only_the_overall_ones_are_kept():
    q = np.zeros((2, 2, 3), np.int8)
    assert "channels" not in layer_stats(q, 0.1, 0, per_channel=False)


def test_top_k_orders_by_score_and_names_labels():
    top = top_k(np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], 2)
    assert [(t["label"], t["index"]) for t in top] == [("b", 1), ("c", 2)]


def reference_stats(q: np.ndarray, scale: float, zero_point: int, top: int = 3) -> dict:
    """The definition, one reduction at a time in float64 over the dequantized values."""
    real = (q.astype(np.float64) - zero_point) * (scale or 1.0)
    by_channel = real.reshape(-1, q.shape[-1]) if q.ndim > 2 else real.reshape(1, -1)
    means = by_channel.mean(axis=0)
    return {"shape": list(q.shape), "min": real.min(), "max": real.max(), "mean": real.mean(),
            "active": (real > 0).mean(), "top_channels": [int(c) for c in np.argsort(-means, kind="stable")[:top]],
            "channels": {"min": by_channel.min(axis=0), "max": by_channel.max(axis=0), "mean": means,
                         "active": (by_channel > 0).mean(axis=0)}}


# Shapes that take every path: folded feature maps, a prime number of positions, more than 255
# rows, a few rows left unfolded, vectors, one channel.
LAYERS = [("folded", (26, 26, 64), np.int8, 0.02, -128), ("prime", (13, 1, 8), np.int8, 0.1, 5),
          ("tall", (480, 2, 3), np.int8, 0.013, -27), ("few", (5, 5, 16), np.int8, 0.5, 0),
          ("vector", (1600,), np.int8, 0.03, -128), ("units", (4, 10), np.int8, 0.25, 2),
          ("unsigned", (30, 30, 4), np.uint8, 0.01, 128), ("wide", (12, 12, 5), np.int16, 0.001, 0),
          ("float", (9, 9, 3), np.float32, 0.0, 0), ("one channel", (64, 64, 1), np.int8, 0.05, -1)]


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("layers", [LAYERS, [layer for layer in LAYERS if layer[2] != np.float32]],
                         ids=["with a float layer", "integer layers"])
def test_one_plan_for_every_layer_equals_the_definition_layer_by_layer(per_channel, layers):
    rng = np.random.default_rng(7)
    outputs, plans = {}, []
    for name, shape, dtype, scale, zero_point in layers:
        if dtype == np.float32:
            outputs[name] = rng.normal(size=shape).astype(np.float32)
        else:
            info = np.iinfo(dtype)
            outputs[name] = rng.integers(max(info.min, -2000), min(info.max, 2000), shape, endpoint=True).astype(dtype)
        plans.append(LayerPlan.of(name, shape, scale, zero_point))
    got = FrameStatistics(plans, per_channel)(outputs)
    assert list(got) == [name for name, *_ in layers]
    for name, shape, dtype, scale, zero_point in layers:
        want = reference_stats(outputs[name], scale, zero_point)
        for key in ("min", "max", "mean", "active"):
            assert got[name][key] == pytest.approx(want[key], abs=1e-5), (name, key)
        assert got[name]["shape"] == want["shape"] and got[name]["top_channels"] == want["top_channels"], name
        assert ("channels" in got[name]) == per_channel
        if per_channel:
            for key, values in want["channels"].items():
                np.testing.assert_allclose(got[name]["channels"][key], values, atol=1e-4, err_msg=f"{name} {key}")


def test_top_channels_break_ties_toward_the_lower_channel():
    q = np.zeros((4, 4, 6), np.int8)
    q[..., 4] = 3  # channel 4 first, then the five equal ones in order
    q[..., 5] = -1
    assert layer_stats(q, 0.1, 0)["top_channels"] == [4, 0, 1]
