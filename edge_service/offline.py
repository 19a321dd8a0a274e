"""`unseen layers` and `unseen filters`: pictures of some images' layers, and of the weights."""

from __future__ import annotations

import html
import time
from pathlib import Path

import numpy as np

from edge_service.analyzer import BackendChoice, FrameAnalyzer
from edge_service.errors import FrameError
from edge_service.gallery import GallerySink
from edge_service.inspect_model import load_graph
from edge_service.manifest import default_model_dir
from edge_service.pictures import feature_grid, filter_grid, html_page
from edge_service.results import FrameResult
from edge_service.sources import Frame
from edge_service.sources.base import SourceError
from edge_service.sources.files import ImageFilesSource


def image_files(specs: list[str]) -> list[Path]:
    """Every image named by `specs` (files, folders, globs), in order; an error names a spec with none."""
    files: list[Path] = []
    for spec in specs:
        source = ImageFilesSource(str(spec))
        try:
            source.open()
        except SourceError as exc:
            raise FrameError(str(exc)) from None
        files += source.files
    return files


def render_layers(images: list[str], model: Path | None, backend: str,
                  output: Path) -> tuple[Path, list[tuple[Path, FrameResult]], list[str]]:
    """Every layer of each image into an HTML gallery: (index, results, why each bad image was skipped)."""
    from edge_service.images import read_image
    files = image_files(images)
    analyzer = FrameAnalyzer.open(model or default_model_dir(), BackendChoice(backend))
    artefact = analyzer.artefact
    gallery = GallerySink(output, artefact.manifest.labels, title=f"layers of {artefact.manifest.name}",
                          map_names=artefact.manifest.map_names())
    results, bad = [], []
    for path in files:
        try:
            image = read_image(path, "RGB")
        except FrameError as exc:
            bad.append(str(exc))
            continue
        result = analyzer.analyze(Frame(len(results) + 1, time.time(), image, path.name), len(results) + 1)
        gallery.publish(result)
        results.append((path, result))
    if not results:
        raise FrameError("no image could be read: " + "; ".join(bad))
    gallery.status({**analyzer.describe(), "counters": {"processed": len(results), "bad_frames": len(bad)}})
    analyzer.close()
    return gallery.write_index(), results, bad


def _display_names(loaded) -> dict[int, str]:
    """Tensor index -> the manifest's layer name, so pictures never show TensorFlow's internal names."""
    if loaded.artefact is None:
        return {}
    return {layer.tensor_index: layer.name for layer in loaded.artefact.manifest.layers}


def render_filters(model: Path | None, output: Path) -> Path:
    """One PNG per weighted op (dequantized weights), and an index.html."""
    loaded = load_graph(model)
    graph, path = loaded.graph, loaded.path
    names = _display_names(loaded)
    output.mkdir(parents=True, exist_ok=True)
    figures = []
    for op in graph.operators:
        if op.op not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        weights = graph.tensors[op.inputs[1]]
        if weights.data is None:
            continue
        scales = weights.scales.reshape([-1] + [1] * (weights.data.ndim - 1)) if len(weights.scales) > 1 \
            else weights.scales[:1]
        real = weights.data.astype(np.float32) * scales if weights.quantized else weights.data
        name = names.get(op.outputs[0], graph.tensors[op.outputs[0]].name.split(";")[0])
        if op.op == "CONV_2D":
            picture = filter_grid(real, f"{name}: {real.shape[0]} filters of {real.shape[1]}x{real.shape[2]}"
                                        f"x{real.shape[3]}")
        elif op.op == "DEPTHWISE_CONV_2D":
            picture = filter_grid(real.transpose(3, 1, 2, 0), f"{name}: depthwise {real.shape[1]}x{real.shape[2]}")
        else:
            picture = feature_grid(real.T[:, :, None], [name], f"{name}: weights {list(real.shape)}", target=256)
        file = f"{op.index:02d}_{op.op.lower()}.png"
        picture.save(output / file)
        figures.append((name, op.op, file))
    body = "".join(f"<figure><img src='{html.escape(f)}'><figcaption>{html.escape(n)} ({o})</figcaption></figure>"
                   for n, o, f in figures)
    index = output / "index.html"
    index.write_text(html_page(f"filters of {path}",
                               "<p>Convolution filters: mid-grey is zero, white positive, black negative, each filter "
                               "scaled on its own. Dense weights: viridis, dark low, yellow high, stretched between "
                               f"their 1st and 99th percentile.</p><div class=row>{body}</div>"), encoding="utf-8")
    return index
