"""The device configuration's sections; each field is declared here once (see options.py)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from edge_service.config.options import broker_list, mqtt_string, no_topic_wildcards, option, topic_level


def backend_names() -> tuple[str, ...]:
    """From the backend registry, imported only when a value is checked or --help is drawn."""
    from edge_service.backends import BACKENDS
    return ("auto", *BACKENDS)


def default_device_id() -> str:
    return f"unseen-{socket.gethostname().split('.')[0]}"


def default_state_dir() -> Path:
    """/var/lib/unseen for the system service (root), else $XDG_STATE_HOME/unseen: never the cwd."""
    if os.geteuid() == 0 and not os.environ.get("XDG_STATE_HOME"):
        return Path("/var/lib/unseen")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "unseen"


@dataclass
class DeviceSection:
    device_id: str = option("", "--device-id", "device name in topics and results (default: unseen-<hostname>)",
                            check=topic_level, example="pi-kitchen")


@dataclass
class SourceSection:
    uri: str = option("samples", "--source",
                      "samples, synthetic, picamera, camera:N, rtsp://..., a video, an image, a folder or a glob")
    loop: bool = option(False, "--loop", "start again when a file source ends", example=True)
    retry_max_seconds: float = option(30.0, "--retry-max-seconds", "longest wait between reconnects to a live source",
                                      minimum=0.1, maximum=3600)
    max_retries: int = option(0, "--max-retries", "live-source failures in a row before stopping (0: never)",
                              minimum=0)


@dataclass
class ModelSection:
    path: str = option("", "--model", "model folder or .tflite (default: the shipped model)")
    backend: str = option("auto", "--backend", "inference backend (only auto falls back to another)",
                          choices=backend_names)
    mode: str = option("tflm", "--mode", "numpy kernels' arithmetic: as TFLite Micro, or as LiteRT's reference",
                       choices=("tflm", "litert-ref"))
    threads: int = option(0, "--threads", "CPU threads for LiteRT (0: its default)", minimum=0, maximum=256)
    max_failures: int = option(3, "--max-failures", "accelerator failures in a row before the CPU takes over",
                               minimum=1)
    dir: str = option("", "--model-dir", "folder of models the `reload` command may load",
                      example="/var/lib/unseen/models")


@dataclass
class RunSection:
    max_fps: float = option(0.0, "--max-fps", "frames per second at most (0: no limit)", minimum=0, maximum=1000,
                            example=5.0)
    queue: int = option(2, "--queue", "frames waiting for inference at most", minimum=1, maximum=1000)
    frames: int = option(0, "--frames", "stop after this many frames (0: run until stopped)", minimum=0)
    top_k: int = option(0, "--top-k", "labels per prediction, at most the model's label count (0: 3, or every "
                        "label of a model with fewer)", minimum=0)
    channel_stats: bool = option(True, "--channel-stats", "per-channel statistics in each result")
    conversion_max_pixels: int = option(2_000_000, "--conversion-max-pixels",
                                        "conversion layers at the frame's own resolution, scaled down to at most "
                                        "this many pixels (0: off)", minimum=0, maximum=50_000_000)
    status_every: float = option(10.0, "--status-every", "seconds between status messages", minimum=0.1,
                                 maximum=86400)


@dataclass
class OutputSection:
    jsonl: str = option("", "--jsonl", "write each result as a JSON line to this file (a previous run's file is kept as <file>.1)",
                        example="/var/lib/unseen/results.jsonl")
    status_file: str = option("", "--status-file", "keep the latest status in this JSON file",
                              example="/var/lib/unseen/status.json")
    gallery: str = option("", "--gallery", "write an HTML gallery of frames and layers to this folder")
    gallery_every: int = option(1, "--gallery-every", "put every Nth frame in the gallery", minimum=1, example=10)
    gallery_keep: int = option(200, "--gallery-keep", "frames the gallery keeps", minimum=1)


@dataclass
class MqttSection:
    host: str = option("", "--mqtt-host", "MQTT broker host, or several as host[:port],... tried in turn when "
                       "one is unreachable (a cluster's nodes); empty: no MQTT", check=broker_list)
    port: int = option(1883, "--mqtt-port", "MQTT broker port (for hosts given without one)", minimum=1,
                       maximum=65535)
    protocol: str = option("3.1.1", "--mqtt-protocol", "MQTT protocol version (5 adds ids as user properties)",
                           choices=("3.1.1", "5"))
    client_id: str = option("", "--mqtt-client-id", "client id (default: the device id)", check=no_topic_wildcards)
    keepalive: int = option(30, "--mqtt-keepalive", "keepalive seconds", minimum=5, maximum=65535)
    username: str = option("", "--mqtt-username", "user name", check=mqtt_string)
    password: str = option("", "--mqtt-password", "password", check=mqtt_string, secret=True)
    tls: bool = option(False, "--mqtt-tls", "connect with TLS")
    ca_file: str = option("", "--mqtt-ca-file", "CA certificate for TLS (default: the system's)")
    cert_file: str = option("", "--mqtt-cert-file", "client certificate for TLS")
    key_file: str = option("", "--mqtt-key-file", "client key for TLS")
    prefix: str = option("unseen", "--mqtt-prefix", "topic prefix: <prefix>/<device_id>/...",
                         check=no_topic_wildcards)
    backoff_max: float = option(30.0, "--mqtt-backoff-max", "longest wait between reconnects", minimum=0.1,
                                maximum=3600)
    connect_timeout: float = option(10.0, "--mqtt-connect-timeout",
                                    "seconds to wait at start for the broker's answer before going on offline "
                                    "(results wait in the outbox)", minimum=0.1, maximum=600)
    drain_seconds: float = option(5.0, "--mqtt-drain-seconds",
                                  "on a clean stop, how long to wait for the outbox to reach the broker",
                                  minimum=0, maximum=3600)
    layers: str = option("", "--mqtt-layers", 'layers to publish as PNG: "all" or names, comma-separated')
    layers_every: float = option(5.0, "--mqtt-layers-every", "seconds between layer PNGs", minimum=0)
    discovery: bool = option(False, "--mqtt-discovery", "publish Home Assistant discovery")
    discovery_prefix: str = option("homeassistant", "--mqtt-discovery-prefix", "discovery topic prefix",
                                   check=no_topic_wildcards)


@dataclass
class OutboxSection:
    dir: str = option("", "--outbox-dir", "folder of the durable outbox (default: <state dir>/outbox)",
                      example="/var/lib/unseen/outbox")
    max_mb: float = option(100.0, "--outbox-max-mb", "outbox size bound in MiB (layer images go first)",
                           minimum=0.01)
    max_messages: int = option(100_000, "--outbox-max-messages", "outbox count bound", minimum=1)

    def folder(self) -> Path:
        return Path(self.dir) if self.dir else default_state_dir() / "outbox"


@dataclass
class HttpSection:
    listen: str = option("", "--http", "serve the live page, /metrics and /healthz on [HOST:]PORT "
                                     "(host 127.0.0.1 unless given; empty: off)", example="")
    token: str = option("", "--http-token", "token every HTTP request needs; required beyond loopback")
    token_file: str = option("", "--http-token-file", "read the HTTP token from this file")
    cert: str = option("", "--http-cert", "TLS certificate (PEM) for the HTTP server")
    key: str = option("", "--http-key", "TLS private key (PEM) for the HTTP server")


@dataclass
class LogSection:
    level: str = option("info", "--log-level", "logging detail", choices=("debug", "info", "warning", "error"))


# TOML table -> (attribute on Config, section type); "" is the top level of the file.
SECTIONS: dict[str, tuple[str, type]] = {
    "": ("device", DeviceSection), "source": ("source", SourceSection), "model": ("model", ModelSection),
    "run": ("run", RunSection), "output": ("output", OutputSection), "mqtt": ("mqtt", MqttSection),
    "outbox": ("outbox", OutboxSection), "http": ("http", HttpSection), "log": ("log", LogSection),
}


@dataclass
class Config:
    device: DeviceSection = field(default_factory=DeviceSection)
    source: SourceSection = field(default_factory=SourceSection)
    model: ModelSection = field(default_factory=ModelSection)
    run: RunSection = field(default_factory=RunSection)
    output: OutputSection = field(default_factory=OutputSection)
    mqtt: MqttSection = field(default_factory=MqttSection)
    outbox: OutboxSection = field(default_factory=OutboxSection)
    http: HttpSection = field(default_factory=HttpSection)
    log: LogSection = field(default_factory=LogSection)

    @property
    def device_id(self) -> str:
        return self.device.device_id
