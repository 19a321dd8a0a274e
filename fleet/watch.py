"""`unseen watch`: follow devices' results live, drop duplicates, keep layer PNGs and a gallery.

A subscriber survives any payload: a malformed message is counted, logged in one line, skipped.
"""

from __future__ import annotations

import html
import json
import logging
import threading
import time
from collections import deque
from pathlib import Path

from edge_service.mqtt.layer_images import png_identity
from edge_service.mqtt.brokers import format_address
from edge_service.mqtt.client import connect_first, make_client
from edge_service.mqtt.settings import MqttSettings
from edge_service.pictures import html_page
from fleet.errors import FleetError

log = logging.getLogger("unseen.watch")


def parse_result(payload: bytes) -> dict:
    """A result message, checked for the fields a watcher reads; ValueError when malformed."""
    result = json.loads(payload)
    if not isinstance(result, dict) or not isinstance(result.get("id"), str):
        raise ValueError("not a result object with a string id")
    top = result.get("top", [])
    if not isinstance(top, list) or not all(isinstance(t, dict) and isinstance(t.get("label"), str)
                                            and isinstance(t.get("score"), (int, float)) for t in top):
        raise ValueError("'top' is not a list of {label, score}")
    if not isinstance(result.get("seq", 0), int) or not isinstance(result.get("latency_ms", {}), dict):
        raise ValueError("'seq' or 'latency_ms' has the wrong type")
    return result


class Watcher:
    def __init__(self, settings: MqttSettings, device: str = "+", save: Path | None = None, echo=print,
                 client_id: str = "") -> None:
        self.settings, self.save, self.echo = settings, save, echo
        prefix = settings.prefix.rstrip("/")
        self.prefix = prefix
        self.topics = [f"{prefix}/{device}/result", f"{prefix}/{device}/status", f"{prefix}/{device}/layers/#"]
        self.seen: set[str] = set()
        self.duplicates = self.results = self.images = self.malformed = self.save_errors = 0
        self.recent: deque[dict] = deque(maxlen=50)
        self.latest_layers: dict[str, str] = {}
        self.statuses: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.refused = ""
        self.connected = False
        self.client = make_client(settings, client_id, will=None)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.pending_subscriptions: set[int] = set()
        if save:
            (save / "layers").mkdir(parents=True, exist_ok=True)
        self.brokers = settings.brokers  # parsed once: the run loop asks every 50 ms
        self.tried = 1                   # brokers of the list tried so far
        self._connect(self.brokers)

    def _connect(self, brokers) -> None:
        try:
            self.address = connect_first(self.client, brokers, self.settings.keepalive)
        except OSError as exc:
            raise FleetError(f"cannot reach MQTT broker {self.settings.address} ({exc})") from None
        self.answer_by = time.monotonic() + self.settings.connect_timeout

    def _next_broker(self, why: str) -> None:
        """The broker did not answer, or refused: the others of the list, in turn."""
        brokers = self.brokers
        names = [format_address(*b) for b in brokers]
        after = names.index(self.address) + 1 if self.address in names else 0
        log.warning("MQTT broker %s %s; trying the next", self.address, why)
        self.tried += 1
        self.refused = ""
        self.client.loop_stop()
        self._connect(brokers[after:] + brokers[:after])
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.refused = str(reason_code)
            return
        self.connected = True
        for topic in self.topics:
            self.pending_subscriptions.add(client.subscribe(topic, qos=1)[1])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self.pending_subscriptions.discard(mid)
        if not self.pending_subscriptions:  # a caller (or a test) may start publishing now
            self.echo(f"watching {', '.join(self.topics)} on {self.address}")

    def _on_message(self, client, userdata, message) -> None:
        try:  # paho's network thread dies on an exception: nothing a device sends may raise here
            self._handle(message.topic, message.payload)
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            self.malformed += 1
            log.warning("skipped a malformed message on %s: %s", message.topic, exc)
        except OSError as exc:  # the --save folder: full or gone
            self.save_errors += 1
            log.error("cannot save %s: %s", message.topic, exc)

    def _handle(self, topic: str, payload: bytes) -> None:
        # <prefix>/<device>/status | result | layers/<layer>[/<channel>]
        device, _, rest = topic[len(self.prefix) + 1:].partition("/")
        if rest == "status":
            status = json.loads(payload)
            if not isinstance(status, dict):
                raise ValueError("status is not an object")
            self.statuses[device] = status
            self.echo(f"[{device}] status {status.get('state')} backend {status.get('backend')} "
                      f"fps {status.get('fps')}")
        elif rest == "result":
            self._result(device, parse_result(payload))
        elif self.save and rest.startswith("layers/"):
            self._layer_image(device, rest[len("layers/"):].replace("/", "-"), payload)

    def _result(self, device: str, result: dict) -> None:
        with self.lock:
            if result["id"] in self.seen:
                self.duplicates += 1
                return
            self.seen.add(result["id"])
            self.results += 1
            self.recent.appendleft(result)
        top = ", ".join(f"{t['label']} {t['score']:.2f}" for t in result.get("top", []))
        self.echo(f"[{device}] #{result.get('seq')} {top}  ({result.get('latency_ms', {}).get('total')} ms)")

    def _layer_image(self, device: str, layer: str, payload: bytes) -> None:
        identity = png_identity(payload)  # which result it belongs to: the PNG says so itself
        if "seq" not in identity or "id" not in identity or not identity["seq"].isdigit():
            raise ValueError("a layer image without its unseen:seq and unseen:id")
        name = f"{device}_{int(identity['seq']):06d}-{identity['id'][:8]}_{layer}.png"
        with self.lock:
            self.images += 1
            self.latest_layers[f"{device}/{layer}"] = name
        (self.save / "layers" / name).write_bytes(payload)

    def run(self, count: int = 0, timeout: float = 0, linger: float = 1.0) -> int:
        """Until `count` unique results (0: forever) or `timeout` seconds; returns results seen.

        After the last counted result it listens `linger` seconds more, for that frame's layer images.
        """
        self.client.loop_start()
        deadline = time.monotonic() + timeout if timeout else None
        try:
            while not (count and self.results >= count) and not (deadline and time.monotonic() > deadline):
                untried = not self.connected and self.tried < len(self.brokers)
                if self.refused and untried:
                    self._next_broker(f"refused the connection: {self.refused}")
                elif self.refused:
                    raise FleetError(f"MQTT broker {self.address} refused the connection: {self.refused}")
                elif untried and time.monotonic() > self.answer_by:
                    self._next_broker(f"took the connection but did not answer in {self.settings.connect_timeout:g} s")
                time.sleep(0.05)
            if count and self.results >= count:
                time.sleep(linger)
            if not self.connected:  # "0 results" would read as a quiet fleet, not an unreachable broker
                raise FleetError(f"never reached MQTT broker {self.address} in {timeout:g} s")
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
        body = (f"<p>{self.results} results, {self.duplicates} duplicates dropped, {self.malformed} malformed "
                f"skipped</p><h2>latest layers</h2><div class=row>{figures}</div><h2>latest results</h2>"
                f"<table><tr><td>device</td><td>seq</td><td>top</td><td>latency</td></tr>{rows}</table>")
        index = self.save / "index.html"
        index.write_text(html_page("unseen watch", body), encoding="utf-8")
        return index
