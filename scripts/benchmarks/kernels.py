"""The numpy kernels against LiteRT and TFLite Micro; conversion fitting and full-resolution layers."""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

from benchmarks.common import median_seconds


def bench_conversion_fit(quick: bool) -> dict:
    """Fitting on sampled pixels vs an exact fit on every pixel of the Hubble Deep Field."""
    from skimage.data import hubble_deep_field
    from sklearn.decomposition import PCA
    from training.conversion_fit import fit_conversion_matrix

    image = hubble_deep_field().astype(np.float64) / 255.0
    pixels = image.reshape(-1, 3)
    rows = {}
    reference = median_seconds(lambda: PCA(n_components=3, svd_solver="full").fit(pixels), 3, 1)
    rows["exact PCA on all pixels (reference)"] = {"seconds": reference, "ratio": 1.0}
    for method in ("pca", "whiten", "ica", "nmf"):
        seconds = median_seconds(lambda: fit_conversion_matrix([image], method, 3, 1), 1 if quick else 3, 1)
        rows[f"{method}, k=3, 20k sampled pixels"] = {"seconds": seconds, "ratio": seconds / reference}
    return {"title": f"Conversion-matrix fit on the Hubble Deep Field ({image.shape[1]}x{image.shape[0]})",
            "unit": "seconds", "rows": rows}


def best_seconds(fn, calls: int) -> float:
    """The fastest of `calls` calls: on a shared machine, the one least disturbed by others."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _interleaved(runners: dict, rounds: int) -> dict[str, list[float]]:
    """Per runner (name -> (function, calls)), its best call in each of `rounds` rounds.

    The rounds interleave the runners, so a slower spell of a shared machine hits them all.
    """
    for fn, _ in runners.values():
        fn()
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, (fn, calls) in runners.items():
            times[name].append(best_seconds(fn, calls))
    return times


def _per_op_tables(interpreter, x, repeat: int, model: str, per_layer: bool) -> list[dict]:
    """Best time of each op over `repeat` frames, summed by op type (and per layer when asked)."""
    samples: dict[int, list[float]] = {}
    for _ in range(repeat):
        result = interpreter.run(x, intermediate=True)
        for position, t in enumerate(result.op_seconds.values()):
            samples.setdefault(position, []).append(t)
    medians = {p: min(ts) for p, ts in samples.items()}
    total = sum(medians.values())
    by_type: dict[str, dict] = {}
    for position, seconds in medians.items():
        row = by_type.setdefault(interpreter.kernels[position].op.op, {"ops": 0, "ms": 0.0})
        row["ops"] += 1
        row["ms"] += seconds * 1000
    for row in by_type.values():
        row["share"] = row["ms"] / (total * 1000)
    by_type = dict(sorted(by_type.items(), key=lambda kv: -kv[1]["ms"]))
    by_type["all ops"] = {"ops": len(medians), "ms": total * 1000, "share": 1.0}
    tables = [{"title": f"Numpy kernels, time per op type ({model}, tflm mode)", "unit": "ms", "rows": by_type}]
    if per_layer:
        names = list(interpreter.run(x, intermediate=True).op_seconds)
        rows = {f"{names[p]} ({interpreter.kernels[p].op.op})": {"ms": s * 1000, "share": s / total}
                for p, s in medians.items()}
        tables.append({"title": f"Numpy kernels, time per layer ({model})", "unit": "ms", "rows": rows})
    return tables


def _blas_products(interpreter):
    """A call doing the model's matrix products alone, float32 at its shapes: what numpy cannot beat.

    Every CONV_2D and FULLY_CONNECTED is one (rows, depth) x (depth, channels) product on the
    fast path; im2col, requantization, depthwise layers and the other ops come on top."""
    rng = np.random.default_rng(0)
    pairs = [(rng.integers(-128, 128, (k.rows, k.weights.shape[0])).astype(np.float32),
              rng.integers(-128, 128, k.weights.shape).astype(np.float32))
             for k in interpreter.kernels if k.op.op in ("CONV_2D", "FULLY_CONNECTED")]
    return lambda: [a @ w for a, w in pairs]


def _kernel_models() -> dict[str, bytes]:
    from edge_service.manifest import default_model_dir, load_artefact
    artefact = load_artefact(default_model_dir())
    models = {f"shipped model ({artefact.manifest.name})": artefact.model_bytes}
    try:
        from training.reference_models import cached_mobilenet_v2
        models["MobileNetV2-0.35 96x96 int8, every op an output"] = cached_mobilenet_v2()
    except ImportError:  # no TensorFlow: the shipped model only
        pass
    return models


def bench_numpy_kernels(quick: bool) -> list[dict]:
    """The numpy kernels against LiteRT (XNNPACK and BUILTIN_REF) and TFLite Micro, one thread each."""
    from contextlib import nullcontext

    from edge_service.numpy_interpreter import NumpyInterpreter
    from edge_service.oracles import LiteRTOracle, TflmOracle, sample_inputs
    try:
        from threadpoolctl import threadpool_limits
        one_thread = threadpool_limits(1)
    except ImportError:
        one_thread = nullcontext()
    tables = []
    with one_thread:
        for model_name, model in _kernel_models().items():
            start = time.perf_counter()
            ours = NumpyInterpreter(model)
            load_ms = (time.perf_counter() - start) * 1000
            x = sample_inputs(ours.input.shape, ours.input.dtype, 4)[3]
            small = model_name.startswith("shipped model")
            calls, rounds = (50 if small else 20), (3 if quick else 7)
            outputs = ours.graph.outputs
            runners = {"numpy kernels (tflm mode)": lambda: ours.run(x)}
            runners["its float32 BLAS products alone (the floor)"] = _blas_products(ours)
            slow = {}
            try:
                xnnpack, reference = LiteRTOracle(model, False, threads=1), LiteRTOracle(model, True, threads=1)
                runners["LiteRT default (XNNPACK), read every output"] = lambda: xnnpack.run(x, outputs)
                runners["LiteRT default (XNNPACK), read the first output"] = lambda: xnnpack.run(x, outputs[:1])
                slow["LiteRT BUILTIN_REF"] = lambda: reference.run(x, outputs)
            except ImportError:
                pass
            try:
                tflm = TflmOracle(model)
                slow["TFLite Micro Python interpreter"] = lambda: tflm.run(x, [])
            except ImportError:
                pass
            times = _interleaved({**{n: (f, calls) for n, f in runners.items()},
                                  **{n: (f, max(2, calls // 10)) for n, f in slow.items()}}, rounds)
            ours_times = times["numpy kernels (tflm mode)"]
            rows = {}
            for name, ts in times.items():
                ratios = [a / b for a, b in zip(ours_times, ts)]
                rows[name] = {"ms": statistics.median(ts) * 1000, "numpy / this": statistics.median(ratios)}
            rows["numpy kernels (tflm mode)"]["load ms"] = load_ms
            limit = 5 if small else 10
            for name in rows:
                if name.startswith("LiteRT default") and "every" in name:
                    rows[name]["goal"] = f"numpy at most {limit}x XNNPACK (numpy / this <= {limit})"
            if "LiteRT BUILTIN_REF" in rows:
                rows["LiteRT BUILTIN_REF"]["goal"] = "numpy at least 10x faster (numpy / this <= 0.1)"
            load = os.getloadavg()[0]  # a shared machine: say how shared it was
            tables.append({"title": f"Numpy int8 kernels vs the runtimes, {model_name}, one frame, one thread "
                                    f"each (best call of each round, median over {rounds} interleaved rounds; "
                                    f"load average {load:.1f} on {os.cpu_count()} cores)",
                           "unit": "ms", "rows": rows})
            tables += _per_op_tables(ours, x, 50 if small else 15, model_name, small)
    return tables


def bench_conversion_layers(quick: bool) -> dict:
    """The shipped model's conversion.tflite on a whole 640x480 frame: numpy kernels vs LiteRT, TFLM tiles."""
    from PIL import Image
    from skimage.data import hubble_deep_field
    from edge_service.fullres import ConversionLayers
    from edge_service.manifest import default_model_dir, load_artefact

    artefact = load_artefact(default_model_dir())
    frame = np.asarray(Image.fromarray(hubble_deep_field()).resize((640, 480), Image.BILINEAR))
    repeat = 10 if quick else 40
    numpy_layers = ConversionLayers(artefact, "numpy")
    runners = {"numpy kernels": numpy_layers}
    from edge_service.backends import BackendUnavailable
    for name, backend in (("LiteRT default (XNNPACK), input resized", "litert"),
                          ("LiteRT BUILTIN_REF, input resized", "litert-ref"),
                          ("TFLite Micro, 64x64 tiles with halo", "tflm")):
        try:
            runners[name] = ConversionLayers(artefact, backend)
        except BackendUnavailable:
            pass
    seconds = {}
    for name, runner in runners.items():
        slow = "REF" in name or "Micro" in name or "directly" in name
        seconds[name] = median_seconds(lambda: runner(frame), max(3, repeat // 4) if slow else repeat)
    base = seconds.get("LiteRT default (XNNPACK), input resized", seconds["numpy kernels"])
    rows = {name: {"ms": 1000 * t, "fps": 1 / t, "ratio": t / base,
                   "goal": ">= 15 fps" if name == "numpy kernels" else ""} for name, t in seconds.items()}
    k = artefact.manifest.conversion_model["layers"]
    return {"title": f"Conversion layers at 640x480 (frame to {k} int8 layers), ratio to LiteRT XNNPACK",
            "unit": "ms", "rows": rows}
