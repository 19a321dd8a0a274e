"""LiveSink: the device's live page source. Keeps only the newest result and status, never a queue.

`publish` runs on the inference thread and only keeps a reference and adds a few numbers;
pictures are made later, in a worker process (edge_service.http.draw), only for what a
viewer asks for, once per frame however many viewers there are.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from edge_service.http.draw import Drawer, job_for
from edge_service.http.hub import Hub, Picture, View
from edge_service.http.metrics import FrameMetrics, status_families
from edge_service.results import FrameResult
from edge_service.sinks import Sink


class LiveSink(Sink, Hub):
    mode = "device"
    wants_values = True  # the page draws each layer from its dequantized values

    def __init__(self, device_id: str, labels: list[str], map_names: dict[str, list[str]] | None = None,
                 status_fn: Callable[[], dict] | None = None,
                 control: Callable[[str, bytes], dict] | None = None) -> None:
        self.device_id, self.labels, self.map_names = device_id, labels, map_names or {}
        self.title = f"unseen: {device_id}"
        self.status_fn, self.control = status_fn, control
        self.latest: FrameResult | None = None
        self.last_status: dict = {}
        self.count = 0
        self.seen_at = 0.0
        self.frame_metrics = FrameMetrics()
        self.cache: dict[str, Picture] = {}
        self.cache_id = ""
        self.lock = threading.Lock()
        self.on_close: list[Callable[[], None]] = []
        self.drawer = Drawer()

    # -- the Sink interface (inference thread: keep it cheap) ------------------------------
    def publish(self, result: FrameResult) -> None:
        self.latest = result
        self.count += 1
        self.seen_at = time.time()
        self.frame_metrics.observe(result.backend, result.latency_ms)

    def status(self, status: dict) -> None:
        self.last_status = status

    def close(self) -> None:
        for closer in self.on_close:
            closer()
        self.drawer.close()

    # -- the Hub interface -------------------------------------------------------------------
    def current_status(self) -> dict:
        return self.status_fn() if self.status_fn else self.last_status

    def devices(self) -> list[dict]:
        status, result = self.current_status(), self.latest
        return [{"id": self.device_id, "online": status.get("state") == "online", "state": status.get("state"),
                 "paused": status.get("paused", False), "fps": status.get("fps"), "backend": status.get("backend"),
                 "model": status.get("model"), "top": result.top[0]["label"] if result and result.top else None,
                 "seen": round(time.time() - self.seen_at, 1) if self.seen_at else None}]

    def version(self, device: str) -> object:
        return self.count

    def frame(self, device: str, view: View) -> tuple[dict, list[Picture]] | None:
        result = self.latest  # one read: the pipeline may replace it meanwhile
        if result is None:
            return None
        order = list(result.values)
        per_layer = result.latency_ms.get("layers") or {}
        layers = {name: {k: result.layers.get(name, {}).get(k) for k in ("shape", "min", "max", "mean", "active")}
                  | ({"ms": per_layer[name]} if name in per_layer else {}) for name in order}
        message = {"t": "frame", "device": self.device_id, "id": result.id, "seq": result.seq,
                   "time": result.captured_at, "source": result.source, "backend": result.backend,
                   "model_sha256": result.model_sha256, "top": result.top, "layers": layers, "order": order,
                   "latency": {k: v for k, v in result.latency_ms.items() if not isinstance(v, dict)}}
        wanted = (["camera"] if view.camera else []) + ["input"] + [f"layer:{n}" for n in order if view.wants(n)]
        if view.focus and view.focus[0] in result.values:
            wanted.append(f"focus:{view.focus[0]}:{view.focus[1]}")
        return message, self._pictures(result, wanted)

    def _pictures(self, result: FrameResult, keys: list[str]) -> list[Picture]:
        with self.lock:  # each picture is drawn once per frame, however many viewers ask
            if self.cache_id != result.id:
                self.cache, self.cache_id = {}, result.id
            missing = [key for key in keys if key not in self.cache]
            if missing:
                job = job_for(result, missing, self.map_names, self.labels)
                self.cache.update(zip(missing, self.drawer(job)))
            return [self.cache[key] for key in keys]

    def status_for(self, device: str) -> dict:
        return self.current_status()

    async def command(self, device: str, verb: str, payload: bytes) -> dict:
        if self.control is None:
            return {"ok": False, "verb": verb, "reason": "commands are not enabled"}
        return await asyncio.get_running_loop().run_in_executor(None, self.control, verb, payload)

    def snapshot_jpeg(self, device: str, layers: list[str] | str) -> bytes | None:
        result = self.latest
        if result is None:
            return None
        return self._pictures(result, ["sheet:" + (layers if layers == "all" else ",".join(layers))])[0][1]

    def metric_families(self) -> list:
        return status_families([({}, self.current_status())]) + self.frame_metrics.families()

    def health(self) -> tuple[bool, dict]:
        status = self.current_status()
        state = status.get("state", "starting")
        return state == "online", {"state": state, "frames": self.count,
                                                 "paused": status.get("paused", False)}
