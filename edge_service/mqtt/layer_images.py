"""Layer images for layers/<layer>: drawn and encoded on a thread of their own, never the loop's."""

from __future__ import annotations

import io
import logging
import queue
import threading
from collections.abc import Callable

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from edge_service.frame_pictures import draw
from edge_service.results import FrameResult

log = logging.getLogger("unseen.mqtt")


def layer_png(result: FrameResult, name: str) -> bytes:
    """A palette PNG at low compression: the grids have few colours, and speed matters more than bytes.

    The PNG names its result in text chunks (unseen:id, unseen:seq, unseen:layer), so a subscriber
    on MQTT 3.1.1, which has no user properties, can still tell which frame an image belongs to.
    """
    info = PngInfo()
    info.add_text("unseen:layer", name)
    info.add_text("unseen:id", result.id)
    info.add_text("unseen:seq", str(result.seq))
    buffer = io.BytesIO()
    draw(result, name).save(buffer, format="PNG", compress_level=1, pnginfo=info)
    return buffer.getvalue()


def png_identity(png: bytes) -> dict[str, str]:
    """The unseen:* text chunks of a layer PNG (empty when it has none); reads no pixels."""
    try:
        with Image.open(io.BytesIO(png)) as image:
            return {k.split(":", 1)[1]: v for k, v in image.info.items() if k.startswith("unseen:")}
    except (OSError, SyntaxError) as exc:  # Pillow's words for "not an image I can read"
        raise ValueError(f"not a PNG ({exc})") from None


class LayerEncoder:
    """Draws the chosen layers of a result and hands each PNG on. The queue is short and `submit`
    waits when it is full: images that cannot be drawn as fast as frames come slow the loop down
    rather than pile up in memory or vanish unsaid."""

    def __init__(self, deliver: Callable[[str, bytes, str], None], depth: int = 4) -> None:
        self.deliver = deliver  # (layer name, png, message id)
        self.jobs: queue.Queue[tuple[FrameResult, list[str]] | None] = queue.Queue(depth)
        self.thread = threading.Thread(target=self._run, name="layer-images", daemon=True)
        self.thread.start()

    def submit(self, result: FrameResult, names: list[str]) -> None:
        if names:
            self.jobs.put((result, names))

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    return
                result, names = job
                for name in names:
                    try:
                        self.deliver(name, layer_png(result, name), f"{result.id}:{name}")
                    except Exception as exc:  # one picture that fails must not stop the others
                        log.error("layer image %s of frame %d: %s", name, result.seq, exc)
            finally:
                self.jobs.task_done()

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=30)
