"""Numbers and timestamps frames; skips bad ones; reopens a failing source with backoff."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from edge_service.errors import FrameError
from edge_service.sources.base import Frame, FrameSource, SourceError

log = logging.getLogger("unseen.source")


@dataclass
class SourceCounters:
    frames: int = 0
    bad_frames: int = 0
    source_errors: int = 0
    reconnects: int = 0
    last_error: str = ""


class FrameReader:
    """Iterates frames until the source ends, `stop` is set, or retries run out (`max_retries`)."""

    def __init__(self, source: FrameSource, stop: threading.Event | None = None,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, max_retries: int = 0) -> None:
        self.source = source
        self.stop = stop or threading.Event()
        self.backoff_initial, self.backoff_max, self.max_retries = backoff_initial, backoff_max, max_retries
        self.counters = SourceCounters()

    def __iter__(self) -> Iterator[Frame]:
        delay = self.backoff_initial
        failures_in_a_row = 0
        opened = False
        while not self.stop.is_set():
            try:
                if not opened:
                    self.source.open()
                    opened = True
                got = self.source.read()
            except FrameError as exc:
                self.counters.bad_frames += 1
                self.counters.last_error = str(exc)
                log.warning("skipped a bad frame: %s", exc)
                continue
            except SourceError as exc:
                self.counters.source_errors += 1
                self.counters.last_error = str(exc)
                failures_in_a_row += 1
                self._close_quietly()
                opened = False
                if self.max_retries and failures_in_a_row > self.max_retries:
                    log.error("source %s failed %d times in a row, giving up: %s",
                              self.source.name, failures_in_a_row, exc)
                    return
                wait = min(delay, self.backoff_max) * random.uniform(0.8, 1.2)
                log.warning("source %s failed (%s); retrying in %.1f s", self.source.name, exc, wait)
                self.stop.wait(wait)
                delay = min(delay * 2, self.backoff_max)
                self.counters.reconnects += 1
                continue
            if got is None:
                break
            failures_in_a_row, delay = 0, self.backoff_initial
            image, label = got
            self.counters.frames += 1
            yield Frame(self.counters.frames, time.time(), image, label)
        self._close_quietly()

    def _close_quietly(self) -> None:
        try:
            self.source.close()
        except Exception as exc:  # a device that fails to close must not stop the service
            log.warning("closing %s failed: %s", self.source.name, exc)
