"""An HTML gallery of frames: each with its input, every layer's feature maps, prediction and timings."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from PIL import Image

from edge_service.errors import EdgeError
from edge_service.frame_pictures import draw, picture_names
from edge_service.pictures import html_page
from edge_service.results import FrameResult
from edge_service.sinks import Sink

def status_line(status: dict) -> str:
    """Model, backend, and the counters the status carries (a live run also has fps)."""
    parts = [f"model {status.get('model')} on {status.get('backend')}"]
    if "fps" in status:
        parts.append(f"{status['fps']} fps")
    for key, value in status.get("counters", {}).items():
        if isinstance(value, dict):
            parts += [f"{key} {k.replace('_', ' ')} {v}" for k, v in value.items()]
        elif key not in ("fps", "last_error"):
            parts.append(f"{key.replace('_', ' ')} {value}")
    return "; ".join(parts)


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
        last = list(result.outputs)[-1]
        pictures = []
        for i, name in enumerate(picture_names(result)):
            file = f"{i:02d}_{name.replace('/', '_')}.png"
            draw(result, name, self.labels if name == last else self.map_names.get(name)).save(folder / file)
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
        parts = []
        if self.last_status:
            parts.append(f"<p>{html.escape(status_line(self.last_status))}</p>")
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
        index.write_text(html_page(self.title, "\n".join(parts)), encoding="utf-8")
        return index

    def close(self) -> None:
        self.write_index()
