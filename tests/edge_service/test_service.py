"""Starting the service: its MQTT timing keys, and a refusal at start closing what was already open."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from edge_service.config.loader import load_config
from edge_service.errors import UnseenError
from edge_service.service import mqtt_settings, serve
from edge_service.sinks import Sink
from fleet.broker import free_port
from tests.edge_service.mqtt_helpers import MOSQUITTO, Mosquitto


class Recorder(Sink):
    def __init__(self) -> None:
        self.closed = False

    def publish(self, result) -> None:
        raise AssertionError("no frame may flow when the start is refused")

    def close(self) -> None:
        self.closed = True


@pytest.mark.skipif(MOSQUITTO is None, reason="needs mosquitto")
def test_a_broker_refusing_at_start_closes_the_other_sinks_and_the_mqtt_threads(tmp_path):
    server = Mosquitto(tmp_path / "auth-broker", users={"camera": "secret"}).start()
    try:
        before = set(threading.enumerate())
        recorder = Recorder()
        config = load_config(overrides={"mqtt.host": "127.0.0.1", "mqtt.port": server.port,
                                        "mqtt.username": "camera", "mqtt.password": "guess",
                                        "outbox.dir": str(tmp_path / "outbox"), "model.backend": "numpy",
                                        "run.frames": 1})
        with pytest.raises(UnseenError, match="Not authorized"):
            serve(config, extra_sinks=[recorder])
        assert recorder.closed
        left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
        assert left == [], left
    finally:
        server.stop()


def test_the_connect_timeout_and_drain_time_are_config_keys_and_flags(tmp_path):
    settings = mqtt_settings(load_config(overrides={"mqtt.connect_timeout": 0.5, "mqtt.drain_seconds": 0.25}))
    assert (settings.connect_timeout, settings.drain_seconds) == (0.5, 0.25)
    port = free_port()  # nobody listens there: the broker never answers
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "unseen.cli", "serve", "--frames", "1", "--backend", "numpy",
                             "--mqtt-host", "127.0.0.1", "--mqtt-port", str(port), "--mqtt-connect-timeout", "0.5",
                             "--outbox-dir", str(tmp_path / "outbox")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "not reachable yet" in result.stderr
    assert time.monotonic() - start < 9  # the default connect timeout alone is 10 s
