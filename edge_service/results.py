"""One processed frame: what sinks publish, as JSON and as arrays for pictures."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import numpy as np


@dataclass
class FullResolution:
    """Seed 000's layers of the whole frame: conversion.tflite's int8 output (H, W, K) and its names."""

    layers: np.ndarray
    scale: float
    zero_point: int
    names: list[str]

    def real(self) -> np.ndarray:
        return dequantize(self.layers, self.scale, self.zero_point)


@dataclass
class FrameResult:
    seq: int
    captured_at: float
    source: str
    backend: str
    top: list[dict]
    layers: dict[str, dict]                     # layer name -> statistics
    latency_ms: dict[str, float | dict]
    image: np.ndarray                           # the camera frame, RGB uint8
    model_input: np.ndarray                     # what the model saw, uint8 (H, W) or (H, W, 3)
    outputs: dict[str, np.ndarray]              # layer name -> int8 output (batch removed)
    quantization: dict[str, tuple[float, int]]  # layer name -> (scale, zero point)
    model_sha256: str = ""
    fullres: FullResolution | None = None       # the conversion layers at the frame's own resolution
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _values: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def values(self) -> dict[str, np.ndarray]:
        """Dequantized layer outputs, computed on first use: only a sink that draws pays for them."""
        if self._values is None:
            self._values = {name: dequantize(q, *self.quantization[name]) for name, q in self.outputs.items()}
        return self._values

    def to_json(self, device_id: str) -> dict:
        return {
            "id": self.id, "device": device_id, "seq": self.seq,
            "time": dt.datetime.fromtimestamp(self.captured_at, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "source": self.source, "model_sha256": self.model_sha256, "backend": self.backend,
            "top": self.top, "layers": self.layers, "latency_ms": self.latency_ms,
        }


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    if not scale:  # a float (or plain integer) tensor already holds its values
        return q.astype(np.float32)
    return (q.astype(np.float32) - zero_point) * np.float32(scale)
