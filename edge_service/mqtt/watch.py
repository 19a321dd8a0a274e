"""`unseen watch`: follow a device's results live, drop duplicates, keep layer PNGs and a gallery."""

from __future__ import annotations

import html
import json
import threading
import time
from collections import deque
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_service.errors import EdgeError
from edge_service.gallery import STYLE


class Watcher:
    def __init__(self, host: str, port: int, prefix: str = "unseen", device: str = "+",
                 save: Path | None = None, echo=print, username: str = "", password: str = "") -> None:
        self.prefix, self.save, self.echo = prefix.rstrip("/"), save, echo
        self.topics = [f"{self.prefix}/{device}/result", f"{self.prefix}/{device}/status",
                       f"{self.prefix}/{device}/layers/+"]
        self.seen: set[str] = set()
        self.duplicates = 0
        self.results = 0
        self.images = 0
        self.recent: deque[dict] = deque(maxlen=50)
        self.latest_layers: dict[str, str] = {}
        self.statuses: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.refused = ""
        self.client = paho.Client(CallbackAPIVersion.VERSION2)
        if username:
            self.client.username_pw_set(username, password or None)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        try:
            self.client.connect(host, port, 30)
        except OSError as exc:
            raise EdgeError(f"cannot reach MQTT broker {host}:{port} ({exc})") from None
        if save:
            (save / "layers").mkdir(parents=True, exist_ok=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
            return
        for topic in self.topics:
            client.subscribe(topic, qos=1)

    def _on_message(self, client, userdata, message) -> None:
        parts = message.topic.split("/")
        device = parts[-2] if parts[-1] in ("result", "status") else parts[-3]
        if parts[-1] == "status":
            try:
                self.statuses[device] = json.loads(message.payload)
            except ValueError:
                return
            s = self.statuses[device]
            self.echo(f"[{device}] status {s.get('state')} backend {s.get('backend')} fps {s.get('fps')}")
        elif parts[-1] == "result":
            try:
                result = json.loads(message.payload)
            except ValueError:
                self.echo(f"[{device}] unreadable result dropped")
                return
            with self.lock:
                if result.get("id") in self.seen:
                    self.duplicates += 1
                    return
                self.seen.add(result.get("id"))
                self.results += 1
                self.recent.appendleft(result)
            top = ", ".join(f"{t['label']} {t['score']:.2f}" for t in result.get("top", []))
            self.echo(f"[{device}] #{result.get('seq')} {top}  ({result.get('latency_ms', {}).get('total')} ms)")
        elif self.save:
            layer = parts[-1]
            with self.lock:
                self.images += 1  # a counter, not the time: two images can arrive in one millisecond
                name = f"{device}_{layer}_{self.images:06d}.png"
                self.latest_layers[f"{device}/{layer}"] = name
            (self.save / "layers" / name).write_bytes(message.payload)

    def run(self, count: int = 0, timeout: float = 0, linger: float = 1.0) -> int:
        """Until `count` unique results (0: forever) or `timeout` seconds; returns results seen.

        After the last counted result it listens `linger` seconds more, for that frame's layer images.
        """
        self.client.loop_start()
        deadline = time.monotonic() + timeout if timeout else None
        try:
            while not (count and self.results >= count) and not (deadline and time.monotonic() > deadline):
                if self.refused:
                    raise EdgeError(f"the broker refused the connection: {self.refused}")
                time.sleep(0.05)
            if count and self.results >= count:
                time.sleep(linger)
        finally:
            self.client.loop_stop()
            self.client.disconnect()
            if self.save:
                self.write_gallery()
        return self.results

    def write_gallery(self) -> Path:
        rows = "".join(
            f"<tr><td>{html.escape(str(r.get('device')))}</td><td>{r.get('seq')}</td>"
            f"<td>{html.escape(', '.join(t['label'] + ' ' + format(t['score'], '.2f') for t in r.get('top', [])))}"
            f"</td><td>{r.get('latency_ms', {}).get('total')} ms</td></tr>" for r in self.recent)
        figures = "".join(f"<figure><img src='layers/{html.escape(f)}'><figcaption>{html.escape(k)}</figcaption>"
                          f"</figure>" for k, f in sorted(self.latest_layers.items()))
        index = self.save / "index.html"
        index.write_text(f"<!doctype html><meta charset=utf-8><title>unseen watch</title><style>{STYLE}</style>"
                         f"<h1>unseen watch</h1><p>{self.results} results, {self.duplicates} duplicates dropped</p>"
                         f"<h2>latest layers</h2><div class=row>{figures}</div><h2>latest results</h2>"
                         f"<table><tr><td>device</td><td>seq</td><td>top</td><td>latency</td></tr>{rows}</table>")
        return index
