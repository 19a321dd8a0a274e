"""The device configuration: a TOML file, every key also a command-line flag.

Unknown keys and bad values are refused naming the key. Flags override the file.
"""

from __future__ import annotations

import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_service.errors import EdgeError


class ConfigError(EdgeError):
    """A configuration key that is unknown or has a bad value."""


@dataclass(frozen=True)
class Field:
    key: str                      # "section.name" or "name"
    flag: str                     # the command-line flag
    type: type
    default: Any
    help: str
    choices: tuple = ()
    minimum: float | None = None


FIELDS = [
    Field("device_id", "--device-id", str, "", "device name in topics and results (default: unseen-<hostname>)"),
    Field("source.uri", "--source", str, "samples",
          "samples, synthetic, picamera, camera:N, rtsp://..., a video, an image, a folder or a glob"),
    Field("source.loop", "--loop", bool, False, "start again when a file source ends"),
    Field("source.retry_max_seconds", "--retry-max-seconds", float, 30.0, "longest wait between reconnects",
          minimum=0.1),
    Field("source.max_retries", "--max-retries", int, 0, "source failures in a row before stopping (0: never)",
          minimum=0),
    Field("model.path", "--model", str, "", "model folder or .tflite (default: the shipped model)"),
    Field("model.backend", "--backend", str, "auto", "inference backend",
          choices=("auto", "edgetpu", "litert", "tflite-runtime", "numpy")),
    Field("model.mode", "--mode", str, "tflm", "numpy kernels' arithmetic", choices=("tflm", "litert-ref")),
    Field("model.threads", "--threads", int, 0, "CPU threads for LiteRT (0: its default)", minimum=0),
    Field("model.max_failures", "--max-failures", int, 3,
          "accelerator failures in a row before the CPU takes over", minimum=1),
    Field("run.max_fps", "--max-fps", float, 0.0, "frames per second at most (0: no limit)", minimum=0),
    Field("run.queue", "--queue", int, 2, "frames waiting for inference at most", minimum=1),
    Field("run.frames", "--frames", int, 0, "stop after this many frames (0: run until stopped)", minimum=0),
    Field("run.top_k", "--top-k", int, 3, "labels per prediction", minimum=1),
    Field("run.channel_stats", "--channel-stats", bool, True, "per-channel statistics in each result"),
    Field("run.status_every", "--status-every", float, 10.0, "seconds between status messages", minimum=0.1),
    Field("output.jsonl", "--jsonl", str, "", "append each result as a JSON line to this file"),
    Field("output.status_file", "--status-file", str, "", "keep the latest status in this JSON file"),
    Field("output.gallery", "--gallery", str, "", "write an HTML gallery of frames and layers here"),
    Field("output.gallery_every", "--gallery-every", int, 1, "put every Nth frame in the gallery", minimum=1),
    Field("output.gallery_keep", "--gallery-keep", int, 200, "frames the gallery keeps", minimum=1),
    Field("model.dir", "--model-dir", str, "", "folder of models the `reload` command may load"),
    Field("mqtt.host", "--mqtt-host", str, "", "MQTT broker host; empty: no MQTT"),
    Field("mqtt.port", "--mqtt-port", int, 1883, "MQTT broker port", minimum=1),
    Field("mqtt.protocol", "--mqtt-protocol", str, "3.1.1", "MQTT protocol version", choices=("3.1.1", "5")),
    Field("mqtt.client_id", "--mqtt-client-id", str, "", "client id (default: the device id)"),
    Field("mqtt.keepalive", "--mqtt-keepalive", int, 30, "keepalive seconds", minimum=5),
    Field("mqtt.username", "--mqtt-username", str, "", "user name"),
    Field("mqtt.password", "--mqtt-password", str, "", "password"),
    Field("mqtt.tls", "--mqtt-tls", bool, False, "connect with TLS"),
    Field("mqtt.ca_file", "--mqtt-ca-file", str, "", "CA certificate for TLS (default: the system's)"),
    Field("mqtt.cert_file", "--mqtt-cert-file", str, "", "client certificate for TLS"),
    Field("mqtt.key_file", "--mqtt-key-file", str, "", "client key for TLS"),
    Field("mqtt.prefix", "--mqtt-prefix", str, "unseen", "topic prefix: <prefix>/<device_id>/..."),
    Field("mqtt.backoff_max", "--mqtt-backoff-max", float, 30.0, "longest wait between reconnects", minimum=0.1),
    Field("mqtt.layers", "--mqtt-layers", str, "", 'layers to publish as PNG: "all" or names, comma-separated'),
    Field("mqtt.layers_every", "--mqtt-layers-every", float, 5.0, "seconds between layer PNGs", minimum=0),
    Field("mqtt.discovery", "--mqtt-discovery", bool, False, "publish Home Assistant discovery"),
    Field("mqtt.discovery_prefix", "--mqtt-discovery-prefix", str, "homeassistant", "discovery topic prefix"),
    Field("outbox.dir", "--outbox-dir", str, "outbox", "folder of the durable outbox"),
    Field("outbox.max_mb", "--outbox-max-mb", float, 100.0, "outbox size bound in MiB", minimum=0.01),
    Field("outbox.max_messages", "--outbox-max-messages", int, 100_000, "outbox count bound", minimum=1),
    Field("http.listen", "--http", str, "", "serve the live page, /metrics and /healthz on [HOST:]PORT "
          "(host 127.0.0.1 unless given; empty: off)"),
    Field("http.token", "--http-token", str, "", "token every HTTP request needs; required beyond loopback"),
    Field("http.token_file", "--http-token-file", str, "", "read the HTTP token from this file"),
    Field("http.cert", "--http-cert", str, "", "TLS certificate (PEM) for the HTTP server"),
    Field("http.key", "--http-key", str, "", "TLS private key (PEM) for the HTTP server"),
    Field("log.level", "--log-level", str, "info", "logging detail",
          choices=("debug", "info", "warning", "error")),
]
BY_KEY = {f.key: f for f in FIELDS}


def default_device_id() -> str:
    return f"unseen-{socket.gethostname().split('.')[0]}"


def _check(field: Field, value: Any) -> Any:
    expected = field.type
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is int and isinstance(value, bool) or not isinstance(value, expected):
        raise ConfigError(f"{field.key}: expected {expected.__name__}, got {value!r}")
    if field.choices and value not in field.choices:
        raise ConfigError(f"{field.key}: {value!r} is not one of {', '.join(field.choices)}")
    if field.minimum is not None and value < field.minimum:
        raise ConfigError(f"{field.key}: {value!r} is below the minimum {field.minimum}")
    return value


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the TOML file, then flags; a flat dict keyed "section.name"."""
    values = {f.key: f.default for f in FIELDS}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        for key, value in _flatten(data).items():
            if key not in BY_KEY:
                raise ConfigError(f"{path}: unknown key {key!r}")
            values[key] = _check(BY_KEY[key], value)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _check(BY_KEY[key], value)
    if not values["device_id"]:
        values["device_id"] = default_device_id()
    return values


def example_config_path() -> Path:
    return Path(__file__).parent / "examples" / "device.toml"
