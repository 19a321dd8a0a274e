"""`watch --http`: the live page for every device under an MQTT prefix, fed from the broker.

Each device's retained status says online or offline; its results and layer PNGs show as
they arrive (duplicates dropped by id); commands go out on cmd/<verb> with a request id and
the page shows the device's reply from cmd/<verb>/reply.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import time
import uuid

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image

from edge_service.errors import EdgeError
from edge_service.http.hub import Hub, Picture, View
from edge_service.http.render import encode, sheet
from edge_service.mqtt.client import connect_first
from edge_service.mqtt.settings import MqttSettings
from fleet.devices import Device, fleet_families, focus_scale
from fleet.layout import crop_channel, published_layout

VERB = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class FleetError(EdgeError):
    """The fleet page cannot reach or is refused by its broker."""


class FleetHub(Hub):
    mode = "fleet"

    def __init__(self, host: str, port: int, prefix: str = "unseen", username: str = "", password: str = "",
                 reply_timeout: float = 10.0) -> None:
        self.host, self.port, self.prefix = host, port, prefix.rstrip("/")
        self.title = f"unseen fleet: {self.prefix}/"
        self.reply_timeout = reply_timeout
        self.fleet: dict[str, Device] = {}
        self.lock = threading.Lock()
        self.waiting: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self.malformed = 0
        self.connected = threading.Event()
        self.outcome = threading.Event()
        self.refused = ""
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"unseen-watch-{uuid.uuid4().hex[:8]}")
        if username:
            self.client.username_pw_set(username, password or None)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.connected.clear()
        self.client.on_message = self._on_message

    # -- MQTT ---------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> "FleetHub":
        settings = MqttSettings(self.host, self.port)
        try:
            address = connect_first(self.client, settings.brokers, 30)
        except OSError as exc:
            raise FleetError(f"cannot reach MQTT broker {settings.address} ({exc})") from None
        self.client.loop_start()
        self.outcome.wait(timeout)
        if self.refused:
            self.close()
            raise FleetError(f"MQTT broker {address} refused the connection: {self.refused}")
        return self

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
        else:
            for kind in ("status", "result", "layers/+", "cmd/+/reply"):
                client.subscribe(f"{self.prefix}/+/{kind}", qos=1)
            self.connected.set()
        self.outcome.set()

    def _on_message(self, client, userdata, message) -> None:
        parts = message.topic[len(self.prefix) + 1:].split("/")
        if len(parts) < 2 or not parts[0]:
            return
        name, kind = parts[0], parts[1]
        if kind == "cmd" and len(parts) == 4 and parts[3] == "reply":
            return self._reply(message.payload)
        with self.lock:
            device = self.fleet.get(name) or self.fleet.setdefault(name, Device(name))
            if kind == "layers" and len(parts) == 3:
                if not message.payload.startswith(PNG_MAGIC):
                    self.malformed += 1
                    return
                device.layers[parts[2]] = message.payload
                device.version += 1
            elif kind in ("status", "result"):
                try:
                    data = json.loads(message.payload)
                    assert isinstance(data, dict)
                except (ValueError, AssertionError):
                    self.malformed += 1  # a subscriber survives any payload
                    return
                if kind == "status":
                    device.status = data
                elif not device.duplicate(data.get("id")):
                    device.result, device.version, device.results = data, device.version + 1, device.results + 1
            else:
                return
            device.seen = time.time()

    def _reply(self, payload: bytes) -> None:
        try:
            reply = json.loads(payload)
        except ValueError:
            self.malformed += 1
            return
        waiting = self.waiting.get(reply.get("id")) if isinstance(reply, dict) else None
        if waiting:
            loop, future = waiting
            loop.call_soon_threadsafe(lambda: future.done() or future.set_result(reply))

    # -- the Hub interface ----------------------------------------------------------------------
    def devices(self) -> list[dict]:
        now, out = time.time(), []
        with self.lock:
            for device in sorted(self.fleet.values(), key=lambda d: d.id):
                s, top = device.status, ((device.result or {}).get("top") or [{}])[0]
                out.append({"id": device.id, "online": s.get("state") == "online", "state": s.get("state", "unknown"),
                            "paused": bool(s.get("paused")), "fps": s.get("fps"), "backend": s.get("backend"),
                            "model": s.get("model"), "top": top.get("label"),
                            "seen": round(now - device.seen, 1) if device.seen else None})
        return out

    def version(self, device: str) -> object:
        found = self.fleet.get(device)
        return found.version if found else None

    def frame(self, device: str, view: View) -> tuple[dict, list[Picture]] | None:
        with self.lock:
            found = self.fleet.get(device)
            if found is None or (found.result is None and not found.layers):
                return None
            result, images = dict(found.result or {}), dict(found.layers)
            shapes = {name: found.shape(name) for name in images}
        stats = result.get("layers") or {}
        order = list(stats) + [name for name in images if name not in stats]
        latency = result.get("latency_ms") or {}
        per_layer = latency.get("layers") or {}
        layers = {n: {k: stats.get(n, {}).get(k) for k in ("shape", "min", "max", "mean", "active")}
                  | ({"ms": per_layer[n]} if n in per_layer else {}) for n in order}
        message = {"t": "frame", "device": device, "id": result.get("id"), "seq": result.get("seq"),
                   "time": result.get("time"), "source": result.get("source"), "backend": result.get("backend"),
                   "model_sha256": result.get("model_sha256"), "top": result.get("top") or [], "layers": layers,
                   "order": order, "latency": {k: v for k, v in latency.items() if not isinstance(v, dict)}}
        pictures = [({"key": f"layer:{n}", "mime": "image/png", "layer": n, "layout": published_layout(shapes[n])},
                     images[n]) for n in order if n in images and view.wants(n)]
        if view.focus and view.focus[0] in images:
            layer, channel = view.focus
            layout = published_layout(shapes[layer])
            channel = min(max(channel, 0), layout["count"] - 1)
            pictures.append(({"key": "focus", "mime": "image/png", "layer": layer,
                              "scale": focus_scale(stats.get(layer) or {}, layout, channel)},
                             crop_channel(images[layer], layout, channel)))
        return message, pictures

    def status_for(self, device: str) -> dict:
        with self.lock:
            found = self.fleet.get(device)
            return dict(found.status) if found else {}

    async def command(self, device: str, verb: str, payload: bytes) -> dict:
        if device not in self.fleet:
            return {"ok": False, "verb": verb, "reason": f"no device {device!r} under {self.prefix}/"}
        if not VERB.match(verb):
            return {"ok": False, "verb": verb, "reason": "a verb is a short lower-case word"}
        try:
            args = json.loads(payload) if payload.strip() else {}
            assert isinstance(args, dict)
        except (ValueError, AssertionError):
            return {"ok": False, "verb": verb, "reason": "arguments must be a JSON object"}
        request = args["id"] = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting[request] = (loop, future)
        try:
            self.client.publish(f"{self.prefix}/{device}/cmd/{verb}", json.dumps(args).encode(), qos=1)
            reply = await asyncio.wait_for(future, self.reply_timeout)
        except asyncio.TimeoutError:
            reply = {"ok": False, "verb": verb, "reason": f"no reply from {device} within {self.reply_timeout:g} s"}
        finally:
            self.waiting.pop(request, None)
        reply.pop("id", None)
        return reply

    def snapshot_jpeg(self, device: str, layers) -> bytes | None:
        with self.lock:
            found = self.fleet.get(device)
            images = dict(found.layers) if found else {}
        pictures = [(name, Image.open(io.BytesIO(png))) for name, png in images.items()
                    if layers == "all" or name in layers]
        return encode(sheet(pictures), "JPEG") if pictures else None

    def metric_families(self) -> list:
        with self.lock:
            devices = list(self.fleet.values())
        return fleet_families(devices, self.malformed, self.connected.is_set())

    def health(self) -> tuple[bool, dict]:
        online = sum(1 for d in self.devices() if d["online"])
        return self.connected.is_set(), {"state": "online" if self.connected.is_set() else "disconnected",
                                         "devices": len(self.fleet), "online": online}
