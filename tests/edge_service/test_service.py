"""Starting the service: a refusal at start closes what was already open."""

from __future__ import annotations

import threading

import pytest

from edge_service.config.loader import load_config
from edge_service.errors import UnseenError
from edge_service.service import serve
from edge_service.sinks import Sink
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
