"""The frame-source interface and the frame it yields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_service.errors import EdgeError


class SourceError(EdgeError):
    """The source itself failed (camera gone, stream stalled); the reader retries with backoff."""


@dataclass
class Frame:
    seq: int
    timestamp: float      # capture time, seconds since the epoch
    image: np.ndarray     # (H, W, 3) uint8 RGB
    label: str = ""       # where it came from: a file name, a camera index


class FrameSource:
    """Yields images one by one. `read` returns (image, label), or None when exhausted.

    A bad frame raises FrameError (counted and skipped); a failing device raises
    SourceError (the reader closes, waits and reopens).
    """

    name = "source"
    live = False  # a live source drops frames when inference is slower; a file source waits

    def open(self) -> None:
        """Acquire the device or list the files."""

    def read(self) -> tuple[np.ndarray, str] | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device."""
