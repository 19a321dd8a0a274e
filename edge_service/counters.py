"""The service's counters: one object, written by the capture thread and the loop, read by the status."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

DROP_CAUSES = ("queue_full", "rate_limit")


@dataclass
class Counters:
    captured: int = 0           # frames the source delivered
    processed: int = 0          # results published (the last `seq`)
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DROP_CAUSES, 0))
    bad_frames: int = 0         # unreadable or unacceptable images, skipped
    source_errors: int = 0      # the source itself failed (camera gone, stream stalled)
    reconnects: int = 0
    inference_errors: int = 0
    sink_errors: int = 0
    fps: float = 0.0
    last_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, amount: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + amount)

    def drop(self, cause: str) -> None:
        with self.lock:
            self.dropped[cause] += 1

    def error(self, name: str, message: str) -> None:
        """Counts a failure and keeps its message as the last error the status shows."""
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)
            self.last_error = message

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def snapshot(self) -> dict:
        with self.lock:
            data = {k: v for k, v in vars(self).items() if k != "lock"}
            data["dropped"] = dict(self.dropped)
        data["fps"] = round(data["fps"], 2)
        return data

    def summary(self) -> str:
        """The one line `serve` ends with; the same numbers the status carries."""
        d = self.dropped
        return (f"{self.processed} frames processed, {self.dropped_total} dropped ({d['queue_full']} queue full, "
                f"{d['rate_limit']} rate limit), {self.bad_frames} bad, {self.inference_errors} failed")
