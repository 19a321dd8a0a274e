"""Drawing the page's pictures in a worker process, so inference never waits for a picture.

In one process, a thread drawing holds the GIL for part of each picture, and on a busy
core the inference thread then waits for a drawer the OS has put to sleep. So the LiveSink
sends the arrays a viewer needs to one lower-priority worker process and gets PNG and JPEG
bytes back. Where a worker cannot run, it draws in a thread.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading

import numpy as np
from PIL import Image

from edge_service.http.render import (MAX_CELL, MAX_FOCUS, camera_jpeg, channel_view, encode, indexed_png,
                                      layer_mosaic, maps_of, model_input_png, rgb, sheet, step_for)
from edge_service.pictures import vector_chart
from edge_service.results import FrameResult

log = logging.getLogger("unseen.http")
PNG, JPEG = "image/png", "image/jpeg"


def _shrunk(values: np.ndarray, limit: int) -> tuple[np.ndarray, int]:
    """Every n-th pixel of a big map (made here, so only that much crosses to the worker)."""
    maps = maps_of(values)
    if maps is None:
        return values, 1
    step = step_for(maps.shape, limit)
    return (np.ascontiguousarray(maps[::step, ::step]) if step > 1 else maps), step


def job_for(result: FrameResult, keys: list[str], map_names: dict, labels: list[str]) -> dict:
    """What the worker needs for `keys` (camera, input, layer:L, focus:L:C, sheet:L1,L2|all) of one frame."""
    last = list(result.values)[-1]
    job = {"keys": keys, "values": {}, "steps": {}, "names": {}, "last": last, "labels": labels,
           "title": f"#{result.seq}" + (f": {result.top[0]['label']} {result.top[0]['score']:.2f}" if result.top else "")}

    def add(layer: str, limit: int, tag: str) -> None:
        job["values"][tag], job["steps"][tag] = _shrunk(result.values[layer], limit)
        if layer in map_names:
            job["names"][layer] = map_names[layer]
    for key in keys:
        kind, _, rest = key.partition(":")
        if kind in ("camera", "sheet"):
            job["image"] = result.image
        if kind == "input":
            job["model_input"] = result.model_input
        elif kind == "layer":
            add(rest, MAX_CELL, rest)
        elif kind == "focus":
            layer = rest.rpartition(":")[0]
            add(layer, MAX_FOCUS, f"focus:{layer}")
        elif kind == "sheet":
            for name in result.values:
                if rest == "all" or name in rest.split(","):
                    add(name, MAX_CELL, name)
    return job


def draw(job: dict) -> list[tuple[dict, bytes]]:
    """The pictures for `job`, in the order of its keys (runs in the worker)."""
    out = []
    for key in job["keys"]:
        kind, _, rest = key.partition(":")
        if kind == "camera":
            out.append(({"key": key, "mime": JPEG}, camera_jpeg(job["image"])))
        elif kind == "input":
            out.append(({"key": key, "mime": PNG}, model_input_png(job["model_input"])))
        elif kind == "layer":
            picture, layout = layer_mosaic(job["values"][rest], job["names"].get(rest))
            layout["subsampled"] = job["steps"][rest]
            out.append(({"key": key, "mime": PNG, "layer": rest, "layout": layout}, indexed_png(picture)))
        elif kind == "focus":
            layer, _, channel = rest.rpartition(":")
            labels = job["labels"] if layer == job["last"] else None
            png, scale = channel_view(job["values"][f"focus:{layer}"], int(channel), labels)
            scale["subsampled"] = scale.get("subsampled", 1) * job["steps"][f"focus:{layer}"]
            names = job["names"].get(layer) or labels or []
            if scale["channel"] < len(names):
                scale["name"] = names[scale["channel"]]
            out.append(({"key": "focus", "mime": PNG, "layer": layer, "scale": scale}, png))
        elif kind == "sheet":
            pictures = [(job["title"], Image.fromarray(np.ascontiguousarray(job["image"])))]
            for name, values in job["values"].items():
                if maps_of(values) is None and values.size <= 64:  # a short vector reads best as labelled bars
                    labels = job["labels"] if name == job["last"] else None
                    pictures.append((name, vector_chart(values.ravel(), labels, width=240)))
                else:
                    pictures.append((name, rgb(layer_mosaic(values)[0])))
            out.append(({"key": key, "mime": JPEG}, encode(sheet(pictures), "JPEG")))
    return out


class Drawer:
    """Runs `draw` in one worker process (`python -m edge_service.http.draw`), started at the first
    picture and fed pickled jobs over a pipe; draws in the calling thread when it cannot."""

    def __init__(self, use_process: bool = True) -> None:
        self.use_process = use_process
        self.worker: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def __call__(self, job: dict) -> list[tuple[dict, bytes]]:
        with self.lock:  # one job at a time: the worker answers in order
            if self.use_process:
                try:
                    if self.worker is None or self.worker.poll() is not None:
                        self.worker = subprocess.Popen([sys.executable, "-m", "edge_service.http.draw"],
                                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                    _send(self.worker.stdin, job)
                    kind, value = _receive(self.worker.stdout)
                    if kind == "ok":
                        return value
                    log.error("drawing a picture failed: %s", value)  # then once more, here, to show it
                except (OSError, EOFError, pickle.PickleError) as exc:
                    log.warning("pictures are drawn in a thread from now on (the worker process: %s)", exc)
                    self._stop()
                    self.use_process = False
        return draw(job)

    def _stop(self) -> None:
        if self.worker is not None:
            try:
                self.worker.stdin.close()
                self.worker.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                self.worker.kill()
            self.worker = None

    def close(self) -> None:
        with self.lock:
            self._stop()


def _send(stream, value) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack(">Q", len(data)) + data)
    stream.flush()


def _receive(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the worker stopped")
    size = struct.unpack(">Q", head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the worker stopped mid-answer")
    return pickle.loads(data)  # our own child's answer, never data from the network


def worker() -> None:
    """The worker's loop: a job in, its pictures out, until the service closes the pipe."""
    os.nice(5)  # inference first, pictures after
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the service's to handle
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            job = _receive(source)
        except EOFError:
            return
        try:
            answer = ("ok", draw(job))
        except Exception as exc:  # report and keep serving: one odd layer must not stop the page
            answer = ("error", f"{type(exc).__name__}: {exc}")
        _send(sink, answer)


if __name__ == "__main__":
    worker()
