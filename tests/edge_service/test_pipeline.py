"""The service loop on the bundled frames, with the LiteRT and numpy backends, and its failure modes."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from edge_service.backends import select_backend
from edge_service.backends.base import Backend
from edge_service.backends.fallback import FallbackBackend
from edge_service.backends.numpy_backend import NumpyBackend
from edge_service.manifest import load_artefact
from edge_service.pipeline import Pipeline, RunSettings
from edge_service.sinks import Sink
from edge_service.sources import open_source
from edge_service.sources.synthetic import SyntheticSource

litert = pytest.importorskip("ai_edge_litert")


class Collect(Sink):
    def __init__(self) -> None:
        self.results, self.statuses, self.published_at = [], [], []

    def publish(self, result) -> None:
        self.results.append(result)
        self.published_at.append(time.monotonic())

    def status(self, status) -> None:
        self.statuses.append(status)


def _run(artefact, backend_name, source="samples", settings=None, **kwargs):
    backend, notes = select_backend(artefact, backend_name)
    sink = Collect()
    pipeline = Pipeline(artefact, open_source(source), backend, [sink], settings or RunSettings(),
                        backend_notes=notes, **kwargs)
    counters = pipeline.run()
    return sink, counters


def test_litert_and_numpy_agree_layer_by_layer_on_the_bundled_frames(shipped_model):
    artefact = load_artefact(shipped_model)
    litert_sink, _ = _run(artefact, "litert")
    numpy_sink, counters = _run(artefact, "numpy")
    assert counters.processed == 11 and len(numpy_sink.results) == 11
    scales = {layer.name: layer.scale for layer in artefact.manifest.layers}
    for a, b in zip(litert_sink.results, numpy_sink.results):
        assert a.source == b.source
        for name, values in a.values.items():
            # XNNPACK rounds once in fp32: within one quantum of the exact integer kernels. The
            # softmax can turn a logit one quantum off into several quanta of probability where
            # classes are close (the Hubble frame): there, within 0.05.
            tolerance = 0.05 if name == "predictions" else scales[name] * 1.001
            assert np.abs(values - b.values[name]).max() <= tolerance, name
    fashion = [r for r in numpy_sink.results if r.source.startswith("fashion_")]
    labels = artefact.manifest.labels
    assert len(fashion) == 10
    assert all(r.top[0]["label"] == labels[int(r.source.split("_")[1])] for r in fashion)


def test_each_result_has_stats_latencies_and_status(shipped_model):
    sink, _ = _run(load_artefact(shipped_model), "numpy", settings=RunSettings(frames=3, top_k=2))
    result = sink.results[0]
    data = result.to_json("dev")
    assert data["model_sha256"] == load_artefact(shipped_model).manifest.model_sha256
    assert [t["label"] for t in data["top"]][:1] and len(data["top"]) == 2
    conv = data["layers"]["conv1"]
    assert conv["shape"] == [26, 26, 64] and len(conv["channels"]["mean"]) == 64
    assert 0.0 <= conv["active"] <= 1.0 and conv["min"] <= conv["mean"] <= conv["max"]
    assert set(data["latency_ms"]) >= {"preprocess", "inference", "statistics", "total", "layers"}
    assert set(data["latency_ms"]["layers"]) == {l.name for l in load_artefact(shipped_model).manifest.layers}
    assert sink.statuses[0]["state"] == "online" and sink.statuses[-1]["state"] == "stopped"
    assert sink.statuses[-1]["counters"]["processed"] == 3


def test_edgetpu_without_a_tpu_falls_back_to_the_cpu_and_says_why(shipped_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(shipped_model, folder)
    shutil.copy(folder / "model.tflite", folder / "model_edgetpu.tflite")
    artefact = load_artefact(folder)
    backend, notes = select_backend(artefact, "auto")
    assert backend.name == "litert"
    assert any("edgetpu" in n and "delegate" in n for n in notes), notes
    sink, counters = _run(artefact, "edgetpu", settings=RunSettings(frames=2))
    assert counters.processed == 2
    assert any("falling back to the CPU" in n for n in sink.statuses[-1]["backend_notes"])


class BrokenAccelerator(Backend):
    """An accelerator that fails on every frame (a fault no real part here can produce)."""

    name = "edgetpu"

    def infer(self, x):
        raise RuntimeError("USB transfer failed")


def test_an_accelerator_failing_repeatedly_hands_over_to_the_cpu_without_losing_frames(shipped_model):
    artefact = load_artefact(shipped_model)
    backend = FallbackBackend(BrokenAccelerator(artefact), NumpyBackend(artefact), max_failures=3)
    sink = Collect()
    pipeline = Pipeline(artefact, open_source("samples"), backend, [sink], RunSettings(frames=6))
    counters = pipeline.run()
    assert counters.processed == 6 and counters.inference_errors == 0
    assert backend.failed_over and sink.statuses[-1]["backend"] == "numpy"
    assert any("failed 3 times in a row" in n for n in sink.statuses[-1]["backend_notes"])


class SlowBackend(NumpyBackend):
    def infer(self, x):
        time.sleep(0.05)
        return super().infer(x)


def test_a_live_source_faster_than_inference_drops_the_oldest_frames(shipped_model):
    artefact = load_artefact(shipped_model)
    sink = Collect()
    pipeline = Pipeline(artefact, SyntheticSource(fps=200, frames=100), SlowBackend(artefact), [sink],
                        RunSettings(queue=2))
    counters = pipeline.run()
    assert counters.dropped > 30 and counters.processed + counters.dropped <= 100
    seqs = [r.seq for r in sink.results]
    assert seqs == sorted(seqs)  # order kept, gaps where frames were dropped


def test_max_fps_limits_the_rate(shipped_model):
    artefact = load_artefact(shipped_model)
    sink = Collect()
    pipeline = Pipeline(artefact, open_source("samples", loop=True), NumpyBackend(artefact), [sink],
                        RunSettings(max_fps=20, frames=6))
    pipeline.run()
    times = sink.published_at
    # Six frames at 20 fps cannot take less than five intervals of 50 ms.
    assert times[-1] - times[0] >= 0.24


def test_stop_event_ends_a_looping_run(shipped_model):
    artefact = load_artefact(shipped_model)
    pipeline = Pipeline(artefact, open_source("samples", loop=True), NumpyBackend(artefact), [Collect()])
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    counters = pipeline.run(stop)
    assert counters.processed > 0 and pipeline.state == "stopped"
