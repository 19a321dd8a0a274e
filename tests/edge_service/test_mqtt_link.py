"""A device given several brokers: it stays on the one it reached, passes over one that is down,
refuses or never answers, and moves on when it loses one; a drain does not wait out a backoff."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

from edge_service.mqtt.link import LinkHandlers, MqttLink, MqttSettings
from tests.edge_service.mqtt_helpers import MOSQUITTO, Mosquitto, Subscriber, read_retained
from tests.edge_service.test_mqtt import DEVICE, finish, serve

pytestmark = pytest.mark.skipif(not os.path.exists(MOSQUITTO), reason="mosquitto is not installed")


@pytest.fixture
def silent():
    """A port that takes TCP connections and never says a word (a firewall, a wrong service)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def test_a_device_given_two_brokers_moves_to_the_second_when_the_first_goes_and_loses_nothing(broker, tmp_path):
    second = Mosquitto(tmp_path / "second").start()
    try:
        on_first = Subscriber(broker.port, f"unseen/{DEVICE}/result", "first-watcher")
        on_second = Subscriber(second.port, f"unseen/{DEVICE}/result", "second-watcher")
        process = serve(broker.port, tmp_path, "--loop", "--backend", "numpy", "--max-fps", "50",
                        "--jsonl", str(tmp_path / "made.jsonl"), "--mqtt-host",
                        f"127.0.0.1:{broker.port},127.0.0.1:{second.port}", "--status-every", "0.5")
        assert on_first.wait(lambda: len(on_first.unique_result_ids()) >= 10)
        assert not on_second.results()  # the first of the list while it is there
        broker.stop()
        assert on_second.wait(lambda: len(on_second.unique_result_ids()) >= 10), "no results on the second broker"
        status = read_retained(second.port, f"unseen/{DEVICE}/status")
        assert status["mqtt"]["broker"] == f"127.0.0.1:{second.port}"
        process.send_signal(signal.SIGTERM)
        finish(process)
        made = {json.loads(line)["id"] for line in (tmp_path / "made.jsonl").read_text().splitlines()}
        arrived = on_first.unique_result_ids() | on_second.unique_result_ids()
        assert on_second.wait(lambda: made <= on_second.unique_result_ids() | on_first.unique_result_ids(), 30), \
            f"{len(made - arrived)} of {len(made)} results reached neither broker"
        on_first.close()
        on_second.close()
    finally:
        second.stop()


def test_an_unreachable_first_broker_is_passed_over_at_start(broker, tmp_path):
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/result", "list-watcher")
    err = finish(serve(broker.port, tmp_path, "--frames", "5", "--backend", "numpy",
                       "--mqtt-host", f"127.0.0.1:1,127.0.0.1:{broker.port}"))
    assert subscriber.wait(lambda: len(subscriber.unique_result_ids()) == 5)
    assert "not reachable yet" not in err and "none of the MQTT brokers" not in err
    subscriber.close()


def test_a_broker_that_refuses_the_credentials_is_passed_over_for_the_next(broker, tmp_path):
    locked = Mosquitto(tmp_path / "locked", users={"camera": "secret"}).start()
    try:
        subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/result", "open-watcher")
        err = finish(serve(broker.port, tmp_path, "--frames", "3", "--backend", "numpy",
                           "--mqtt-host", f"127.0.0.1:{locked.port},127.0.0.1:{broker.port}"))
        assert subscriber.wait(lambda: len(subscriber.unique_result_ids()) == 3)
        assert f"MQTT broker 127.0.0.1:{locked.port} refused the connection: Not authorized" in err
        subscriber.close()
    finally:
        locked.stop()


def test_every_broker_refusing_is_one_clear_error(tmp_path):
    locked = [Mosquitto(tmp_path / f"locked{i}", users={"camera": "secret"}).start() for i in (1, 2)]
    try:
        process = serve(locked[0].port, tmp_path, "--frames", "3", "--backend", "numpy",
                        "--mqtt-host", ",".join(f"127.0.0.1:{b.port}" for b in locked))
        _, err = process.communicate(timeout=60)
    finally:
        for server in locked:
            server.stop()
    assert process.returncode == 2 and "Traceback" not in err
    assert f"127.0.0.1:{locked[1].port} refused the connection: Not authorized" in err.splitlines()[-1]


def test_a_first_broker_that_never_answers_is_named_and_the_next_is_used(broker, silent, tmp_path):
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/result", "silent-watcher")
    err = finish(serve(broker.port, tmp_path, "--frames", "3", "--backend", "numpy", "--mqtt-connect-timeout", "1",
                       "--mqtt-host", f"127.0.0.1:{silent},127.0.0.1:{broker.port}"))
    assert subscriber.wait(lambda: len(subscriber.unique_result_ids()) == 3)
    assert f"MQTT broker 127.0.0.1:{silent} took the connection but did not answer in 1 s" in err
    assert "none of the MQTT brokers" not in err
    subscriber.close()


def test_a_drain_cuts_a_long_backoff_short():
    """With nothing listening, the first backoff is 2 to 4 s; retry_soon() ends it at once."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    link = MqttLink(MqttSettings(f"127.0.0.1:{port}", backoff_initial=4.0, backoff_max=60.0), "drain-test",
                    LinkHandlers())
    attempts = threading.Semaphore(0)
    connect_once = link._connect_once
    link._connect_once = lambda: (attempts.release(), connect_once())[1]
    link.start(wait=False)
    try:
        assert attempts.acquire(timeout=10)  # the first attempt; then the backoff
        assert not attempts.acquire(timeout=1.5), "the backoff should hold the next attempt for 2 s or more"
        link.retry_soon()
        assert attempts.acquire(timeout=1.0), "retry_soon() should end the backoff"
        assert attempts.acquire(timeout=1.5), "and keep the attempts at most half a second apart"
    finally:
        link.stop()


def test_watch_passes_over_a_broker_that_never_answers(broker, silent):
    watch = subprocess.run([sys.executable, "-m", "unseen.cli", "watch", "--mqtt-host",
                            f"127.0.0.1:{silent},127.0.0.1:{broker.port}", "--mqtt-connect-timeout", "1",
                            "--timeout", "4"], capture_output=True, text=True, timeout=60)
    assert watch.returncode == 0, watch.stderr
    assert f"127.0.0.1:{silent} took the connection but did not answer in 1 s" in watch.stderr
    assert f"on 127.0.0.1:{broker.port}" in watch.stdout + watch.stderr


def test_watch_passes_over_a_broker_that_refuses_it(broker, tmp_path):
    locked = Mosquitto(tmp_path / "locked", users={"camera": "secret"}).start()
    try:
        watch = subprocess.run([sys.executable, "-m", "unseen.cli", "watch", "--mqtt-host",
                                f"127.0.0.1:{locked.port},127.0.0.1:{broker.port}", "--timeout", "3"],
                               capture_output=True, text=True, timeout=60)
    finally:
        locked.stop()
    assert watch.returncode == 0, watch.stderr
    assert f"127.0.0.1:{locked.port} refused the connection: Not authorized; trying the next" in watch.stderr
    assert f"on 127.0.0.1:{broker.port}" in watch.stdout + watch.stderr
