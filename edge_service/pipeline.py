"""The service loop: frames -> preprocessing -> backend -> statistics -> sinks.

A capture thread fills a bounded queue. A live source (camera, stream) never waits:
when inference is slower, the oldest waiting frame is dropped and counted. A file
source waits for room instead, so every file is processed. `max_fps` caps the rate.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from edge_service.backends import Backend
from edge_service.errors import EdgeError
from edge_service.manifest import ModelArtefact
from edge_service.preprocess import Preprocessor
from edge_service.results import FrameResult
from edge_service.sinks import Sink
from edge_service.sources import Frame, FrameSource
from edge_service.sources.reader import FrameReader
from edge_service.stats import dequantize, layer_stats, top_k

log = logging.getLogger("unseen.pipeline")


@dataclass
class RunSettings:
    max_fps: float = 0.0          # 0: as fast as frames come
    queue: int = 2
    frames: int = 0               # stop after this many processed frames; 0: never
    top_k: int = 3
    channel_stats: bool = True
    status_every: float = 10.0    # seconds between periodic status messages
    retry_max_seconds: float = 30.0
    max_retries: int = 0          # source failures in a row before giving up; 0: never


@dataclass
class Counters:
    captured: int = 0
    processed: int = 0
    dropped: int = 0
    bad_frames: int = 0
    source_errors: int = 0
    inference_errors: int = 0
    sink_errors: int = 0
    fps: float = 0.0


@dataclass
class Pipeline:
    artefact: ModelArtefact
    source: FrameSource
    backend: Backend
    sinks: list[Sink]
    settings: RunSettings = field(default_factory=RunSettings)
    device_id: str = "unseen"
    backend_notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.preprocess = Preprocessor(self.artefact.manifest)
        self.layers = {layer.name: layer for layer in self.artefact.manifest.layers}
        self.labels = self.artefact.manifest.labels
        self.counters = Counters()
        self.queue: collections.deque[Frame] = collections.deque()
        self.ready = threading.Condition()
        self.capture_done = False
        self.reader: FrameReader | None = None
        self.state = "starting"
        self.paused = threading.Event()
        self.last_error = ""
        self.model_lock = threading.Lock()  # a model swap waits for the frame in progress

    def swap_model(self, artefact: ModelArtefact, backend: Backend, notes: list[str]) -> None:
        """Replaces the model between two frames: none is dropped, none sees half a swap."""
        preprocess = Preprocessor(artefact.manifest)
        with self.model_lock:
            old = self.backend
            self.artefact, self.backend, self.preprocess = artefact, backend, preprocess
            self.layers = {layer.name: layer for layer in artefact.manifest.layers}
            self.labels = artefact.manifest.labels
            self.backend_notes = notes
        old.close()

    # -- status -------------------------------------------------------------------------
    def status(self) -> dict:
        src = self.reader.counters if self.reader else None
        counters = asdict(self.counters)
        if src:
            counters.update(bad_frames=src.bad_frames, source_errors=src.source_errors,
                            reconnects=src.reconnects)
        fallback = getattr(self.backend, "reason", "")
        return {"state": self.state, "device": self.device_id, "model": self.artefact.manifest.name,
                "model_sha256": self.artefact.manifest.model_sha256, "backend": self.backend.name,
                "backend_notes": self.backend_notes + ([fallback] if fallback else []),
                "source": self.source.name, "fps": round(self.counters.fps, 2), "counters": counters,
                "paused": self.paused.is_set(), "last_error": self.last_error,
                "time": time.time()}

    def _send_status(self) -> None:
        status = self.status()
        for sink in self.sinks:
            sink.status(status)

    # -- capture ------------------------------------------------------------------------
    def _capture(self, stop: threading.Event) -> None:
        s = self.settings
        self.reader = FrameReader(self.source, stop, backoff_max=s.retry_max_seconds, max_retries=s.max_retries)
        try:
            for frame in self.reader:
                with self.ready:
                    if self.source.live:
                        if len(self.queue) >= s.queue:
                            self.queue.popleft()
                            self.counters.dropped += 1
                    else:
                        while len(self.queue) >= s.queue and not stop.is_set():
                            self.ready.wait(0.1)
                    self.queue.append(frame)
                    self.counters.captured += 1
                    self.ready.notify_all()
        except Exception:  # a bug in a source must not leave the loop waiting forever
            log.exception("the frame source failed")
        finally:
            with self.ready:
                self.capture_done = True
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

    # -- processing ---------------------------------------------------------------------
    def process(self, frame: Frame) -> FrameResult:
        t0 = time.perf_counter()
        x = self.preprocess(frame.image)
        t1 = time.perf_counter()
        inference = self.backend.infer(x)
        t2 = time.perf_counter()
        values, stats = {}, {}
        for name, layer in self.layers.items():  # the manifest's order: from the input on
            q = inference.outputs[name]
            v = dequantize(q[0] if q.shape[0] == 1 else q, layer)
            values[name] = v
            stats[name] = layer_stats(v, per_channel=self.settings.channel_stats)
        top = top_k(values[self.artefact.manifest.prediction], self.labels, self.settings.top_k)
        t3 = time.perf_counter()
        latency = {"preprocess": round((t1 - t0) * 1000, 3), "inference": round((t2 - t1) * 1000, 3),
                   "statistics": round((t3 - t2) * 1000, 3), "total": round((t3 - t0) * 1000, 3)}
        if inference.layer_seconds:
            latency["layers"] = {k: round(v * 1000, 4) for k, v in inference.layer_seconds.items()}
        model_input = self.preprocess.picture(x)
        return FrameResult(frame.seq, frame.timestamp, frame.label, self.backend.name, top, stats, latency,
                           frame.image, model_input,
                           values, self.artefact.manifest.model_sha256)

    def _status_due(self, last: float) -> float:
        """Sends the status when `status_every` has passed since `last`; returns the new mark."""
        now = time.monotonic()
        if now - last < self.settings.status_every:
            return last
        self._send_status()
        return now

    def _publish(self, result: FrameResult) -> None:
        for sink in self.sinks:
            try:
                sink.publish(result)
            except EdgeError as exc:  # a full disk or a gone folder is reported, not fatal
                self.counters.sink_errors += 1
                self.last_error = str(exc)
                log.error("%s: %s", type(sink).__name__, exc)

    def run(self, stop: threading.Event | None = None) -> Counters:
        """Runs until the source ends, `frames` are done, or `stop` is set."""
        stop = stop or threading.Event()
        capture = threading.Thread(target=self._capture, args=(stop,), name="capture", daemon=True)
        capture.start()
        self.state = "online"
        self._send_status()
        next_slot = last_status = time.monotonic()
        last_done = None
        try:
            while not stop.is_set():
                if self.settings.frames and self.counters.processed >= self.settings.frames:
                    break
                if self.paused.is_set():
                    stop.wait(0.05)
                    last_status = self._status_due(last_status)
                    continue
                frame = self._next_frame(stop)
                if frame is None:
                    break
                try:
                    with self.model_lock:
                        result = self.process(frame)
                except Exception as exc:  # one bad inference must not stop the service
                    self.counters.inference_errors += 1
                    log.error("frame %d failed: %s", frame.seq, exc)
                    continue
                self._publish(result)
                self.counters.processed += 1
                now = time.monotonic()
                if last_done is not None:
                    rate = 1.0 / max(now - last_done, 1e-6)
                    self.counters.fps = rate if self.counters.fps == 0 else 0.8 * self.counters.fps + 0.2 * rate
                last_done = now
                last_status = self._status_due(last_status)
                if self.settings.max_fps > 0:  # read each time: `set` may change it
                    next_slot = max(next_slot + 1.0 / self.settings.max_fps, now)
                    stop.wait(max(0.0, next_slot - time.monotonic()))
        finally:
            stop.set()
            capture.join(timeout=5)
            self.state = "stopped"
            self._send_status()
        return self.counters
