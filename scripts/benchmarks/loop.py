"""The service loop: frames per second per backend, start-up, per-frame analysis against inference."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import median_seconds


def final_output_only(model: bytes) -> bytes:
    """The same weights with only the last layer as an output (what a plain classifier exports)."""
    from tensorflow.lite.tools import flatbuffer_utils as fbu
    obj = fbu.read_model_from_bytearray(bytearray(model))
    last = obj.subgraphs[0].outputs[-1]
    obj.subgraphs[0].outputs = [last]
    for sig in obj.signatureDefs:
        sig.outputs = [t for t in sig.outputs if t.tensorIndex == last]
    return bytes(fbu.convert_object_to_bytearray(obj))


def bench_edge_loop(quick: bool) -> list[dict]:
    """Frames per second of the whole loop per backend; the cost of exposing every layer."""
    from edge_service.backends import select_backend
    from edge_service.manifest import default_model_dir, load_artefact
    from edge_service.oracles import LiteRTOracle, sample_inputs
    from edge_service.analyzer import AnalysisSettings, FrameAnalyzer
    from edge_service.loop import LoopSettings, ServiceLoop
    from edge_service.sources import open_source
    from edge_service.sources.reader import FrameReader
    from PIL import Image

    artefact = load_artefact(default_model_dir())
    frames = 100 if quick else 400
    fps = {}
    # The defaults, then without the full-resolution conversion layers (on the 1000x872 Hubble
    # frame of the samples they cost far more than the model).
    for label, settings in (("", AnalysisSettings()), (", no full-resolution conversion layers",
                                                       AnalysisSettings(conversion_max_pixels=0))):
        for name in ("litert", "numpy"):
            backend, _ = select_backend(artefact, name)
            analyzer = FrameAnalyzer(artefact, backend, settings=settings)
            for frame in FrameReader(open_source("samples")):  # the conversion layers load once per frame size
                analyzer.analyze(frame, 0)
            pipeline = ServiceLoop(open_source("samples", loop=True), analyzer, [], LoopSettings(frames=frames))
            start = time.perf_counter()
            pipeline.run()
            fps[f"{name} backend{label}"] = frames / (time.perf_counter() - start)
    loop = {name: {"fps": value, "ratio": value / fps["litert backend"]} for name, value in fps.items()}

    every = artefact.model_bytes
    final = final_output_only(every)
    x = sample_inputs(artefact.manifest.input["shape"], np.int8, 4)[3]
    repeat = 200 if quick else 2000
    a, b = LiteRTOracle(every, False), LiteRTOracle(final, False)
    all_outputs = [i["index"] for i in a.interpreter.get_output_details()]
    last_output = [b.interpreter.get_output_details()[0]["index"]]
    t_every = median_seconds(lambda: a.run(x, all_outputs), repeat)
    t_final = median_seconds(lambda: b.run(x, last_output), repeat)
    cost = {"final output only (reference)": {"ms": t_final * 1000, "ratio": 1.0},
            "every layer an output (shipped)": {"ms": t_every * 1000, "ratio": t_every / t_final,
                                                "goal": "ratio <= 1.2"}}
    return [{"title": f"Whole loop (bundled frames decoded each time, preprocessing, inference, statistics, "
                      f"the defaults), {frames} frames",
             "unit": "fps", "rows": loop},
            {"title": "Cost of exposing every layer, LiteRT default path, read all outputs", "unit": "ms",
             "rows": cost}]


def bench_startup(quick: bool) -> dict:
    """`unseen serve` from process start to its first result, and its peak resident memory."""
    import subprocess
    import tempfile

    def peak_rss_mib(pid: int) -> float:
        # VmHWM belongs to the program after exec; RUSAGE_CHILDREN would count the forked
        # copy of this (TensorFlow-laden) benchmark process too.
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def run(cmd: list[str], wait_for: Path | None) -> tuple[float, float]:
        start = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        first, peak = None, 0.0
        while process.poll() is None:
            peak = max(peak, peak_rss_mib(process.pid))
            if first is None and wait_for is not None and wait_for.exists() and wait_for.stat().st_size:
                first = time.perf_counter() - start
            time.sleep(0.002)
        elapsed = first if first is not None else time.perf_counter() - start
        return elapsed, peak

    rows = {}
    base, base_rss = run([sys.executable, "-c", "import numpy"], None)
    rows["python -c 'import numpy' (reference)"] = {"seconds": base, "MiB": base_rss, "ratio": 1.0}
    for backend in ("litert", "numpy"):
        times, rss = [], 0.0
        for _ in range(2 if quick else 5):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "r.jsonl"
                t, m = run([sys.executable, "-m", "unseen.cli", "serve", "--backend", backend, "--frames", "1",
                            "--jsonl", str(out)], out)
                times.append(t)
                rss = max(rss, m)
        t = statistics.median(times)
        rows[f"unseen serve, {backend}, to first result"] = {
            "seconds": t, "MiB": rss, "ratio": t / base,
            "goal": "under 1.5 s and 150 MB" if backend == "litert" else ""}
    return {"title": "Start-up to first result and peak resident memory", "unit": "s", "rows": rows}


def bench_analysis(quick: bool) -> dict:
    """Per-frame analysis (preprocessing + statistics) against LiteRT's inference on the shipped model."""
    from edge_service.analyzer import AnalysisSettings, FrameAnalyzer
    from edge_service.backends import select_backend
    from edge_service.manifest import default_model_dir, load_artefact
    from edge_service.sources import open_source
    from edge_service.sources.reader import FrameReader
    from PIL import Image

    artefact = load_artefact(default_model_dir())
    backend, _ = select_backend(artefact, "litert", threads=1)
    frames = list(FrameReader(open_source("samples")))
    rounds = 300 if quick else 2000
    rows, reference = {}, None
    for per_channel in (False, True):
        # The full-resolution conversion layers are measured on their own (conversion_layers).
        settings = AnalysisSettings(channel_stats=per_channel, conversion_max_pixels=0)
        analyzer = FrameAnalyzer(artefact, backend, settings=settings)
        parts = {"preprocess": [], "inference": [], "statistics": []}
        mode = "L" if analyzer.preprocess.gray else "RGB"
        parts["reading the frame"] = []
        for i in range(rounds):
            frame = frames[i % len(frames)]
            latency = analyzer.analyze(frame, i + 1).latency_ms
            for key in ("preprocess", "inference", "statistics"):
                parts[key].append(latency[key])
            start = time.perf_counter()
            Image.fromarray(frame.image).convert(mode)
            parts["reading the frame"].append((time.perf_counter() - start) * 1000)
        median = {k: float(np.median(v)) for k, v in parts.items()}
        reference = reference or median["inference"]
        label = "per-channel statistics" if per_channel else "overall statistics only"
        rows[f"LiteRT inference, every layer an output ({label})"] = {"ms": median["inference"], "ratio": 1.0}
        analysis = median["preprocess"] + median["statistics"]
        rows[f"preprocessing + statistics ({label})"] = {"ms": analysis, "ratio": analysis / median["inference"],
                                                         "goal": 0.5}
        for part in ("preprocess", "statistics"):
            rows[f"of which {part} ({label})"] = {"ms": median[part], "ratio": median[part] / median["inference"]}
        # The floor of any preprocessing: Pillow taking the frame in and converting its colours.
        rows[f"Pillow reading the frame and converting its colours alone ({label})"] = {
            "ms": median["reading the frame"], "ratio": median["reading the frame"] / median["inference"]}
    size = "x".join(str(v) for v in frames[0].image.shape)
    return {"title": f"Per-frame analysis against inference (medians, one LiteRT thread, {size} frames, "
                     f"{artefact.manifest.name}; full-resolution conversion layers off)", "unit": "ms",
            "rows": rows}
