"""What arrives from a device, parsed and checked once: a result, a status, a layer image or junk.

A collector survives any payload: anything that does not parse is a `Malformed` record,
counted per device and acknowledged (holding it would block the stream forever).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from dataclasses import dataclass

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$")
INT64 = 2**63 - 1


@dataclass
class Result:
    id: str
    device: str
    seq: int
    time: float                 # capture time, seconds since the epoch
    source: str
    model_sha256: str
    backend: str
    top: str                    # JSON text
    top_label: str
    top_score: float | None
    latency_ms: str             # JSON text
    total_ms: float | None
    layers: str                 # JSON text: per-layer statistics


@dataclass
class Status:
    device: str
    time: float | None          # the device's own clock; None for a will (it has none)
    state: str                  # the device's word: starting, running, offline...
    payload: str                # JSON text


@dataclass
class Image:
    id: str
    device: str
    layer: str
    result_id: str
    png: bytes


@dataclass
class Malformed:
    device: str
    reason: str


Record = Result | Status | Image | Malformed


def parse(topic: str, payload: bytes, prefix: str, message_id: str = "") -> Record | None:
    """A record for `<prefix>/<device>/result|status|layers/<layer>`; None for other topics (commands)."""
    parts = topic.split("/")
    base = prefix.strip("/").split("/")
    if parts[:len(base)] != base or len(parts) < len(base) + 2:
        return None
    device, rest = parts[len(base)], parts[len(base) + 1:]
    if rest == ["result"]:
        return _result(device, payload)
    if rest == ["status"]:
        return _status(device, payload)
    if len(rest) == 2 and rest[0] == "layers":
        return _image(device, rest[1], payload, message_id)
    return None


def _json(payload: bytes) -> dict | None:
    try:
        value = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _text(value, limit: int = 256) -> str:
    return value[:limit].replace("\x00", "") if isinstance(value, str) else ""


def _result(device: str, payload: bytes) -> Record:
    data = _json(payload)
    if data is None:
        return Malformed(device, "result is not a JSON object")
    rid, seq = data.get("id"), data.get("seq")
    if not isinstance(rid, str) or not ID.match(rid):
        return Malformed(device, "result without a valid id")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= INT64:
        return Malformed(device, f"result {rid} without a valid seq")
    try:
        captured = dt.datetime.fromisoformat(data["time"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return Malformed(device, f"result {rid} without a valid time")
    top = data.get("top") if isinstance(data.get("top"), list) else []
    first = top[0] if top and isinstance(top[0], dict) else {}
    latency = data.get("latency_ms") if isinstance(data.get("latency_ms"), dict) else {}
    layers = data.get("layers") if isinstance(data.get("layers"), dict) else {}
    return Result(rid, device, seq, captured, _text(data.get("source")), _text(data.get("model_sha256"), 64),
                  _text(data.get("backend"), 64), json.dumps(top), _text(first.get("label")),
                  _number(first.get("score")), json.dumps(latency), _number(latency.get("total")),
                  json.dumps(layers))


def _status(device: str, payload: bytes) -> Record:
    data = _json(payload)
    if data is None:
        return Malformed(device, "status is not a JSON object")
    return Status(device, _number(data.get("time")), _text(data.get("state"), 32) or "unknown",
                  json.dumps(data))


def _image(device: str, layer: str, payload: bytes, message_id: str) -> Record:
    if not payload.startswith(b"\x89PNG\r\n\x1a\n"):
        return Malformed(device, f"layer image {layer} is not a PNG")
    if not (ID.match(device) and ID.match(layer)):  # both become a file path
        return Malformed(device, "layer image with an unsafe device or layer name")
    # MQTT 5 carries the id as a user property; on 3.1.1 the bytes themselves are the key,
    # so a redelivered image is still stored once.
    if message_id and ID.match(message_id):
        return Image(message_id, device, layer, message_id.split(":", 1)[0], payload)
    digest = hashlib.sha256(topic_key(device, layer) + payload).hexdigest()[:32]
    return Image(f"sha-{digest}:{layer}", device, layer, "", payload)


def topic_key(device: str, layer: str) -> bytes:
    return f"{device}/{layer}/".encode()
