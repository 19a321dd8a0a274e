"""MQTT publishing against a real mosquitto: the topic contract, nothing lost, TLS, commands."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.edge_service.mqtt_helpers import MOSQUITTO, Mosquitto, Subscriber, make_certificates, read_retained

pytestmark = pytest.mark.skipif(not os.path.exists(MOSQUITTO), reason="mosquitto is not installed")

DEVICE = "test-device"


def serve(broker_port: int, tmp_path: Path, *args: str, outbox: str = "outbox") -> subprocess.Popen:
    cmd = [sys.executable, "-m", "unseen.cli", "serve", "--device-id", DEVICE, "--mqtt-host", "127.0.0.1",
           "--mqtt-port", str(broker_port), "--outbox-dir", str(tmp_path / outbox), "--mqtt-backoff-max", "1",
           "--log-level", "warning", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 60) -> str:
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    return err


def test_topic_contract_results_layers_and_retained_status(broker, tmp_path):
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/#")
    process = serve(broker.port, tmp_path, "--frames", "5", "--backend", "numpy",
                    "--mqtt-layers", "conversion,conv1", "--mqtt-layers-every", "0")
    finish(process)
    assert subscriber.wait(lambda: len(subscriber.results()) == 5)
    results = subscriber.results()
    assert [r["seq"] for r in results] == [1, 2, 3, 4, 5]
    assert len({r["id"] for r in results}) == 5
    assert {"id", "device", "seq", "time", "top", "layers", "latency_ms", "model_sha256"} <= set(results[0])
    pngs = subscriber.payloads("/layers/conversion") + subscriber.payloads("/layers/conv1")
    assert len(pngs) == 10 and all(p.startswith(b"\x89PNG") for p in pngs)
    status = read_retained(broker.port, f"unseen/{DEVICE}/status")
    assert status["retain"] and status["state"] == "offline"
    assert status["counters"]["processed"] == 5 and status["outbox"]["messages"] == 0
    subscriber.close()


def test_the_last_will_marks_a_killed_service_offline(broker, tmp_path):
    process = serve(broker.port, tmp_path, "--loop", "--max-fps", "5", "--backend", "numpy",
                    "--mqtt-keepalive", "5")
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/result", "will-watcher")
    assert subscriber.wait(lambda: len(subscriber.results()) >= 1)
    online = read_retained(broker.port, f"unseen/{DEVICE}/status")
    assert online["state"] == "online" and online["backend"] == "numpy"
    process.send_signal(signal.SIGKILL)
    process.wait()
    # The broker publishes the will once the keepalive runs out (1.5 x 5 s at most).
    deadline = time.time() + 15
    status = online
    while time.time() < deadline and status["state"] != "offline":
        time.sleep(0.5)
        status = read_retained(broker.port, f"unseen/{DEVICE}/status")
    assert status["state"] == "offline" and status["retain"]
    subscriber.close()


def test_qos1_results_arrive_exactly_once_after_dropping_duplicates(broker, tmp_path):
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/result")
    # auto: the fastest runtime installed (LiteRT, or tflite-runtime in the device environment).
    finish(serve(broker.port, tmp_path, "--frames", "300", "--loop", "--backend", "auto",
                 "--no-channel-stats"))
    assert subscriber.wait(lambda: len(subscriber.unique_result_ids()) == 300)
    seqs = sorted({r["seq"] for r in subscriber.results()})
    assert seqs == list(range(1, 301))
    subscriber.close()


def test_broker_killed_and_restarted_several_times_loses_no_result(broker, tmp_path):
    frames = 2000
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/result", "restart-watcher")
    process = serve(broker.port, tmp_path, "--frames", str(frames), "--loop", "--backend", "auto",
                    "--max-fps", "250", "--no-channel-stats")
    for round_ in range(3):
        assert subscriber.wait(lambda: len(subscriber.unique_result_ids()) > 200 * (round_ + 1), 60)
        broker.stop(signal.SIGTERM)
        time.sleep(1.0)  # the service keeps processing; results wait in its outbox
        broker.start()
    finish(process, timeout=120)
    assert subscriber.wait(lambda: len(subscriber.unique_result_ids()) == frames, 60), \
        f"{frames - len(subscriber.unique_result_ids())} results missing"
    assert sorted({r["seq"] for r in subscriber.results()}) == list(range(1, frames + 1))
    subscriber.close()


def _outbox_ids(path: Path) -> set[str]:
    with sqlite3.connect(path / "outbox.sqlite3") as db:
        return {row[0] for row in db.execute("SELECT msg_id FROM messages WHERE kind = 'result'")}


def test_service_killed_with_sigkill_resends_everything_it_had_written(broker, tmp_path):
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/result", "kill-watcher")
    # The broker goes away first so that results pile up in the outbox, then the service dies.
    process = serve(broker.port, tmp_path, "--loop", "--backend", "numpy", "--max-fps", "100")
    assert subscriber.wait(lambda: len(subscriber.unique_result_ids()) >= 20)
    broker.stop()
    deadline = time.monotonic() + 30  # on a loaded machine frames come slowly: wait for the pile, not a time
    while len(_outbox_ids(tmp_path / "outbox")) <= 20 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = _outbox_ids(tmp_path / "outbox") | subscriber.unique_result_ids()
    waiting = _outbox_ids(tmp_path / "outbox")
    assert len(waiting) > 20, "the outbox should hold what the broker did not take"
    broker.start()
    restarted = serve(broker.port, tmp_path, "--loop", "--backend", "numpy", "--max-fps", "5")
    assert subscriber.wait(lambda: written <= subscriber.unique_result_ids(), 60), \
        f"{len(written - subscriber.unique_result_ids())} written results never arrived"
    restarted.send_signal(signal.SIGTERM)
    finish(restarted)
    subscriber.close()


def test_a_service_stopped_while_its_broker_restarts_still_drains_its_outbox(broker, tmp_path):
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/result", "drain-watcher")
    process = serve(broker.port, tmp_path, "--loop", "--backend", "numpy", "--max-fps", "50",
                    "--jsonl", str(tmp_path / "made.jsonl"), "--mqtt-drain-seconds", "30")
    assert subscriber.wait(lambda: len(subscriber.unique_result_ids()) >= 10)
    broker.stop()
    deadline = time.monotonic() + 30
    while len(_outbox_ids(tmp_path / "outbox")) <= 10 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)  # between sessions: the stop must wait for the broker to come back
    time.sleep(1.5)
    broker.start()
    finish(process)
    made = {json.loads(line)["id"] for line in (tmp_path / "made.jsonl").read_text().splitlines()}
    assert not _outbox_ids(tmp_path / "outbox")
    assert subscriber.wait(lambda: made <= subscriber.unique_result_ids(), 30), \
        f"{len(made - subscriber.unique_result_ids())} of {len(made)} results never arrived"
    subscriber.close()


def test_tls_with_generated_certificates(tmp_path):
    certs = make_certificates(tmp_path / "certs")
    server = Mosquitto(tmp_path / "tls-broker", tls=certs).start()
    try:
        subscriber = Subscriber(server.port, f"unseen/{DEVICE}/result")
        process = subprocess.run(
            [sys.executable, "-m", "unseen.cli", "serve", "--device-id", DEVICE, "--frames", "3",
             "--backend", "numpy", "--mqtt-host", "localhost", "--mqtt-port", str(server.tls_port), "--mqtt-tls",
             "--mqtt-ca-file", certs["ca"], "--outbox-dir", str(tmp_path / "outbox")],
            capture_output=True, text=True, timeout=60)
        assert process.returncode == 0, process.stderr
        assert subscriber.wait(lambda: len(subscriber.results()) == 3)
        subscriber.close()
        other = make_certificates(tmp_path / "other-ca")
        refused = subprocess.run(
            [sys.executable, "-m", "unseen.cli", "serve", "--frames", "1", "--mqtt-host", "localhost",
             "--mqtt-port", str(server.tls_port), "--mqtt-tls", "--mqtt-ca-file", other["ca"],
             "--outbox-dir", str(tmp_path / "outbox2")], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines()[-1].startswith("error: TLS with localhost")
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr and "Traceback" not in refused.stderr
    finally:
        server.stop()


def test_tls_to_a_plain_listener_names_the_likely_mistake(broker, tmp_path):
    err = finish(serve(broker.port, tmp_path, "--frames", "2", "--backend", "numpy", "--mqtt-tls"))
    assert f"is port {broker.port} a TLS listener?" in err  # and the results wait in the outbox
    assert len(_outbox_ids(tmp_path / "outbox")) == 2
    assert f"2 messages wait in the outbox {tmp_path / 'outbox'}" in err  # said at the stop


def test_a_wrong_password_is_one_clear_line(tmp_path):
    server = Mosquitto(tmp_path / "auth-broker", users={"camera": "secret"}).start()
    try:
        base = [sys.executable, "-m", "unseen.cli", "serve", "--frames", "1", "--backend", "numpy",
                "--mqtt-host", "127.0.0.1", "--mqtt-port", str(server.port), "--mqtt-username", "camera",
                "--outbox-dir", str(tmp_path / "outbox")]
        wrong = subprocess.run(base + ["--mqtt-password", "guess"], capture_output=True, text=True, timeout=60)
        assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
        last = wrong.stderr.strip().splitlines()[-1]
        assert last.startswith("error: MQTT broker 127.0.0.1") and "refused the connection: Not authorized" in last
        right = subprocess.run(base + ["--mqtt-password", "secret"], capture_output=True, text=True, timeout=60)
        assert right.returncode == 0, right.stderr
    finally:
        server.stop()


def _command(port: int, verb: str, payload: bytes, replies: Subscriber) -> dict:
    import paho.mqtt.publish as publish
    before = len(replies.payloads(f"/cmd/{verb}/reply"))
    publish.single(f"unseen/{DEVICE}/cmd/{verb}", payload, qos=1, hostname="127.0.0.1", port=port)
    assert replies.wait(lambda: len(replies.payloads(f"/cmd/{verb}/reply")) > before, 15), verb
    return json.loads(replies.payloads(f"/cmd/{verb}/reply")[-1])


def test_commands_bad_ones_get_error_replies_and_change_nothing(broker, tmp_path, shipped_model):
    models = tmp_path / "models"
    shutil.copytree(shipped_model, models / "alt")
    shutil.copytree(shipped_model, models / "tampered")
    data = bytearray((models / "tampered" / "model.tflite").read_bytes())
    data[-50] ^= 1
    (models / "tampered" / "model.tflite").write_bytes(bytes(data))
    watcher = Subscriber(broker.port, f"unseen/{DEVICE}/#", "command-watcher")
    process = serve(broker.port, tmp_path, "--loop", "--backend", "numpy", "--max-fps", "10",
                    "--model-dir", str(models), "--status-every", "0.2")
    assert watcher.wait(lambda: len(watcher.results()) >= 2)

    bad = [("set", b"{not json"), ("set", b"[1, 2]"), ("set", b'{"fps": -3}'), ("set", b'{"layers": ["nope"]}'),
           ("set", b'{"colour": "red"}'), ("explode", b"{}"), ("pause", b'{"now": true}'),
           ("reload", b'{"model": "../alt"}'), ("reload", b'{"model": "/etc"}'), ("reload", b'{"model": "none"}'),
           ("reload", b'{"model": "tampered"}'), ("set", b"x" * 70_000)]
    for verb, payload in bad:
        reply = _command(broker.port, verb, payload, watcher)
        assert reply["ok"] is False and reply["reason"], (verb, payload, reply)
    assert "does not match" in _command(broker.port, "reload", b'{"model": "tampered"}', watcher)["reason"]

    ok = _command(broker.port, "set", b'{"fps": 20, "top_k": 2, "id": "req-1"}', watcher)
    assert ok["ok"] and ok["id"] == "req-1"
    assert watcher.wait(lambda: len(watcher.results()[-1]["top"]) == 2)
    assert _command(broker.port, "snapshot", b"", watcher)["ok"]
    assert watcher.wait(lambda: len(watcher.payloads("/layers/predictions")) >= 1)
    assert _command(broker.port, "reload", b'{"model": "alt"}', watcher)["ok"]
    assert _command(broker.port, "pause", b"{}", watcher)["ok"]
    assert watcher.wait(lambda: json.loads(watcher.payloads("/status")[-1])["paused"])
    count = len(watcher.results())
    time.sleep(0.6)
    assert len(watcher.results()) <= count + 1
    assert _command(broker.port, "resume", b"{}", watcher)["ok"]
    assert watcher.wait(lambda: len(watcher.results()) > count + 2)
    assert process.poll() is None, "the service must keep running"
    process.send_signal(signal.SIGTERM)
    finish(process)
    watcher.close()


def test_home_assistant_discovery(broker, tmp_path):
    watcher = Subscriber(broker.port, "homeassistant/#", "ha")
    finish(serve(broker.port, tmp_path, "--frames", "1", "--backend", "numpy", "--mqtt-discovery"))
    assert watcher.wait(lambda: len(watcher.messages) >= 4)
    configs = {t: json.loads(p) for t, p, _ in watcher.messages}
    topic = f"homeassistant/sensor/{DEVICE}/top_label/config"
    assert topic in configs
    assert configs[topic]["state_topic"] == f"unseen/{DEVICE}/result"
    assert configs[topic]["availability_topic"] == f"unseen/{DEVICE}/status"
    assert {f"homeassistant/sensor/{DEVICE}/{s}/config" for s in ("confidence", "fps", "inference_time")} \
        <= set(configs)
    watcher.close()


def test_outbox_commands_and_watch(broker, tmp_path):
    from click.testing import CliRunner
    from unseen.cli import main

    runner = CliRunner()
    outbox = str(tmp_path / "held")
    # No broker reachable: everything stays in the outbox.
    dead = runner.invoke(main, ["serve", "--frames", "4", "--backend", "numpy", "--device-id", DEVICE,
                                "--mqtt-host", "127.0.0.1", "--mqtt-port", "1", "--outbox-dir", outbox,
                                "--mqtt-layers", "all", "--mqtt-layers-every", "0"])
    assert dead.exit_code == 0, dead.output
    status = runner.invoke(main, ["outbox", "status", "--outbox-dir", outbox])
    # 4 results + 4 x (8 layer images + 8 full-resolution conversion layers and their composite)
    assert status.output.startswith("72 messages waiting")
    watch = subprocess.Popen([sys.executable, "-m", "unseen.cli", "watch", "--mqtt-port", str(broker.port),
                              "--device-id", DEVICE, "--save", str(tmp_path / "watch"), "--count", "4",
                              "--timeout", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert watch.stdout.readline().startswith("watching")
    flush = runner.invoke(main, ["outbox", "flush", "--outbox-dir", outbox, "--device-id", DEVICE,
                                 "--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port)])
    assert flush.exit_code == 0 and "sent 72 of 72" in flush.output, flush.output
    out, err = watch.communicate(timeout=40)
    assert watch.returncode == 0, err
    assert "4 results, 0 duplicates dropped" in out and f"[{DEVICE}] #1 " in out
    assert (tmp_path / "watch" / "index.html").exists() and len(list((tmp_path / "watch" / "layers").glob("*.png"))) == 68
    purge = runner.invoke(main, ["outbox", "purge", "--outbox-dir", outbox, "--yes"])
    assert purge.output.strip() == "deleted 0 messages"


def test_mqtt5_carries_the_message_id_as_a_user_property(broker, tmp_path):
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    received = []
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"unseen/{DEVICE}/#", qos=1)
    client.on_message = lambda c, u, m: received.append(m)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    time.sleep(0.5)
    finish(serve(broker.port, tmp_path, "--frames", "2", "--backend", "numpy", "--mqtt-protocol", "5",
                 "--mqtt-layers", "conv1", "--mqtt-layers-every", "0"))
    deadline = time.time() + 10
    while time.time() < deadline and len([m for m in received if not m.topic.endswith("status")]) < 4:
        time.sleep(0.05)
    client.loop_stop()
    messages = [m for m in received if not m.topic.endswith("status")]
    assert len(messages) == 4
    for message in messages:
        properties = dict(message.properties.UserProperty)
        if message.topic.endswith("/result"):
            assert properties["id"] == json.loads(message.payload)["id"]
        else:
            assert properties["id"].endswith(":conv1") and message.payload.startswith(b"\x89PNG")


def test_tls_with_a_client_certificate_the_broker_requires(tmp_path):
    certs = make_certificates(tmp_path / "certs")
    server = Mosquitto(tmp_path / "mtls-broker", tls=dict(certs, require_client=True)).start()
    try:
        base = [sys.executable, "-m", "unseen.cli", "serve", "--device-id", DEVICE, "--frames", "2",
                "--backend", "numpy", "--mqtt-host", "localhost", "--mqtt-port", str(server.tls_port), "--mqtt-tls",
                "--mqtt-ca-file", certs["ca"], "--outbox-dir", str(tmp_path / "outbox")]
        without = subprocess.run(base, capture_output=True, text=True, timeout=60)
        assert without.returncode == 2 and "Traceback" not in without.stderr
        last = without.stderr.strip().splitlines()[-1]
        assert last.startswith("error: TLS with localhost") and "client certificate" in last
        subscriber = Subscriber(server.port, f"unseen/{DEVICE}/result")
        with_cert = subprocess.run(base + ["--mqtt-cert-file", certs["client_cert"],
                                           "--mqtt-key-file", certs["client_key"]],
                                   capture_output=True, text=True, timeout=60)
        assert with_cert.returncode == 0, with_cert.stderr
        assert subscriber.wait(lambda: len(subscriber.results()) == 2)
        subscriber.close()
    finally:
        server.stop()


def _publish(port: int, topic: str, payload: bytes) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def test_watch_survives_malformed_payloads_and_keeps_receiving(broker, tmp_path):
    watch = subprocess.Popen([sys.executable, "-m", "unseen.cli", "watch", "--mqtt-port", str(broker.port),
                              "--count", "1", "--timeout", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    assert watch.stdout.readline().startswith("watching unseen/+/result")
    for payload in (b'{"id":"a1","top":"x"}', b"\xff\xfe not json", b"[1,2]", b'{"id": 5}',
                    b'{"id":"a2","top":[{"label":1}]}'):
        _publish(broker.port, f"unseen/{DEVICE}/result", payload)
    _publish(broker.port, f"unseen/{DEVICE}/status", b"not json")
    good = {"id": "good-1", "seq": 1, "top": [{"label": "7", "score": 0.9}], "latency_ms": {"total": 1.0}}
    _publish(broker.port, f"unseen/{DEVICE}/result", json.dumps(good).encode())
    out, err = watch.communicate(timeout=40)
    assert watch.returncode == 0, err
    assert "Traceback" not in err, err
    assert "1 results, 0 duplicates dropped, 6 malformed skipped" in out, err
    assert f"[{DEVICE}] #1 7 0.90" in out


def test_outbox_flush_beside_a_running_service_leaves_its_session_and_status_alone(broker, tmp_path):
    from click.testing import CliRunner
    from unseen.cli import main
    held = tmp_path / "held"
    CliRunner().invoke(main, ["serve", "--frames", "2", "--backend", "numpy", "--device-id", DEVICE,
                              "--mqtt-host", "127.0.0.1", "--mqtt-port", "1", "--outbox-dir", str(held)])
    process = serve(broker.port, tmp_path, "--backend", "numpy", "--loop", "--max-fps", "5")
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/status")
    assert subscriber.wait(lambda: any(json.loads(p).get("state") == "online" for p in subscriber.payloads("status")))
    flush = CliRunner().invoke(main, ["outbox", "flush", "--outbox-dir", str(held), "--device-id", DEVICE,
                                      "--mqtt-host", "127.0.0.1", "--mqtt-port", str(broker.port)])
    assert flush.exit_code == 0 and "sent 2 of 2" in flush.output, flush.output
    time.sleep(1.0)
    assert process.poll() is None, "the running service was disconnected"
    states = [json.loads(p).get("state") for p in subscriber.payloads("status")]
    assert "offline" not in states, states
    process.send_signal(signal.SIGTERM)
    finish(process)
    subscriber.close()


def test_outbox_status_at_a_typo_creates_nothing(tmp_path):
    from click.testing import CliRunner
    from unseen.cli import main
    result = CliRunner().invoke(main, ["outbox", "status", "--outbox-dir", str(tmp_path / "typo")])
    assert result.exit_code == 2 and "no outbox at" in result.output
    assert not (tmp_path / "typo").exists()


def test_broker_on_a_taken_port_is_an_error_not_a_silent_impostor(broker, tmp_path):
    result = subprocess.run([sys.executable, "-m", "unseen.cli", "broker", "--port", str(broker.port)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "already in use" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--device-id", "a/b/#"], "must not contain"),
    (["--mqtt-prefix", "x/#"], "must not contain the MQTT wildcards"),
    (["--mqtt-port", "99999"], "above the maximum 65535"),
    (["--mqtt-ca-file", "/etc/hostname"], "mqtt.tls is off"),
])
def test_broker_settings_the_broker_would_refuse_are_errors_at_start(broker, tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "unseen.cli", "serve", "--frames", "1", "--backend", "numpy",
                             "--mqtt-host", "127.0.0.1", "--outbox-dir", str(tmp_path / "o"), *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_full_resolution_conversion_layers_are_published_on_their_own_topics(broker, tmp_path):
    import io
    from PIL import Image
    from edge_service.sources.files import SAMPLES_DIR
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/layers/#")
    finish(serve(broker.port, tmp_path, "--frames", "1", "--backend", "numpy", "--source",
                 str(SAMPLES_DIR / "hubble_deep_field.jpg"), "--mqtt-layers", "conversion/0,conversion/composite",
                 "--mqtt-layers-every", "0"))
    assert subscriber.wait(lambda: len(subscriber.messages) >= 2)
    size = Image.open(SAMPLES_DIR / "hubble_deep_field.jpg").size
    composite = Image.open(io.BytesIO(subscriber.payloads("/layers/conversion/composite")[0]))
    assert composite.size == size and composite.info["unseen:seq"] == "1"
    layer = Image.open(io.BytesIO(subscriber.payloads("/layers/conversion/0")[0]))
    assert layer.width > size[0] and layer.height > size[1]  # the map at full size, its title and colour bar
    subscriber.close()


def test_watch_that_never_reaches_a_broker_says_so_and_fails():
    """A port that accepts TCP but never answers MQTT (a firewall, a wrong service): no CONNACK ever."""
    import socket
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    port = silent.getsockname()[1]
    try:
        watch = subprocess.run([sys.executable, "-m", "unseen.cli", "watch", "--mqtt-port", str(port), "--timeout", "1"],
                               capture_output=True, text=True, timeout=30)
    finally:
        silent.close()
    assert watch.returncode == 2, watch.stderr
    assert f"never reached MQTT broker 127.0.0.1:{port} in 1 s" in watch.stderr
    assert "Traceback" not in watch.stderr and "results" not in watch.stdout


def test_outbox_flush_to_a_broker_that_never_answers_keeps_to_its_timeout(tmp_path):
    """Reaching the broker is part of the flush's --timeout (it used to add a 10 s connect wait)."""
    import socket

    from click.testing import CliRunner

    from edge_service.mqtt.outbox import Outbox
    from unseen.cli import main
    box = Outbox(tmp_path / "held")
    for i in range(3):
        box.put(f"unseen/{DEVICE}/result", b"{}", "result", f"id-{i}")
    box.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        started = time.monotonic()
        flushed = CliRunner().invoke(main, ["outbox", "flush", "--outbox-dir", str(tmp_path / "held"),
                                            "--mqtt-host", "127.0.0.1", "--mqtt-port", str(silent.getsockname()[1]),
                                            "--timeout", "2"])
        took = time.monotonic() - started
    finally:
        silent.close()
    assert flushed.exit_code == 1 and "sent 0 of 3 messages; 3 still waiting" in flushed.output, flushed.output
    assert took < 3.5, f"a 2 s flush took {took:.1f} s"
    assert len(_outbox_ids(tmp_path / "held")) == 3  # nothing lost


def test_a_message_on_a_topic_no_broker_takes_is_dropped_not_left_blocking_the_outbox(broker, tmp_path):
    """Such a topic came from a manifest whose layer name held a wildcard, before names were checked."""
    from click.testing import CliRunner

    from edge_service.mqtt.outbox import Outbox
    from unseen.cli import main
    subscriber = Subscriber(broker.port, f"unseen/{DEVICE}/#", "poison-watcher")
    box = Outbox(tmp_path / "held")
    box.put(f"unseen/{DEVICE}/layers/pool+1", b"png", "layer", "bad")
    for i in range(2):
        box.put(f"unseen/{DEVICE}/result", json.dumps({"id": f"good-{i}"}).encode(), "result", f"good-{i}")
    box.close()
    flushed = CliRunner().invoke(main, ["outbox", "flush", "--outbox-dir", str(tmp_path / "held"), "--mqtt-host",
                                        "127.0.0.1", "--mqtt-port", str(broker.port), "--timeout", "20"])
    assert flushed.exit_code == 0, flushed.output
    assert "sent 2 of 3 messages; 1 dropped: topics no broker takes" in flushed.output
    assert subscriber.wait(lambda: subscriber.unique_result_ids() == {"good-0", "good-1"})
    assert not _outbox_ids(tmp_path / "held")
    subscriber.close()
