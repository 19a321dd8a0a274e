"""The service loop (source -> analyzer -> sinks) on the bundled frames, and its failure modes."""

from __future__ import annotations

import importlib.util
import shutil
import threading
import time

import numpy as np
import pytest

from edge_service.analyzer import AnalysisSettings, FrameAnalyzer
from edge_service.backends import select_backend
from edge_service.backends.base import Backend
from edge_service.backends.fallback import FallbackBackend
from edge_service.backends.numpy_backend import NumpyBackend
from edge_service.errors import EdgeError
from edge_service.loop import LoopSettings, ServiceLoop
from edge_service.manifest import load_artefact
from edge_service.numpy_interpreter import NumpyInterpreter
from edge_service.sinks import Sink
from edge_service.sources import open_source
from edge_service.sources.base import FrameSource, SourceError
from edge_service.sources.synthetic import SyntheticSource


# Runtime backends and their import names; `auto` tries them in this order.
RUNTIMES = {"litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime"}


def _first_cpu_runtime() -> str:
    return next((name for name, module in RUNTIMES.items() if importlib.util.find_spec(module)), "numpy")


class Collect(Sink):
    def __init__(self) -> None:
        self.results, self.statuses, self.published_at = [], [], []

    def publish(self, result) -> None:
        self.results.append(result)
        self.published_at.append(time.monotonic())

    def status(self, status) -> None:
        self.statuses.append(status)


def _loop(artefact, backend, source, sinks, settings=None, analysis=None, notes=None) -> ServiceLoop:
    return ServiceLoop(source, FrameAnalyzer(artefact, backend, notes, analysis), sinks, settings or LoopSettings())


def _run(artefact, backend_name, source="samples", settings=None, analysis=None):
    backend, notes = select_backend(artefact, backend_name)
    sink = Collect()
    counters = _loop(artefact, backend, open_source(source), [sink], settings, analysis, notes).run()
    return sink, counters


def _probability_tolerance(artefact, exact: np.ndarray) -> np.ndarray:
    """How far a runtime's probabilities may be from the exact ones when its logits are one quantum off.

    Logits that each move by at most s change every probability by a factor within
    [e^-2s, e^2s]; both sides then round to the output's quantum."""
    softmax = next(k for k in NumpyInterpreter(artefact.model_bytes).kernels if k.op.op == "SOFTMAX")
    logit_quantum, output_quantum = softmax.tensor(0).scale, softmax.output.scale
    return exact * np.expm1(2 * logit_quantum) + 2 * output_quantum


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_runtime_and_numpy_agree_layer_by_layer_on_the_bundled_frames(shipped_model, runtime):
    pytest.importorskip(RUNTIMES[runtime])
    artefact = load_artefact(shipped_model)
    runtime_sink, _ = _run(artefact, runtime)
    numpy_sink, counters = _run(artefact, "numpy")
    assert counters.processed == 11 and len(numpy_sink.results) == 11
    assert runtime_sink.statuses[-1]["backend"] == runtime
    scales = {layer.name: layer.scale for layer in artefact.manifest.layers}
    for a, b in zip(runtime_sink.results, numpy_sink.results):
        assert a.source == b.source
        for name, values in a.values.items():
            # XNNPACK rounds once in fp32: within one quantum of the exact integer kernels. The
            # logits (scale about 0.28) are not a layer here, so the softmax is held to what one
            # quantum of them allows.
            if name == "predictions":
                assert np.all(np.abs(values - b.values[name]) <= _probability_tolerance(artefact, b.values[name]))
            else:
                assert np.abs(values - b.values[name]).max() <= scales[name] * 1.001, name
    fashion = [r for r in numpy_sink.results if r.source.startswith("fashion_")]
    labels = artefact.manifest.labels
    assert len(fashion) == 10
    assert all(r.top[0]["label"] == labels[int(r.source.split("_")[1])] for r in fashion)


def test_each_result_has_stats_latencies_and_status(shipped_model):
    sink, _ = _run(load_artefact(shipped_model), "numpy", settings=LoopSettings(frames=3),
                   analysis=AnalysisSettings(top_k=2))
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


def test_edgetpu_without_a_tpu_auto_falls_back_to_the_cpu_but_an_explicit_choice_fails(shipped_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(shipped_model, folder)
    shutil.copy(folder / "model.tflite", folder / "model_edgetpu.tflite")
    artefact = load_artefact(folder)
    backend, notes = select_backend(artefact, "auto")
    assert backend.name == _first_cpu_runtime()
    assert any("edgetpu" in n and "delegate" in n for n in notes), notes
    sink, counters = _run(artefact, "auto", settings=LoopSettings(frames=2))
    assert counters.processed == 2
    assert any("edgetpu" in n for n in sink.statuses[-1]["backend_notes"])
    with pytest.raises(EdgeError, match="backend edgetpu is unavailable.*--backend auto"):
        select_backend(artefact, "edgetpu")


class BrokenAccelerator(Backend):
    """An accelerator that fails on every frame (a fault no real part here can produce)."""

    name = "edgetpu"

    def infer(self, x):
        raise RuntimeError("USB transfer failed")


def test_an_accelerator_failing_repeatedly_hands_over_to_the_cpu_without_losing_frames(shipped_model):
    artefact = load_artefact(shipped_model)
    backend = FallbackBackend(BrokenAccelerator(artefact), NumpyBackend(artefact), max_failures=3)
    sink = Collect()
    counters = _loop(artefact, backend, open_source("samples"), [sink], LoopSettings(frames=6)).run()
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
    counters = _loop(artefact, SlowBackend(artefact), SyntheticSource(fps=200, frames=100), [sink],
                     LoopSettings(queue=2)).run()
    assert counters.dropped["queue_full"] > 30 and counters.processed + counters.dropped_total <= 100
    assert counters.dropped["rate_limit"] == 0
    # Results are numbered without gaps; the drops are counted by cause in the status instead.
    assert [r.seq for r in sink.results] == list(range(1, counters.processed + 1))
    assert sink.statuses[-1]["counters"]["dropped"]["queue_full"] == counters.dropped["queue_full"]


class StampedAnalyzer(FrameAnalyzer):
    """Records when each frame's analysis starts."""

    starts: list[float]

    def analyze(self, frame, seq):
        self.starts = getattr(self, "starts", [])
        self.starts.append(time.monotonic())
        return super().analyze(frame, seq)


class SlowToOpen(FrameSource):
    """The bundled frames, from a source that takes 0.2 s to start (as a camera does)."""

    def __init__(self) -> None:
        self.inner = open_source("samples", loop=True)
        self.name = "slow"

    def open(self) -> None:
        time.sleep(0.2)
        self.inner.open()

    def read(self):
        return self.inner.read()


def test_max_fps_keeps_every_frame_start_at_least_one_interval_after_the_last(shipped_model):
    artefact = load_artefact(shipped_model)
    analyzer = StampedAnalyzer(artefact, NumpyBackend(artefact))
    ServiceLoop(SlowToOpen(), analyzer, [Collect()], LoopSettings(max_fps=20, frames=6)).run()
    gaps = np.diff(analyzer.starts)
    # Each gap, not the average: after a late first frame the second one used to follow at once.
    assert len(gaps) == 5 and gaps.min() >= 0.05 - 1e-3, gaps


def test_a_live_source_held_back_by_the_rate_limit_counts_skips_as_rate_limit_not_queue_full(shipped_model):
    artefact = load_artefact(shipped_model)
    sink = Collect()
    counters = _loop(artefact, NumpyBackend(artefact), SyntheticSource(fps=50, frames=100), [sink],
                     LoopSettings(max_fps=2, queue=1)).run()
    # About four frames are processed in the two seconds the source runs; the rest wait for a slot
    # (slots of 500 ms: far longer than a frame takes, even on a loaded machine).
    # Counted against what the source gave, which a loaded machine can slow.
    delivered = counters.processed + sum(counters.dropped.values())
    assert delivered >= 20 and counters.dropped["rate_limit"] >= 0.6 * delivered, counters.dropped
    assert counters.dropped["rate_limit"] > 3 * counters.dropped["queue_full"], counters.dropped
    assert [r.seq for r in sink.results] == list(range(1, counters.processed + 1))


def test_stop_event_ends_a_looping_run(shipped_model):
    artefact = load_artefact(shipped_model)
    pipeline = _loop(artefact, NumpyBackend(artefact), open_source("samples", loop=True), [Collect()])
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    counters = pipeline.run(stop)
    assert counters.processed > 0 and pipeline.state == "stopped"


def test_bad_frames_reach_the_counters_and_the_status_with_the_last_error(shipped_model, tmp_path):
    from edge_service.sources.files import SAMPLES_DIR
    shutil.copy(sorted(SAMPLES_DIR.glob("*.png"))[0], tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (tmp_path / "empty.jpg").write_bytes(b"")
    artefact = load_artefact(shipped_model)
    sink = Collect()
    counters = _loop(artefact, NumpyBackend(artefact), open_source(str(tmp_path)), [sink]).run()
    assert counters.processed == 1 and counters.bad_frames == 2
    final = sink.statuses[-1]
    assert final["counters"]["bad_frames"] == 2 and final["last_error"]


class Unopenable(FrameSource):
    name = "unopenable"

    def __init__(self, live: bool) -> None:
        self.live = live

    def open(self) -> None:
        raise SourceError("no such device")


def test_a_file_source_that_cannot_be_opened_fails_the_run_at_once(shipped_model):
    artefact = load_artefact(shipped_model)
    start = time.monotonic()
    with pytest.raises(SourceError, match="no such device"):
        _loop(artefact, NumpyBackend(artefact), Unopenable(live=False), [Collect()], LoopSettings(frames=2)).run()
    assert time.monotonic() - start < 2


def test_a_live_source_that_gives_up_fails_the_run_instead_of_ending_quietly(shipped_model):
    artefact = load_artefact(shipped_model)
    sink = Collect()
    settings = LoopSettings(max_retries=2, retry_max_seconds=0.1)
    with pytest.raises(SourceError, match="failed 3 times in a row"):
        _loop(artefact, NumpyBackend(artefact), Unopenable(live=True), [sink], settings).run()
    assert sink.statuses[-1]["state"] == "failed" and sink.statuses[-1]["counters"]["source_errors"] == 3


def test_top_k_beyond_the_label_count_is_refused_not_silently_cut(shipped_model):
    artefact = load_artefact(shipped_model)
    with pytest.raises(EdgeError, match="top-k 100 is out of range"):
        FrameAnalyzer(artefact, NumpyBackend(artefact), settings=AnalysisSettings(top_k=100))
