"""What a frame's layers say, in numbers: per-channel and overall statistics, top-k labels."""

from __future__ import annotations

import numpy as np

from edge_service.manifest import LayerInfo


def dequantize(q: np.ndarray, layer: LayerInfo) -> np.ndarray:
    if not layer.scale:  # a float (or plain integer) tensor already holds its values
        return q.astype(np.float32)
    return (q.astype(np.float32) - layer.zero_point) * np.float32(layer.scale)


def channel_view(values: np.ndarray) -> np.ndarray:
    """(positions, channels): feature maps by channel, a vector as one position per unit."""
    return values.reshape(-1, values.shape[-1]) if values.ndim > 2 else values.reshape(1, -1)


def layer_stats(values: np.ndarray, top: int = 3, per_channel: bool = True) -> dict:
    """min, max, mean and the fraction of values above zero ("active"), overall and per channel.

    The most active channels are those with the highest mean.
    """
    by_channel = channel_view(values).astype(np.float64)  # float32 would print 0.8506000041
    means = by_channel.mean(axis=0)
    stats = {
        "shape": list(values.shape),
        "min": round(float(values.min()), 5), "max": round(float(values.max()), 5),
        "mean": round(float(values.mean()), 5), "active": round(float((values > 0).mean()), 5),
        "top_channels": [int(c) for c in np.argsort(-means, kind="stable")[:top]],
    }
    if per_channel:
        stats["channels"] = {
            "min": np.round(by_channel.min(axis=0), 4).tolist(),
            "max": np.round(by_channel.max(axis=0), 4).tolist(),
            "mean": np.round(means, 4).tolist(),
            "active": np.round((by_channel > 0).mean(axis=0), 4).tolist(),
        }
    return stats


def top_k(scores: np.ndarray, labels: list[str], k: int) -> list[dict]:
    scores = np.asarray(scores, np.float64).ravel()
    order = np.argsort(-scores, kind="stable")[:k]
    return [{"label": labels[i] if i < len(labels) else str(i), "index": int(i),
             "score": round(float(scores[i]), 5)} for i in order]
