"""A synthetic test pattern: colour bars, a moving square and noise, at a fixed rate."""

from __future__ import annotations

import time

import numpy as np

from edge_service.sources.base import FrameSource


class SyntheticSource(FrameSource):
    name = "synthetic"
    live = True

    def __init__(self, width: int = 160, height: int = 120, fps: float = 30.0, frames: int = 0) -> None:
        self.width, self.height, self.interval, self.frames = width, height, 1.0 / fps, frames
        self.count = 0
        self.rng = np.random.default_rng(0)
        self.next_time = 0.0

    def open(self) -> None:
        self.next_time = time.monotonic()

    def read(self) -> tuple[np.ndarray, str] | None:
        if self.frames and self.count >= self.frames:
            return None
        delay = self.next_time - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.next_time = max(self.next_time + self.interval, time.monotonic())
        bars = np.array([[255, 255, 255], [255, 255, 0], [0, 255, 255], [0, 255, 0],
                         [255, 0, 255], [255, 0, 0], [0, 0, 255], [0, 0, 0]], np.uint8)
        columns = np.arange(self.width) * len(bars) // self.width
        image = np.repeat(bars[columns][None], self.height, axis=0).astype(np.int16)
        side = self.height // 3
        x = (self.count * 4) % (self.width - side)
        y = (self.height - side) // 2
        image[y:y + side, x:x + side] = 128
        image += self.rng.integers(-12, 13, image.shape, dtype=np.int16)
        self.count += 1
        return np.clip(image, 0, 255).astype(np.uint8), f"pattern {self.count}"
