"""Collecting from NATS, the parts that need no nats-server: subject names, and a server that never answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from fleet.nats_source import FIRST_CONNECT_SECONDS, subject_to_topic

pytest.importorskip("nats", reason="the receiving side's extra is not installed (pip install 'unseen[fleet]')")


@pytest.mark.parametrize("subject, topic", [("$MQTT.msgs.unseen.cam1.result", "unseen/cam1/result"),
                                            ("$MQTT.msgs.unseen.cam//1.layers.conv1", "unseen/cam.1/layers/conv1"),
                                            ("unseen.cam1.status", "unseen/cam1/status")])
def test_a_nats_subject_reads_back_as_the_mqtt_topic_it_was_published_on(subject, topic):
    assert subject_to_topic(subject) == topic


@pytest.mark.parametrize("timeout, deadline", [("120", FIRST_CONNECT_SECONDS), ("3", 3)])
def test_a_server_that_accepts_and_never_speaks_fails_within_the_first_connect_deadline(tmp_path, timeout,
                                                                                       deadline):
    """A firewall or a wrong service on the port: TCP connects, no INFO ever comes. A shorter
    --timeout shortens the wait."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    started = time.monotonic()
    try:
        collect = subprocess.run([sys.executable, "-m", "unseen.cli", "collect", "--db", str(tmp_path / "r.sqlite"),
                                  "--nats", f"nats://127.0.0.1:{port}", "--timeout", timeout],
                                 capture_output=True, text=True, timeout=90)
    finally:
        silent.close()
    took = time.monotonic() - started
    assert collect.returncode == 2, collect.stderr
    assert "Traceback" not in collect.stderr
    assert f"cannot reach NATS at nats://127.0.0.1:{port} within {deadline:g} s" in collect.stderr.splitlines()[-1]
    assert took < deadline + 30, f"held for {took:.0f} s"
