"""What a frame's layers say, in numbers: per-channel and overall statistics, top-k labels.

Computed on the int8 values themselves (integer reductions) and dequantized once at the end:
dequantization is increasing (scale > 0), so min, max and "active" (above zero, i.e. above the
zero point) carry over exactly, and a mean is its integer sum rescaled.
"""

from __future__ import annotations

import numpy as np

from edge_service.manifest import LayerInfo
from edge_service.results import dequantize as _dequantize


def dequantize(q: np.ndarray, layer: LayerInfo) -> np.ndarray:
    return _dequantize(q, layer.scale, layer.zero_point)


def channel_view(values: np.ndarray) -> np.ndarray:
    """(positions, channels): feature maps by channel, a vector as one position per unit."""
    return values.reshape(-1, values.shape[-1]) if values.ndim > 2 else values.reshape(1, -1)


def _real(q, scale: float, zero_point: int) -> np.ndarray:
    return (np.asarray(q, np.float64) - zero_point) * (scale or 1.0)  # scale 0: a float tensor


def layer_stats(q: np.ndarray, scale: float, zero_point: int, top: int = 3, per_channel: bool = True) -> dict:
    """min, max, mean and the fraction of values above zero ("active"), overall and per channel.

    The most active channels are those with the highest mean.
    """
    by_channel = channel_view(q)
    positions = by_channel.shape[0]
    mins, maxs = by_channel.min(axis=0), by_channel.max(axis=0)
    sums = by_channel.sum(axis=0, dtype=np.int64 if np.issubdtype(q.dtype, np.integer) else np.float64)
    active = np.count_nonzero(by_channel > zero_point, axis=0)
    total = q.size
    stats = {
        "shape": list(q.shape),
        "min": round(float(_real(mins.min(), scale, zero_point)), 5),
        "max": round(float(_real(maxs.max(), scale, zero_point)), 5),
        "mean": round(float(_real(sums.sum() / total, scale, zero_point)), 5),
        "active": round(float(active.sum() / total), 5),
        "top_channels": [int(c) for c in np.argsort(-sums, kind="stable")[:top]],
    }
    if per_channel:
        stats["channels"] = {
            "min": np.round(_real(mins, scale, zero_point), 4).tolist(),
            "max": np.round(_real(maxs, scale, zero_point), 4).tolist(),
            "mean": np.round(_real(sums / positions, scale, zero_point), 4).tolist(),
            "active": np.round(active / positions, 4).tolist(),
        }
    return stats


def top_k(scores: np.ndarray, labels: list[str], k: int) -> list[dict]:
    scores = np.asarray(scores, np.float64).ravel()
    order = np.argsort(-scores, kind="stable")[:k]
    return [{"label": labels[i] if i < len(labels) else str(i), "index": int(i),
             "score": round(float(scores[i]), 5)} for i in order]
