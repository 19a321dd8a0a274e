"""Layer statistics from the int8 values equal the same statistics of the dequantized values."""

import numpy as np
import pytest

from edge_service.results import dequantize
from edge_service.stats import layer_stats, top_k


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
