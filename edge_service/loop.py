"""The service loop: capture -> bounded queue -> analyzer -> sinks, with rate, pause and status.

A capture thread fills a bounded queue. A live source (camera, stream) never waits: when the
loop is slower, the oldest waiting frame is dropped and counted by cause (queue full, or skipped
while the rate limit holds the loop back). A file source waits for room, so every file is
processed. Results are numbered without gaps; only the status counts what was not processed.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass

from edge_service.analyzer import FrameAnalyzer
from edge_service.counters import Counters
from edge_service.errors import EdgeError
from edge_service.sinks import Sink
from edge_service.sources import Frame, FrameSource
from edge_service.sources.base import SourceError
from edge_service.sources.reader import FrameReader

log = logging.getLogger("unseen.loop")


@dataclass
class LoopSettings:
    max_fps: float = 0.0          # 0: as fast as frames come
    queue: int = 2
    frames: int = 0               # stop after this many results; 0: never
    status_every: float = 10.0    # seconds between periodic status messages
    retry_max_seconds: float = 30.0
    max_retries: int = 0          # live-source failures in a row before giving up; 0: never


class ServiceLoop:
    def __init__(self, source: FrameSource, analyzer: FrameAnalyzer, sinks: list[Sink],
                 settings: LoopSettings | None = None, device_id: str = "unseen",
                 counters: Counters | None = None) -> None:
        self.source, self.analyzer, self.sinks = source, analyzer, sinks
        self.settings = settings or LoopSettings()
        self.device_id = device_id
        self.counters = counters or Counters()
        self.queue: collections.deque[Frame] = collections.deque()
        self.ready = threading.Condition()
        self.capture_done = False
        self.capture_failure: Exception | None = None
        self.reader: FrameReader | None = None
        self.state = "starting"
        self.paused = threading.Event()
        self.next_slot = 0.0          # before this, the rate limit holds the loop: drops are "rate_limit"

    # -- status -------------------------------------------------------------------------
    def status(self, describe_sinks: bool = True) -> dict:
        extra = {}
        for sink in self.sinks if describe_sinks else ():
            extra.update(sink.describe())
        return {**extra, "state": self.state, "device": self.device_id, **self.analyzer.describe(),
                "source": self.source.name, "fps": round(self.counters.fps, 2), "counters": self.counters.snapshot(),
                "paused": self.paused.is_set(), "last_error": self.counters.last_error, "time": time.time()}

    def send_status(self) -> None:
        self._to_sinks("status", self.status())

    def _to_sinks(self, method: str, item) -> None:
        """Every sink gets `item`; a full disk or a gone folder is reported, not fatal."""
        for sink in self.sinks:
            try:
                getattr(sink, method)(item)
            except EdgeError as exc:
                self.counters.error("sink_errors", f"{type(sink).__name__}: {exc}")
                log.error("%s: %s", type(sink).__name__, exc)

    # -- capture ------------------------------------------------------------------------
    def _capture(self, stop: threading.Event) -> None:
        s = self.settings
        self.reader = FrameReader(self.source, self.counters, stop, backoff_max=s.retry_max_seconds,
                                  max_retries=s.max_retries)
        try:
            for frame in self.reader:
                self._enqueue(frame, stop)
            if self.reader.gave_up:
                self.capture_failure = SourceError(self.reader.gave_up)
        except SourceError as exc:  # a file source that cannot be read: nothing to wait for
            self.capture_failure = exc
        except Exception as exc:  # a bug in a source must not leave the loop waiting forever
            log.exception("the frame source failed")
            self.capture_failure = exc
        finally:
            with self.ready:
                self.capture_done = True
                self.ready.notify_all()

    def _enqueue(self, frame: Frame, stop: threading.Event) -> None:
        with self.ready:
            if self.source.live:
                if len(self.queue) >= self.settings.queue:
                    self.queue.popleft()
                    self.counters.drop("rate_limit" if time.monotonic() < self.next_slot else "queue_full")
            else:
                while len(self.queue) >= self.settings.queue and not stop.is_set():
                    self.ready.wait(0.1)
            self.queue.append(frame)
            self.counters.add("captured")
            self.ready.notify_all()

    def _next_frame(self, stop: threading.Event) -> Frame | None:
        with self.ready:
            while not self.queue and not self.capture_done and not stop.is_set():
                self.ready.wait(0.1)
            if not self.queue or stop.is_set():
                return None
            frame = self.queue.popleft()
            self.ready.notify_all()
            return frame

    # -- the loop -----------------------------------------------------------------------
    def _wait_for_slot(self, last_start: float | None, stop: threading.Event) -> None:
        """Frame starts are at least 1/max_fps apart (read each time: `set` may change it)."""
        fps = self.settings.max_fps
        if fps <= 0 or last_start is None:
            self.next_slot = 0.0
            return
        self.next_slot = last_start + 1.0 / fps
        while not stop.is_set() and (left := self.next_slot - time.monotonic()) > 0:
            stop.wait(left)

    def _update_fps(self, previous: float | None, now: float) -> None:
        if previous is not None:
            rate = 1.0 / max(now - previous, 1e-6)
            self.counters.fps = rate if self.counters.fps == 0 else 0.8 * self.counters.fps + 0.2 * rate

    def run(self, stop: threading.Event | None = None) -> Counters:
        """Runs until the source ends, `frames` are done, or `stop` is set; a failed source raises after."""
        stop = stop or threading.Event()
        capture = threading.Thread(target=self._capture, args=(stop,), name="capture", daemon=True)
        capture.start()
        self.state = "online"
        self.send_status()
        last_status = time.monotonic()
        last_start = last_done = None
        try:
            while not stop.is_set():
                if self.settings.frames and self.counters.processed >= self.settings.frames:
                    break
                if self.paused.is_set():
                    stop.wait(0.05)
                else:
                    self._wait_for_slot(last_start, stop)
                    frame = self._next_frame(stop)
                    if frame is None:
                        break
                    last_start = time.monotonic()
                    if self.settings.max_fps > 0:  # frames arriving before the next slot are skipped by the limit
                        self.next_slot = last_start + 1.0 / self.settings.max_fps
                    self._process(frame)
                    now = time.monotonic()
                    self._update_fps(last_done, now)
                    last_done = now
                if time.monotonic() - last_status >= self.settings.status_every:
                    self.send_status()
                    last_status = time.monotonic()
        finally:
            stop.set()
            with self.ready:  # a capture thread waiting for room sees the stop now, not at its next timeout
                self.ready.notify_all()
            capture.join(timeout=5)
            self.state = "stopped" if self.capture_failure is None else "failed"
            for sink in self.sinks:
                sink.flush()
            self.send_status()
        if self.capture_failure is not None and not isinstance(self.capture_failure, EdgeError):
            raise EdgeError(f"the frame source failed: {self.capture_failure}")
        if self.capture_failure is not None:
            raise self.capture_failure
        return self.counters

    def _process(self, frame: Frame) -> None:
        try:
            result = self.analyzer.analyze(frame, self.counters.processed + 1)
        except Exception as exc:  # one bad inference must not stop the service
            self.counters.error("inference_errors", f"frame {frame.seq}: {exc}")
            log.error("frame %d failed: %s", frame.seq, exc)
            return
        self._to_sinks("publish", result)
        self.counters.add("processed")
