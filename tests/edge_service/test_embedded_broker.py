"""The demo's broker: mosquitto when installed, else amqtt; either carries QoS 1 messages."""

from __future__ import annotations

import threading

import paho.mqtt.publish as publish
import paho.mqtt.subscribe as subscribe
import pytest

from fleet import broker as embedded_broker
from fleet.broker import EmbeddedBroker


def _round_trip(port: int) -> bytes:
    got = []
    thread = threading.Thread(target=lambda: got.append(
        subscribe.simple("demo/t", hostname="127.0.0.1", port=port, qos=1)), daemon=True)
    thread.start()
    thread.join(0.5)
    publish.single("demo/t", b"hello", qos=1, hostname="127.0.0.1", port=port)
    thread.join(10)
    return got[0].payload if got else b""


def test_mosquitto_when_installed():
    with EmbeddedBroker() as broker:
        if broker.kind != "mosquitto":
            pytest.skip("mosquitto is not installed")
        assert _round_trip(broker.port) == b"hello"


def test_amqtt_when_mosquitto_is_missing(monkeypatch):
    pytest.importorskip("amqtt")
    monkeypatch.setattr(embedded_broker.shutil, "which", lambda name: None)  # as on a machine without it
    monkeypatch.setattr(embedded_broker.Path, "exists", lambda self: False)
    with EmbeddedBroker() as broker:
        assert broker.kind == "amqtt"
        assert _round_trip(broker.port) == b"hello"
