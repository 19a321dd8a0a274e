"""Which layers go out as pictures, and how often: opt-in, rate-limited, or all at once on `snapshot`."""

from __future__ import annotations

import threading
import time

from edge_service.frame_pictures import picture_names
from edge_service.results import FrameResult


class LayerImagePolicy:
    """`layers`: names to publish ("all" for every one), at most once per `every_seconds`."""

    def __init__(self, layers: list[str] | str = (), every_seconds: float = 5.0) -> None:
        self.lock = threading.Lock()
        self.layers: list[str] | str = layers if layers == "all" else list(layers)
        self.every_seconds = every_seconds
        self.last = 0.0
        self.snapshot = False

    def set_layers(self, layers: list[str] | str) -> None:
        with self.lock:
            self.layers = layers if layers == "all" else list(layers)

    def request_snapshot(self) -> None:
        with self.lock:
            self.snapshot = True

    def layers_for(self, result: FrameResult) -> list[str]:
        with self.lock:
            available = picture_names(result)
            if self.snapshot:
                self.snapshot = False
                return available
            if not self.layers:
                return []
            now = time.monotonic()
            if now - self.last < self.every_seconds:
                return []
            self.last = now
            names = available if self.layers == "all" else self.layers
            return [n for n in names if n in available]
