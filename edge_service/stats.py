"""What a frame's layers say, in numbers: per-channel and overall statistics, top-k labels.

Computed on the int8 values themselves (integer reductions) and dequantized once at the end:
dequantization is increasing (scale > 0), so min, max and "active" (above zero, i.e. above the
zero point) carry over exactly, and a mean is its integer sum rescaled.

`FrameStatistics` is planned once per model so that a frame costs a few numpy calls per layer:
a reduction over the first axis of a (positions, channels) array walks one short row at a time,
so each layer is folded first into a few long rows (a divisor of its positions, at most 255, so
int8 sums fit int16 and counts fit uint8) and reduced in two steps; every layer's per-channel
results are then dequantized, rounded and listed in one pass over all layers together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edge_service.manifest import LayerInfo
from edge_service.results import dequantize as _dequantize

_MAX_FOLD = 255  # rows summed in the narrow accumulators: 255 * 128 fits int16, 255 fits uint8
_SET_ASIDE = -float(1 << 62)  # below every key (they stay within 2^53)


def dequantize(q: np.ndarray, layer: LayerInfo) -> np.ndarray:
    return _dequantize(q, layer.scale, layer.zero_point)


def positions_and_channels(shape: tuple[int, ...]) -> tuple[int, int]:
    """Feature maps count each channel over their positions; a vector is one position per unit."""
    size = math.prod(shape)
    return (size // shape[-1], shape[-1]) if len(shape) > 2 else (1, size)


@dataclass(frozen=True)
class LayerPlan:
    """One layer's place in the frame's statistics: its shape, quantization and reduction fold."""

    name: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    positions: int
    channels: int
    fold: int

    @classmethod
    def of(cls, name: str, shape: tuple[int, ...], scale: float, zero_point: int) -> LayerPlan:
        positions, channels = positions_and_channels(tuple(shape))
        return cls(name, tuple(shape), scale or 1.0, zero_point, positions, channels, _fold(positions))


def _fold(positions: int) -> int:
    """The largest divisor of `positions` up to its square root and 255: rows of the first step.

    A few dozen rows are reduced as fast directly, so those are not folded."""
    if positions <= 32:
        return 1
    for d in range(min(math.isqrt(positions), _MAX_FOLD), 1, -1):
        if positions % d == 0:
            return d
    return 1


def _narrow(dtype: np.dtype) -> tuple[np.dtype, np.dtype]:
    """Accumulators for a first step of at most 255 rows, and for the second step."""
    if dtype == np.int8:
        return np.dtype(np.int16), np.dtype(np.int64)
    if dtype == np.uint8:
        return np.dtype(np.uint16), np.dtype(np.int64)
    wide = np.dtype(np.int64) if np.issubdtype(dtype, np.integer) else np.dtype(np.float64)
    return wide, wide


def _rows(q: np.ndarray, plan: LayerPlan) -> np.ndarray:
    """The first step's rows: (fold, positions / fold * channels), or (positions, channels) unfolded."""
    x = q.reshape(plan.positions, plan.channels)
    return x.reshape(plan.fold, -1) if plan.fold > 1 else x


def _finish(partial: np.ndarray, plan: LayerPlan, reduce, dtype=None) -> np.ndarray:
    """The second step: the folded rows' partial results reduced to one per channel."""
    if plan.fold == 1:
        return partial
    return reduce(partial.reshape(-1, plan.channels), axis=0, dtype=dtype)


def channel_sums(q: np.ndarray, plan: LayerPlan) -> np.ndarray:
    if plan.positions == 1:  # a vector: each unit is its own channel
        return q.reshape(-1)
    first, second = _narrow(q.dtype)
    partial = np.add.reduce(_rows(q, plan), axis=0, dtype=first if plan.fold > 1 else second)
    return _finish(partial, plan, np.add.reduce, second)


def channel_reductions(q: np.ndarray, plan: LayerPlan) -> tuple[np.ndarray, ...]:
    """Per channel: min, max, sum and the count of values above the zero point."""
    if plan.positions == 1:
        x = q.reshape(-1)
        return x, x, x, (x > plan.zero_point).view(np.uint8)
    rows = _rows(q, plan)
    above = np.greater(rows, plan.zero_point).view(np.uint8)
    count = np.add.reduce(above, axis=0, dtype=np.uint8 if plan.fold > 1 else np.int64)
    return (_finish(rows.min(axis=0), plan, np.minimum.reduce), _finish(rows.max(axis=0), plan, np.maximum.reduce),
            channel_sums(q, plan), _finish(count, plan, np.add.reduce, np.int64))


class FrameStatistics:
    """Every layer's statistics of one frame: min, max, mean, active fraction, top channels."""

    def __init__(self, layers: list[LayerPlan], per_channel: bool = True, top: int = 3) -> None:
        self.layers, self.per_channel, self.top = layers, per_channel, top
        channels = np.array([layer.channels for layer in layers])
        sizes = [layer.positions * layer.channels for layer in layers]
        self.starts = np.concatenate([[0], np.cumsum(channels)[:-1]]).astype(np.intp)
        self.bounds = [(int(s), int(s + c)) for s, c in zip(self.starts, channels)]
        self.value_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        self.value_bounds = [(int(s), int(s + n)) for s, n in zip(self.value_starts, sizes)]
        self.scale = np.array([layer.scale for layer in layers], np.float64)
        self.zero_point = np.array([layer.zero_point for layer in layers], np.float64)
        self.totals = np.array(sizes, np.float64)
        self.channel_scale = np.repeat(self.scale, channels)
        self.channel_zero_point = np.repeat(self.zero_point, channels)
        self.channel_positions = np.repeat([float(layer.positions) for layer in layers], channels)
        self.value_zero_point = np.repeat(self.zero_point, sizes)
        self._zero_points: dict[np.dtype, np.ndarray] = {}
        self.kept = np.minimum(channels, top).tolist()  # how many top channels each layer has
        # a power of two above every layer's channel count: key = sum * spread - index
        self.spread = float(1 << int(channels.max(initial=1)).bit_length())
        self.channel_offset = np.concatenate([np.arange(c) for c in channels]).astype(np.float64)

    def __call__(self, outputs: dict[str, np.ndarray]) -> dict[str, dict]:
        arrays = [outputs[layer.name] for layer in self.layers]
        if self.per_channel:
            parts = [channel_reductions(q, layer) for q, layer in zip(arrays, self.layers)]
            mins, maxs, sums, active = (np.concatenate([p[k] for p in parts], dtype=np.float64) for k in range(4))
            lo, hi = np.minimum.reduceat(mins, self.starts), np.maximum.reduceat(maxs, self.starts)
            above = np.add.reduceat(active, self.starts)
        else:  # the overall figures straight from all the values at once; per-channel sums for the top
            sums = np.concatenate([channel_sums(q, layer) for q, layer in zip(arrays, self.layers)], dtype=np.float64)
            lo, hi, above = self._flat(arrays)
        overall = self._overall(lo, hi, np.add.reduceat(sums, self.starts), above)
        # 8- and 16-bit values keep every sum * spread far below 2^53
        narrow = all(q.dtype.kind in "iu" and q.dtype.itemsize <= 2 for q in arrays)  # issubdtype: 5x slower
        tops = self._top_channels(sums, narrow)
        stats = {layer.name: {"shape": list(layer.shape), "min": lo, "max": hi, "mean": mean, "active": act,
                              "top_channels": top}
                 for layer, lo, hi, mean, act, top in zip(self.layers, *overall, tops)}
        if self.per_channel:
            for layer, channels in zip(self.layers, self._per_channel(mins, maxs, sums, active)):
                stats[layer.name]["channels"] = channels
        return stats

    def _flat(self, arrays: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        """Each layer's min, max and count above its zero point, from one buffer of every value."""
        values = np.concatenate([q.reshape(-1) for q in arrays])
        zero_point = self._zero_points.get(values.dtype)
        if zero_point is None:
            zero_point = self._zero_points[values.dtype] = self.value_zero_point.astype(values.dtype)
        above = np.greater(values, zero_point)
        counts = [np.count_nonzero(above[a:b]) for a, b in self.value_bounds]
        return (np.minimum.reduceat(values, self.value_starts).astype(np.float64),
                np.maximum.reduceat(values, self.value_starts).astype(np.float64), np.array(counts, np.float64))

    def _real(self, q: np.ndarray) -> np.ndarray:
        return (q - self.channel_zero_point) * self.channel_scale

    def _overall(self, lo, hi, sums, above) -> tuple[list, ...]:
        """Per layer, from its min, max, sum and count in integer units: the real figures, rounded."""
        real = np.stack([(lo - self.zero_point) * self.scale, (hi - self.zero_point) * self.scale,
                         (sums / self.totals - self.zero_point) * self.scale, above / self.totals])
        return tuple(np.round(real, 5).tolist())

    def _top_channels(self, sums: np.ndarray, narrow: bool) -> list[list[int]]:
        """The channels of highest mean per layer, ties to the lower index.

        With sums of narrow integers each channel's key is its sum times `spread` less its index,
        exact in float64: one maximum per layer then names both the best channel and, among
        equals, the first. `top` rounds of that, setting each pick aside, beat sorting them all."""
        if not narrow:  # float or 32-bit layers: sort each
            return [np.argsort(-sums[a:b], kind="stable")[:kept].tolist()
                    for (a, b), kept in zip(self.bounds, self.kept)]
        keys = sums * self.spread - self.channel_offset
        picks = []
        for _ in range(self.top):
            best = np.maximum.reduceat(keys, self.starts)
            index = np.mod(-best, self.spread).astype(np.intp)
            picks.append(index.tolist())
            keys[self.starts + index] = _SET_ASIDE  # a multiple of spread: an exhausted layer picks 0 again
        return [[rank[i] for rank in picks[:kept]] for i, kept in enumerate(self.kept)]

    def _per_channel(self, mins, maxs, sums, active) -> list[dict]:
        """Each layer's channel figures as lists. A vector's unit is one value: its min, max and
        mean are the same numbers, listed once and shared (listing floats is most of the cost)."""
        columns = {"min": self._real(mins), "max": self._real(maxs),
                   "mean": self._real(sums / self.channel_positions), "active": active / self.channel_positions}
        rounded = {key: np.round(values, 4) for key, values in columns.items()}
        layers = []
        for layer, (start, end) in zip(self.layers, self.bounds):
            if layer.positions == 1:
                values = rounded["min"][start:end].tolist()
                layers.append({"min": values, "max": values, "mean": values,
                               "active": rounded["active"][start:end].tolist()})
            else:
                layers.append({key: values[start:end].tolist() for key, values in rounded.items()})
        return layers


def layer_stats(q: np.ndarray, scale: float, zero_point: int, top: int = 3, per_channel: bool = True) -> dict:
    """The statistics of one array (a frame's full-resolution layers, a test's tensor)."""
    plan = LayerPlan.of("layer", q.shape, scale, zero_point)
    return FrameStatistics([plan], per_channel, top)({"layer": q})["layer"]


def top_k(scores: np.ndarray, labels: list[str], k: int) -> list[dict]:
    scores = np.asarray(scores, np.float64).ravel()
    order = np.argsort(-scores, kind="stable")[:k]
    return [{"label": labels[i] if i < len(labels) else str(i), "index": int(i),
             "score": round(float(scores[i]), 5)} for i in order]
