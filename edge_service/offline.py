"""`unseen layers` and `unseen filters`: pictures of one image's layers, and of the weights."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from edge_service.backends import select_backend
from edge_service.gallery import STYLE, GallerySink
from edge_service.images import read_image
from edge_service.inspect_model import load_graph
from edge_service.manifest import default_model_dir, load_artefact
from edge_service.pictures import feature_grid, filter_grid
from edge_service.pipeline import Pipeline
from edge_service.results import FrameResult
from edge_service.sources import Frame
from edge_service.sources.base import FrameSource


def render_layers(images: list[Path], model: Path | None, backend: str,
                  output: Path) -> tuple[Path, list[FrameResult]]:
    artefact = load_artefact(model or default_model_dir())
    chosen, notes = select_backend(artefact, backend)
    gallery = GallerySink(output, artefact.manifest.labels, title=f"layers of {artefact.manifest.name}",
                          map_names=artefact.manifest.map_names())
    pipeline = Pipeline(artefact, FrameSource(), chosen, [gallery], backend_notes=notes)
    results = []
    for seq, path in enumerate(images, 1):
        result = pipeline.process(Frame(seq, path.stat().st_mtime, read_image(path, "RGB"), path.name))
        gallery.publish(result)
        results.append(result)
    gallery.status(pipeline.status())
    return gallery.write_index(), results


def render_filters(model: Path | None, output: Path) -> Path:
    """One PNG per weighted op (dequantized weights), and an index.html."""
    loaded = load_graph(model)
    graph, path = loaded.graph, loaded.path
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
        name = graph.tensors[op.outputs[0]].name
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
    index.write_text(f"<!doctype html><meta charset=utf-8><title>filters</title><style>{STYLE}</style>"
                     f"<h1>filters of {html.escape(str(path))}</h1><p>Grey is zero, white positive, black "
                     f"negative; each filter scaled on its own.</p><div class=row>{body}</div>")
    return index
