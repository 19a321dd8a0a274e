"""`unseen collect` against a real mosquitto: shared subscriptions, persistent sessions, outages, liveness."""

from __future__ import annotations

import json
import os
import signal
import time

import paho.mqtt.client as paho
import pytest

from paho.mqtt.enums import CallbackAPIVersion

from tests.edge_service.mqtt_helpers import MOSQUITTO
from tests.fleet.helpers import (Collector, finish, recorded_ids, report, serve, stored_count, stored_ids,
                                 wait_for)

pytest.importorskip("nats", reason="the receiving side's extra is not installed (pip install 'unseen[fleet]')")

pytestmark = pytest.mark.skipif(not os.path.exists(MOSQUITTO), reason="mosquitto is not installed")


def exactly_once(db: str, expected: list[str]) -> None:
    stored = stored_ids(db)
    assert len(stored) == len(set(stored))
    missing = set(expected) - set(stored)
    assert not missing, f"{len(missing)} of {len(expected)} recorded results are not in the database"
    assert len(set(stored)) == len(set(expected))


def test_shared_collectors_split_the_stream_and_one_killed_gets_its_queue_back(broker, tmp_path):
    db = str(tmp_path / "results.sqlite")
    args = ("--mqtt-port", str(broker.port), "--share", "fleet")
    first, second = Collector(db, *args, "--client-id", "c1"), Collector(db, *args, "--client-id", "c2")
    for c in (first, second):
        c.wait_line("subscribed on")
    devices = [serve(broker.port, tmp_path, f"cam{i}", "--frames", "500", "--loop", "--max-fps", "40")
               for i in (1, 2)]  # 12 s of frames: room for the kill and the carry-on on a loaded machine
    assert wait_for(lambda: len(stored_ids(db)) > 100, 60)
    first.kill()  # what it held unacknowledged, and what arrives for it meanwhile, waits in its session
    during = len(stored_ids(db))
    assert wait_for(lambda: len(stored_ids(db)) > during + 100, 30), "the other collector must carry on"
    time.sleep(1.0)
    first = Collector(db, *args, "--client-id", "c1")
    for device in devices:
        finish(device)
    expected = recorded_ids(tmp_path, "cam1") + recorded_ids(tmp_path, "cam2")
    assert len(expected) == 1000
    assert wait_for(lambda: len(stored_ids(db)) >= 1000, 90)
    time.sleep(0.5)
    split = [stored_count(c.stop()) for c in (first, second)]
    assert all(n > 0 for n in split), split  # the restarted c1 stored what was queued for it
    exactly_once(db, expected)
    for device in ("cam1", "cam2"):
        assert report(db)[device]["missing"] == 0


def test_a_collector_killed_and_restarted_with_its_client_id_receives_what_was_queued(broker, tmp_path):
    db = str(tmp_path / "results.sqlite")
    collector = Collector(db, "--mqtt-port", str(broker.port), "--client-id", "keeper")
    collector.wait_line("subscribed on")
    # 12 s of frames: the collector dies early on, so most of them queue for it (a loaded machine
    # that polls late still leaves hundreds).
    device = serve(broker.port, tmp_path, "cam", "--frames", "600", "--loop", "--max-fps", "50")
    assert wait_for(lambda: len(stored_ids(db)) > 20, 60)
    collector.kill()
    finish(device)  # every result reaches the broker while no collector is there
    queued = 600 - len(stored_ids(db))
    assert queued > 100
    restarted = Collector(db, "--mqtt-port", str(broker.port), "--client-id", "keeper", "--count", str(queued))
    restarted.process.wait(timeout=60)
    summary = restarted.stop()
    assert stored_count(summary) == queued, summary
    exactly_once(db, recorded_ids(tmp_path, "cam"))


def test_duplicates_and_junk_are_dropped_and_counted(broker, tmp_path):
    db = str(tmp_path / "results.sqlite")
    collector = Collector(db, "--mqtt-port", str(broker.port), "--mqtt-protocol", "3.1.1", "--client-id", "d",
                          "--layers")
    collector.wait_line("subscribed on")
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    results = [json.dumps({"id": f"r{i}", "seq": i, "time": "2026-05-01T10:00:00.000+00:00", "top": []})
               for i in range(1, 101)]
    infos = [client.publish("unseen/cam/result", payload, qos=1) for _ in range(3) for payload in results]
    junk = [b"", b"not json", b"[]", b'{"seq": 1}', b'{"id": "x", "seq": "one", "time": "2026-05-01"}']
    infos += [client.publish("unseen/cam/result", payload, qos=1) for payload in junk]
    infos.append(client.publish("unseen/cam/layers/conv1", b"not a png", qos=1))
    for info in infos:
        info.wait_for_publish(10)
    client.loop_stop()
    client.disconnect()
    assert wait_for(lambda: report(db).get("cam", {}).get("malformed") == 6, 30)
    summary = collector.stop()
    assert summary.startswith("stored 100 results, 200 duplicates dropped, 6 malformed"), summary
    cam = report(db)["cam"]
    assert (cam["stored"], cam["duplicates"], cam["missing"]) == (100, 200, 0)


def test_postgresql_down_then_up_loses_nothing_acknowledged(broker, tmp_path, postgres, pg_url):
    args = ("--mqtt-port", str(broker.port), "--client-id", "pg-collector", "--offline-after", "60")
    collector = Collector(pg_url, *args)
    collector.wait_line("subscribed on")
    device = serve(broker.port, tmp_path, "cam", "--frames", "1500", "--loop", "--max-fps", "100")
    assert wait_for(lambda: len(stored_ids(pg_url)) > 150, 60)
    postgres.stop()  # an outage the collector lives through: it holds, retries, resumes
    collector.wait_line("database unavailable", 30)
    time.sleep(2.0)
    postgres.start()
    collector.wait_line("database back", 60)
    assert wait_for(lambda: len(stored_ids(pg_url)) > 700, 60)
    postgres.stop("immediate")  # a crash, and the collector killed while it holds messages
    collector.wait_line("holding", 30)
    collector.kill()
    postgres.start()
    finish(device)
    restarted = Collector(pg_url, *args)
    expected = recorded_ids(tmp_path, "cam")
    assert wait_for(lambda: len(stored_ids(pg_url)) >= len(expected), 60)
    restarted.stop()
    exactly_once(pg_url, expected)
    assert report(pg_url)["cam"]["missing"] == 0


def test_a_full_sqlite_database_holds_messages_until_there_is_room(broker, tmp_path):
    db = str(tmp_path / "results.sqlite")
    args = ("--mqtt-port", str(broker.port), "--client-id", "small")
    collector = Collector(db, *args, "--db-max-mb", "0.3")
    collector.wait_line("subscribed on")
    device = serve(broker.port, tmp_path, "cam", "--frames", "600", "--loop", "--max-fps", "150")
    collector.wait_line("the database is full", 60)
    finish(device)
    held = len(stored_ids(db))
    assert 0 < held < 600
    collector.stop()  # it stops while holding: nothing it held was acknowledged
    roomy = Collector(db, *args)
    assert wait_for(lambda: len(stored_ids(db)) >= 600, 60)
    roomy.stop()
    exactly_once(db, recorded_ids(tmp_path, "cam"))


def test_a_device_whose_status_stops_is_marked_offline(broker, tmp_path):
    db = str(tmp_path / "results.sqlite")
    collector = Collector(db, "--mqtt-port", str(broker.port), "--offline-after", "2")
    collector.wait_line("subscribed on")
    # Frozen, not killed: the connection stays open and, with a long keepalive, the broker would send
    # the will only after 90 s, as a NATS node that dies never sends it.
    device = serve(broker.port, tmp_path, "cam", "--loop", "--max-fps", "5", "--status-every", "0.5",
                   "--mqtt-keepalive", "60")
    assert wait_for(lambda: report(db).get("cam", {}).get("state") == "online", 30)
    device.send_signal(signal.SIGSTOP)
    try:
        collector.wait_line("[cam] offline: no status for", 20)
        cam = report(db)["cam"]
        assert cam["state"] == "offline" and cam["state_reason"].startswith("no status for")
    finally:
        device.send_signal(signal.SIGKILL)
        device.wait()
    collector.stop()


def test_mqtt_311_devices_and_collectors_keep_ids_in_the_payload(broker, tmp_path):
    db = str(tmp_path / "results.sqlite")
    collector = Collector(db, "--mqtt-port", str(broker.port), "--mqtt-protocol", "3.1.1", "--client-id", "old",
                          "--layers")
    collector.wait_line("MQTT 3.1.1, session persistent")
    for protocol in ("3.1.1", "5"):
        finish(serve(broker.port, tmp_path, f"cam-{protocol}", "--frames", "5", "--mqtt-protocol", protocol,
                     "--mqtt-layers", "conv1", "--mqtt-layers-every", "0"))
    assert wait_for(lambda: len(stored_ids(db)) == 10, 30)
    assert wait_for(lambda: sum(r["images"] for r in report(db).values()) == 10, 30)
    collector.stop()
    images = tmp_path / "results-images"
    assert len(list(images.glob("cam-*/conv1/*.png"))) == 10
