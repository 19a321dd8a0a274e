"""Numbers and timestamps frames; skips bad ones; reopens a failing live source with backoff."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator

from edge_service.counters import Counters
from edge_service.errors import FrameError
from edge_service.sources.base import Frame, FrameSource, SourceError

log = logging.getLogger("unseen.source")


class FrameReader:
    """Iterates frames until the source ends, `stop` is set, or retries run out (`max_retries`).

    A file source that cannot be opened, or fails, raises: there is nothing to wait for. A live
    source is reopened with capped exponential backoff; giving up leaves `gave_up` set.
    """

    def __init__(self, source: FrameSource, counters: Counters | None = None, stop: threading.Event | None = None,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, max_retries: int = 0) -> None:
        self.source = source
        self.counters = counters or Counters()
        self.stop = stop or threading.Event()
        self.backoff_initial, self.backoff_max, self.max_retries = backoff_initial, backoff_max, max_retries
        self.frames = 0
        self.gave_up = ""

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
                self.counters.error("bad_frames", str(exc))
                log.warning("skipped a bad frame: %s", exc)
                continue
            except SourceError as exc:
                self.counters.error("source_errors", str(exc))
                self._close_quietly()
                if not self.source.live:
                    raise
                opened = False
                failures_in_a_row += 1
                if self.max_retries and failures_in_a_row > self.max_retries:
                    self.gave_up = (f"source {self.source.name} failed {failures_in_a_row} times in a row "
                                    f"(the first try and {self.max_retries} retries): {exc}")
                    log.error("%s; giving up", self.gave_up)
                    return
                wait = min(delay, self.backoff_max) * random.uniform(0.8, 1.2)
                log.warning("source %s failed (%s); retrying in %.1f s", self.source.name, exc, wait)
                self.stop.wait(wait)
                delay = min(delay * 2, self.backoff_max)
                self.counters.add("reconnects")
                continue
            if got is None:
                break
            failures_in_a_row, delay = 0, self.backoff_initial
            image, label = got
            self.frames += 1
            yield Frame(self.frames, time.time(), image, label)
        self._close_quietly()

    def _close_quietly(self) -> None:
        try:
            self.source.close()
        except Exception as exc:  # a device that fails to close must not stop the service
            log.warning("closing %s failed: %s", self.source.name, exc)
