"""One frame in, one FrameResult out: preprocess, infer, statistics, top-k; the model can be swapped hot."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_service.backends import Backend, select_backend
from edge_service.errors import EdgeError
from edge_service.fullres import ConversionLayers
from edge_service.manifest import ModelArtefact, load_artefact
from edge_service.preprocess import Preprocessor
from edge_service.results import FULL_RESOLUTION, FrameResult, FullResolution
from edge_service.sources import Frame
from edge_service.stats import FrameStatistics, LayerPlan, dequantize, top_k

log = logging.getLogger("unseen.analyzer")


@dataclass
class BackendChoice:
    """How to pick a backend for a model: at start, and again for every model the `reload` command loads."""

    preference: str = "auto"
    mode: str = "tflm"
    threads: int | None = None
    max_failures: int = 3

    def open(self, artefact: ModelArtefact) -> tuple[Backend, list[str]]:
        backend, notes = select_backend(artefact, self.preference, self.mode, self.threads, self.max_failures)
        for note in notes:
            log.info("backend %s", note)
        return backend, notes


DEFAULT_TOP_K = 3  # or every label, for a model with fewer


@dataclass
class AnalysisSettings:
    top_k: int = 0      # 0: DEFAULT_TOP_K, or every label of a model with fewer
    channel_stats: bool = True
    conversion_max_pixels: int = 2_000_000   # the full-resolution conversion layers; 0: off


class FrameAnalyzer:
    def __init__(self, artefact: ModelArtefact, backend: Backend, notes: list[str] | None = None,
                 settings: AnalysisSettings | None = None, choice: BackendChoice | None = None) -> None:
        self.settings = settings or AnalysisSettings()
        self.choice = choice or BackendChoice()
        self.lock = threading.Lock()  # a model swap waits for the frame in progress
        self._install(artefact, backend, notes or [])
        if self.settings.top_k:
            self.check_top_k(self.settings.top_k)

    @classmethod
    def open(cls, model: Path, choice: BackendChoice, settings: AnalysisSettings | None = None) -> FrameAnalyzer:
        artefact = load_artefact(model)
        backend, notes = choice.open(artefact)
        return cls(artefact, backend, notes, settings, choice)

    def _install(self, artefact: ModelArtefact, backend: Backend, notes: list[str]) -> None:
        self.artefact, self.backend, self.backend_notes = artefact, backend, notes
        self.preprocess = Preprocessor(artefact.manifest)
        self.layers = {layer.name: layer for layer in artefact.manifest.layers}
        self.labels = artefact.manifest.labels
        answers = int(np.prod(artefact.manifest.layer(artefact.manifest.prediction).shape))
        if self.labels and len(self.labels) != answers:
            log.warning("%s has %d labels for the %d values of %r: they are matched by position, a value "
                        "without a label is shown by its number", artefact.manifest.name, len(self.labels),
                        answers, artefact.manifest.prediction)
        self.layer_names = [layer.name for layer in artefact.manifest.layers]
        self.quantization = {layer.name: (layer.scale, layer.zero_point) for layer in artefact.manifest.layers}
        self.fullres = self._full_resolution(artefact)
        self._plans: dict[tuple, FrameStatistics] = {}

    def _full_resolution(self, artefact: ModelArtefact) -> ConversionLayers | None:
        """conversion.tflite on the numpy kernels (exact at any size), when the model has one."""
        if not self.settings.conversion_max_pixels or not artefact.manifest.conversion_model:
            return None
        return ConversionLayers(artefact, "numpy", self.settings.conversion_max_pixels)

    @property
    def picture_names(self) -> list[str]:
        """Every picture a frame can give: each layer, and each full-resolution conversion layer."""
        extra = []
        if self.fullres is not None:
            extra = [f"conversion/{k}" for k in range(self.fullres.channels)] + ["conversion/composite"]
        return self.layer_names + extra

    def check_top_k(self, k: int) -> None:
        if not 1 <= k <= len(self.labels):
            raise EdgeError(f"top-k {k} is out of range: the model has {len(self.labels)} labels (1 to "
                            f"{len(self.labels)})")

    def reload(self, folder: Path) -> None:
        """Loads, verifies and swaps in the model in `folder` between two frames; none is dropped."""
        artefact = load_artefact(folder)
        backend, notes = self.choice.open(artefact)
        with self.lock:
            old = self.backend
            self._install(artefact, backend, notes)
            if self.settings.top_k > len(self.labels):
                self.settings.top_k = len(self.labels)
        old.close()
        log.info("reloaded model %s (%s)", artefact.manifest.name, artefact.manifest.model_sha256[:12])

    def describe(self) -> dict:
        """The model and backend part of the status."""
        fallback = getattr(self.backend, "reason", "")
        return {"model": self.artefact.manifest.name, "model_sha256": self.artefact.manifest.model_sha256,
                "backend": self.backend.name, "backend_notes": self.backend_notes + ([fallback] if fallback else [])}

    def analyze(self, frame: Frame, seq: int) -> FrameResult:
        """The result of one frame; `seq` numbers the results, so a gap is a loss a subscriber can see."""
        with self.lock:
            return self._analyze(frame, seq)

    def _analyze(self, frame: Frame, seq: int) -> FrameResult:
        t0 = time.perf_counter()
        x = self.preprocess(frame.image)
        t1 = time.perf_counter()
        inference = self.backend.infer(x)
        t2 = time.perf_counter()
        outputs = {}
        for name in self.layer_names:  # the manifest's order: from the input on
            q = inference.outputs[name]
            outputs[name] = q[0] if q.shape[0] == 1 else q
        stats = self._statistics(outputs, self.quantization)
        prediction = self.artefact.manifest.prediction
        count = self.settings.top_k or min(DEFAULT_TOP_K, len(self.labels))
        top = top_k(dequantize(outputs[prediction], self.layers[prediction]), self.labels, count)
        t3 = time.perf_counter()
        fullres = self._run_full_resolution(frame, stats)
        t4 = time.perf_counter()
        latency = {"preprocess": round((t1 - t0) * 1000, 3), "inference": round((t2 - t1) * 1000, 3),
                   "statistics": round((t3 - t2) * 1000, 3), "total": round((t4 - t0) * 1000, 3)}
        if fullres is not None:
            latency["conversion_full_resolution"] = round((t4 - t3) * 1000, 3)
        if inference.layer_seconds:
            latency["layers"] = {k: round(v * 1000, 4) for k, v in inference.layer_seconds.items()}
        return FrameResult(seq, frame.timestamp, frame.label, self.backend.name, top, stats, latency,
                           frame.image, self.preprocess.picture(x), outputs, self.quantization,
                           self.artefact.manifest.model_sha256, fullres)

    def _statistics(self, arrays: dict[str, np.ndarray], quantization: dict[str, tuple[float, int]]) -> dict:
        """The statistics of these arrays, by a plan made for their shapes the first time they come."""
        key = (self.settings.channel_stats, *((name, q.shape) for name, q in arrays.items()))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= 8:  # a source whose frame size keeps changing must not grow this forever
                self._plans.clear()
            layers = [LayerPlan.of(name, q.shape, *quantization[name]) for name, q in arrays.items()]
            plan = self._plans[key] = FrameStatistics(layers, self.settings.channel_stats)
        return plan(arrays)

    def _run_full_resolution(self, frame: Frame, stats: dict) -> FullResolution | None:
        if self.fullres is None:
            return None
        result = self.fullres.result(frame.image)
        stats.update(self._statistics({FULL_RESOLUTION: result.layers},
                                      {FULL_RESOLUTION: (result.scale, result.zero_point)}))
        return result

    def close(self) -> None:
        self.backend.close()
