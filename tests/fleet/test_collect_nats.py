"""A three-node NATS cluster (MQTT + JetStream) on loopback: devices on one node, collectors on another."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from edge_service.mqtt.outbox import Outbox
from fleet.nats_cluster import TESTED, find_binary, server_version
from tests.fleet.helpers import RUNNING, Collector, finish, recorded_ids, report, serve, stored_ids, wait_for

pytest.importorskip("nats", reason="the receiving side's extra is not installed (pip install 'unseen[fleet]')")

try:
    find_binary()
    HAVE_NATS = True
except Exception:
    HAVE_NATS = False
pytestmark = pytest.mark.skipif(not HAVE_NATS, reason="nats-server is not installed")


@pytest.fixture
def cluster(tmp_path):
    pytest.importorskip("nats")
    from fleet.nats_cluster import LocalNatsCluster
    running = LocalNatsCluster(tmp_path / "nats").start()
    yield running
    running.stop()


def create_mqtt_streams(cluster, node: int = 0) -> None:
    """A first MQTT connection makes the server create its streams; one made before JetStream's
    leader is elected creates nothing, so connect again until the stream has a leader."""
    from fleet.nats_source import _touch_mqtt

    def touched() -> bool:
        _touch_mqtt("127.0.0.1", cluster.nodes[node].mqtt_port)
        return cluster.stream_leader() is not None
    assert wait_for(touched, 60)
    cluster.wait_healthy()


def missing(folder, db: str, expected: list[str]) -> str:
    """Which results are missing, by device, and how many messages each outbox still holds."""
    made_by = {json.loads(line)["id"]: json.loads(line)["device"]
               for line in (folder / "sim.jsonl").read_text().splitlines()}
    made_by.update({i: cam for cam in ("cam1", "cam2") for i in recorded_ids(folder, cam)})
    gone = Counter(made_by.get(i, "?") for i in set(expected) - set(stored_ids(db)))
    left = {p.parent.name: Outbox.existing(p.parent).stats()["messages"] for p in folder.glob("**/outbox.sqlite3")}
    left = {name: count for name, count in left.items() if count}
    return f"{sum(gone.values())} of {len(expected)} results missing {dict(gone)}; still in outboxes: {left}"


async def stream_config(url: str):
    import nats
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info("$MQTT_msgs")).config
    finally:
        await nc.close()


def test_the_server_is_a_tested_version_that_keeps_acknowledged_mqtt_messages_in_its_stream(cluster):
    version = server_version()
    assert version in TESTED, (f"nats-server {version}: collecting reads the internal stream $MQTT_msgs; "
                               f"re-run these tests on it and add it to fleet.nats_cluster.TESTED")
    create_mqtt_streams(cluster)
    config = asyncio.run(stream_config(cluster.urls[1]))
    assert config.subjects == ["$MQTT.msgs.>"]
    assert config.num_replicas == 3  # mqtt { stream_replicas: 3 } was in place before the first client
    assert str(getattr(config.retention, "value", config.retention)) == "interest"  # why the collector's consumer must exist before devices publish


def test_the_readme_shows_the_tested_node_configuration():
    from pathlib import Path

    from fleet.nats_cluster import node_config
    shown = node_config("n1", "0.0.0.0", 4222, 6222, 1883, 8222, [f"nats-route://nats{i}:6222" for i in (1, 2, 3)],
                        "/var/lib/nats/jetstream")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert shown in readme


def test_mqtt5_features_fail_clearly_on_nats_311_listener(cluster, tmp_path):
    port = str(cluster.nodes[0].mqtt_port)
    shared = subprocess.run([sys.executable, "-m", "unseen.cli", "collect", "--db", str(tmp_path / "r.sqlite"),
                             "--mqtt-port", port, "--share", "g", "--timeout", "20"],
                            capture_output=True, text=True, timeout=60)
    assert shared.returncode == 2 and "Traceback" not in shared.stderr
    assert "speaks MQTT 3.1.1 only" in shared.stderr and "--nats" in shared.stderr
    device = subprocess.run([sys.executable, "-m", "unseen.cli", "serve", "--frames", "1", "--backend", "litert",
                             "--mqtt-host", "127.0.0.1", "--mqtt-port", port, "--mqtt-protocol", "5",
                             "--outbox-dir", str(tmp_path / "outbox")], capture_output=True, text=True, timeout=60)
    assert device.returncode == 2 and "Unsupported protocol version" in device.stderr.splitlines()[-1]


def simulated_ids(folder) -> list[str]:
    return [json.loads(line)["id"] for line in (folder / "sim.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("lost", ["stream leader", "devices' node", "devices' node, every node known"])
def test_a_node_killed_mid_stream_loses_and_duplicates_nothing(cluster, tmp_path, lost):
    create_mqtt_streams(cluster)
    leader = cluster.stream_leader()  # the worst node to lose: it leads the stream of MQTT messages
    others = [i for i in range(3) if i != leader]
    if lost == "stream leader":
        victim, (devices_node, collectors_node) = leader, others
    else:  # given one address, the devices wait for it to come back, their results in the outbox
        victim = devices_node = others[0]
        collectors_node = others[1]
    db = str(tmp_path / "results.sqlite")
    url = cluster.urls[collectors_node]
    collectors = [Collector(db, "--nats", url, "--offline-after", "120") for _ in range(2)]
    for c in collectors:
        c.wait_line("collecting from $MQTT_msgs")
    port = cluster.nodes[devices_node].mqtt_port
    hosts = "127.0.0.1"
    if lost.endswith("every node known"):  # their own node first, then the others
        hosts = ",".join(f"127.0.0.1:{cluster.nodes[i].mqtt_port}" for i in (devices_node, collectors_node, leader))
    devices = [serve(port, tmp_path, f"cam{i}", "--loop", "--max-fps", "40", "--mqtt-host", hosts) for i in (1, 2)]
    # And a small fleet: 20 more publishers (real MqttSinks and outboxes, synthetic frames).
    fleet = subprocess.Popen([sys.executable, "-m", "fleet.simulate", "--host", hosts, "--port", str(port),
                              "--devices", "20", "--rate", "10", "--seconds", "25", "--folder", str(tmp_path / "sim"),
                              "--out", str(tmp_path / "sim.jsonl")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    RUNNING.append(fleet)
    assert wait_for(lambda: len(stored_ids(db)) > 300, 90)
    cluster.kill(victim)
    time.sleep(5.0)
    if hosts != "127.0.0.1":  # they move to another node: what they made reaches the store with the node still down
        made = set(recorded_ids(tmp_path, "cam1") + recorded_ids(tmp_path, "cam2") + simulated_ids(tmp_path))
        assert wait_for(lambda: made <= set(stored_ids(db)), 90), \
            f"{len(made - set(stored_ids(db)))} not stored while the node was down"
    cluster.start(victim, wait=False)
    back = time.monotonic()
    # Devices reconnect and resend from their outboxes at their own pace (PUBACKs stall, CONNACKs
    # wait while JetStream elects new leaders): wait until what they had made by now is stored.
    made = set(recorded_ids(tmp_path, "cam1") + recorded_ids(tmp_path, "cam2"))
    assert wait_for(lambda: made <= set(stored_ids(db)), 180), f"{len(made - set(stored_ids(db)))} not stored"
    print(f"caught up {time.monotonic() - back:.1f} s after the node came back")
    for device in devices:
        device.send_signal(signal.SIGTERM)
        finish(device, timeout=60)
    _, fleet_log = finish(fleet, timeout=180)  # it drains its outboxes (up to 60 s) before it exits
    expected = recorded_ids(tmp_path, "cam1") + recorded_ids(tmp_path, "cam2") + simulated_ids(tmp_path)
    assert wait_for(lambda: len(stored_ids(db)) >= len(expected), 60), \
        f"{missing(tmp_path, db, expected)}; the simulator said: {fleet_log[-1500:]}"
    time.sleep(1.0)
    summaries = [c.stop() for c in collectors]
    stored = stored_ids(db)
    assert len(stored) == len(set(stored)) == len(expected) and set(stored) == set(expected), summaries
    for device in ("cam1", "cam2", "sim-000", "sim-019"):
        assert report(db)[device]["missing"] == 0


def test_layer_images_and_statuses_through_nats(cluster, tmp_path):
    create_mqtt_streams(cluster)
    db = str(tmp_path / "results.sqlite")
    collector = Collector(db, "--nats", cluster.urls[1], "--layers")
    collector.wait_line("collecting from $MQTT_msgs")
    finish(serve(cluster.nodes[0].mqtt_port, tmp_path, "cam", "--frames", "4", "--mqtt-layers", "conv1",
                 "--mqtt-layers-every", "0", "--status-every", "0.5"))
    assert wait_for(lambda: report(db).get("cam", {}).get("images") == 4 and len(stored_ids(db)) == 4, 60)
    assert wait_for(lambda: report(db)["cam"]["state"] == "offline", 30)  # its goodbye status came through
    collector.stop()
    assert len(list((tmp_path / "results-images" / "cam" / "conv1").glob("sha-*.png"))) == 4


def test_a_full_database_on_nats_holds_then_hands_back_what_it_held(cluster, tmp_path):
    create_mqtt_streams(cluster)
    db = str(tmp_path / "results.sqlite")
    small = Collector(db, "--nats", cluster.urls[1], "--db-max-mb", "0.3")
    small.wait_line("collecting from $MQTT_msgs")
    finish(serve(cluster.nodes[0].mqtt_port, tmp_path, "cam", "--frames", "500", "--loop", "--max-fps", "100"))
    small.wait_line("the database is full", 60)
    held = len(stored_ids(db))
    assert 0 < held < 500
    small.stop()  # what it held goes back to JetStream unacknowledged (NAK), for the next collector
    started = time.monotonic()
    roomy = Collector(db, "--nats", cluster.urls[2])
    assert wait_for(lambda: len(stored_ids(db)) >= 500, 60)
    assert time.monotonic() - started < 25, "held messages should come back at once, not after ack_wait"
    roomy.stop()
    stored = stored_ids(db)
    assert len(stored) == len(set(stored)) and set(stored) == set(recorded_ids(tmp_path, "cam"))
