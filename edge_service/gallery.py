"""An HTML gallery of frames: each with its input, every layer's feature maps, prediction and timings."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from edge_service.errors import EdgeError
from edge_service.pictures import feature_grid, vector_chart
from edge_service.results import FrameResult
from edge_service.sinks import Sink

STYLE = """body{background:#181818;color:#ddd;font:14px sans-serif;margin:1em}
section{border-top:1px solid #444;padding:.6em 0}h2{font-size:16px;margin:.2em 0}
.row{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}figure{margin:0}
figcaption{font-size:12px;color:#aaa}img{image-rendering:pixelated;max-width:760px}
.top{font-size:15px;color:#fd5}table{font-size:12px;border-collapse:collapse}td{padding:0 .6em 0 0}"""


def layer_picture(name: str, values: np.ndarray, labels: list[str] | None = None) -> Image.Image:
    """A feature-map grid for a spatial layer (maps named by `labels` if given), a bar chart for a vector."""
    if values.ndim >= 3:
        maps = values.reshape(values.shape[-3:])
        names = labels if labels and len(labels) == maps.shape[-1] else None
        return feature_grid(maps, names, title=f"{name} {list(values.shape)}")
    flat = values.ravel()
    return vector_chart(flat, labels if labels and len(labels) == len(flat) else None, f"{name} ({len(flat)})")


class GallerySink(Sink):
    """Writes frames/<seq>/*.png and index.html; keeps the newest `keep` frames."""

    def __init__(self, folder: Path, labels: list[str], every: int = 1, keep: int = 200,
                 title: str = "unseen gallery", map_names: dict[str, list[str]] | None = None) -> None:
        self.folder, self.labels, self.every, self.keep, self.title = Path(folder), labels, max(1, every), keep, title
        self.map_names = map_names or {}  # layer -> a name per channel (the conversion matrix's layers)
        try:
            (self.folder / "frames").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeError(f"cannot create gallery {self.folder}: {exc.strerror}") from None
        self.entries: list[dict] = []
        self.last_status: dict = {}
        self.count = 0

    def publish(self, result: FrameResult) -> None:
        self.count += 1
        if (self.count - 1) % self.every:
            return
        folder = self.folder / "frames" / f"{result.seq:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(result.image).save(folder / "frame.png")
        model_input = Image.fromarray(result.model_input)
        zoom = max(1, 128 // max(model_input.size))
        model_input.resize((model_input.width * zoom, model_input.height * zoom), Image.NEAREST).save(folder / "input.png")
        last = list(result.values)[-1]
        pictures = []
        for i, (name, values) in enumerate(result.values.items()):
            file = f"{i:02d}_{name}.png"
            names = self.labels if name == last else self.map_names.get(name)
            layer_picture(name, values, names).save(folder / file)
            pictures.append((name, file))
        self.entries.append({"seq": result.seq, "folder": folder.name, "source": result.source,
                             "top": result.top, "latency": result.latency_ms, "backend": result.backend,
                             "layers": pictures})
        while len(self.entries) > self.keep:
            old = self.entries.pop(0)
            shutil.rmtree(self.folder / "frames" / old["folder"], ignore_errors=True)
        if len(self.entries) % 10 == 1:
            self.write_index()

    def status(self, status: dict) -> None:
        self.last_status = status

    def write_index(self) -> Path:
        parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(self.title)}</title>",
                 f"<style>{STYLE}</style><h1>{html.escape(self.title)}</h1>"]
        if self.last_status:
            s = self.last_status
            counters = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in s.get("counters", {}).items() if k != "fps")
            parts.append(f"<p>model {html.escape(str(s.get('model')))} on {html.escape(str(s.get('backend')))}, "
                         f"{s.get('fps', 0)} fps; {html.escape(counters)}</p>")
        for e in reversed(self.entries):
            top = ", ".join(f"{html.escape(t['label'])} {t['score']:.2f}" for t in e["top"])
            timing = " ".join(f"{k} {v} ms" for k, v in e["latency"].items() if not isinstance(v, dict))
            per_layer = e["latency"].get("layers", {})
            base = f"frames/{e['folder']}"
            figures = "".join(
                f"<figure><img src='{base}/{html.escape(f)}' alt='{html.escape(n)}'><figcaption>{html.escape(n)}"
                f"{' ' + str(per_layer[n]) + ' ms' if n in per_layer else ''}</figcaption></figure>"
                for n, f in e["layers"])
            parts.append(
                f"<section><h2>frame {e['seq']} <small>{html.escape(e['source'])}</small></h2>"
                f"<p class=top>{top}</p><p>{html.escape(e['backend'])}: {timing}</p><div class=row>"
                f"<figure><img src='{base}/frame.png' style='max-width:200px'><figcaption>camera</figcaption></figure>"
                f"<figure><img src='{base}/input.png'><figcaption>model input</figcaption></figure>{figures}</div></section>")
        index = self.folder / "index.html"
        index.write_text("\n".join(parts), encoding="utf-8")
        return index

    def close(self) -> None:
        self.write_index()
