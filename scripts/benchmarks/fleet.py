"""The fleet benchmark behind `scripts/bench fleet`: simulated devices -> broker -> two collectors -> database.

(a) mosquitto, two shared-subscription collectors, SQLite; (b) the same into PostgreSQL;
(c) a three-node NATS cluster (MQTT + JetStream), two collectors sharing one durable consumer,
the node leading the message stream SIGKILLed halfway and restarted 5 s later.
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

TICK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent.parent
ENV = dict(os.environ, PYTHONPATH=str(ROOT))  # the subprocesses run this checkout's code
DEVICE_PROCESSES = 5


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


class Watched:
    """A subprocess whose stderr lines are kept (to wait for readiness)."""

    def __init__(self, cmd: list[str]) -> None:
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True).start()

    def wait_line(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self.lines)):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"{text!r} never came: {''.join(self.lines)[-2000:]}")
            time.sleep(0.1)


def start_mosquitto(folder: Path):
    from fleet.broker import free_port, wait_for_port
    port = free_port()
    config = folder / "mosquitto.conf"
    # Unlimited queues: mosquitto's default (1000 per client) would drop what collectors have not taken yet.
    config.write_text(f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\n"
                      "max_queued_messages 0\nmax_inflight_messages 0\n")
    process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process, port


def run_scenario(kind: str, devices: int, rate: float, seconds: float, nats_binary: str = "") -> dict:
    from fleet.nats_cluster import LocalNatsCluster
    from fleet.nats_source import _touch_mqtt
    with tempfile.TemporaryDirectory(prefix="unseen-fleet-bench-") as tmp:
        folder = Path(os.environ.get("UNSEEN_BENCH_KEEP") or tmp)  # keep logs and outboxes to look into
        folder.mkdir(parents=True, exist_ok=True)
        pg = cluster = broker = None
        spawned: list[subprocess.Popen] = []
        broker_cpu_spent = 0.0
        if kind == "postgresql":
            from fleet.local_postgres import LocalPostgres
            pg = LocalPostgres().init().start()
            db = pg.url
        else:
            db = str(folder / "results.sqlite")
        try:
            if kind == "nats":
                cluster = LocalNatsCluster(folder / "nats", binary=nats_binary).start()
                _touch_mqtt("127.0.0.1", cluster.nodes[0].mqtt_port)
                cluster.wait_healthy()
                deadline = time.monotonic() + 30
                while cluster.stream_leader() is None and time.monotonic() < deadline:
                    time.sleep(0.2)
                victim = cluster.stream_leader() or 0
                device_node, collector_node = [i for i in range(3) if i != victim]
                port = cluster.nodes[device_node].mqtt_port
                source = ["--nats", cluster.urls[collector_node]]
                ready = "collecting from"
            else:
                broker, port = start_mosquitto(folder)
                source = ["--mqtt-port", str(port), "--share", "fleet"]
                ready = "subscribed on"
            collectors = [Watched([sys.executable, "-m", "unseen.cli", "collect", "--db", db, *source,
                                   "--client-id", f"collector-{i}", "--log-level", "info"]) for i in (1, 2)]
            spawned += [c.process for c in collectors]
            for c in collectors:
                c.wait_line(ready)
            broker_pids = lambda: ([n.process.pid for n in cluster.nodes if n.process] if cluster
                                   else [broker.pid])
            cpu0 = {pid: cpu_seconds(pid) for pid in broker_pids() + [c.process.pid for c in collectors]}
            per = devices // DEVICE_PROCESSES
            sims = [subprocess.Popen([sys.executable, "-m", "fleet.simulate", "--port", str(port), "--devices",
                                      str(per), "--first", str(k * per), "--rate", str(rate), "--seconds",
                                      str(seconds), "--folder", str(folder / "outboxes"),
                                      "--out", str(folder / f"made-{k}.jsonl"), "--log-level", "info"],
                                     stdout=subprocess.DEVNULL, stderr=open(folder / f"devices-{k}.log", "w"),
                                     env=ENV) for k in range(DEVICE_PROCESSES)]
            spawned += sims
            started = time.time()
            if cluster:
                time.sleep(seconds / 2)
                pid = cluster.nodes[victim].process.pid
                broker_cpu_spent += cpu_seconds(pid) - cpu0.pop(pid, 0.0)
                cluster.kill(victim)
                time.sleep(5)
                cluster.start(victim, wait=False)
                cpu0[cluster.nodes[victim].process.pid] = 0.0
            for sim in sims:
                sim.wait(timeout=seconds + 600)
            made = {}
            for k in range(DEVICE_PROCESSES):
                for line in (folder / f"made-{k}.jsonl").read_text().splitlines():
                    entry = json.loads(line)
                    made[entry["id"]] = entry["captured"]
            deadline = time.monotonic() + 120
            while count_rows(db) < len(made) and time.monotonic() < deadline:
                time.sleep(0.5)
            wall = time.time() - started
            broker_cpu = broker_cpu_spent + sum(cpu_seconds(p) - cpu0.get(p, 0.0) for p in broker_pids())
            collector_cpu = sum(cpu_seconds(c.process.pid) - cpu0[c.process.pid] for c in collectors)
            for i, c in enumerate(collectors):
                c.process.send_signal(signal.SIGTERM)
                c.process.communicate(timeout=60)
                (folder / f"collector-{i}.log").write_text("".join(c.lines))
            row = measure(db, made, wall, collector_cpu, broker_cpu)
            row["left in outboxes"] = left_in_outboxes(folder / "outboxes")
            return row
        finally:
            for process in spawned:  # after a failure, nothing is left running
                if process.poll() is None:
                    process.kill()
                    process.wait(timeout=30)
            if cluster:
                cluster.stop()
            if broker:
                broker.terminate()
                broker.wait(timeout=10)
            if pg:
                pg.cleanup()


def left_in_outboxes(folder: Path) -> int:
    """Results the devices still hold (not acknowledged by the broker when they stopped)."""
    import sqlite3
    left = 0
    for path in folder.glob("*/outbox.sqlite3"):
        with sqlite3.connect(path) as conn:
            left += conn.execute("SELECT COUNT(*) FROM messages WHERE kind = 'result'").fetchone()[0]
    return left


def count_rows(db: str) -> int:
    from fleet.store import open_store
    store = open_store(db, create=False)
    try:
        return int(store.query("SELECT COUNT(*) FROM results")[0][0])
    finally:
        store.close()


def measure(db: str, made: dict[str, float], wall: float, collector_cpu: float, broker_cpu: float) -> dict:
    from fleet.store import open_store
    store = open_store(db, create=False)
    try:
        rows = store.query("SELECT id, stored_at FROM results")
        dropped = int(store.query("SELECT COALESCE(SUM(duplicates), 0) FROM devices")[0][0])
    finally:
        store.close()
    stored = {rid: at for rid, at in rows if rid in made}
    latencies = np.array([(at - made[rid]) * 1000 for rid, at in stored.items()])
    span = max(stored.values()) - min(made.values()) if stored else 1.0
    return {"results/s": len(stored) / span, "p50 ms": float(np.percentile(latencies, 50)),
            "p99 ms": float(np.percentile(latencies, 99)), "made": len(made), "lost": len(made) - len(stored),
            "duplicates": len(rows) - len({rid for rid, _ in rows}), "duplicates dropped": dropped,
            "collectors CPU %": 100 * collector_cpu / wall, "broker CPU %": 100 * broker_cpu / wall}


def bench_store(total: int = 20000, batch: int = 500) -> dict:
    """The store alone: parsed results written in batches, the collector's ceiling per core."""
    from fleet.local_postgres import LocalPostgres
    from fleet.records import parse
    from fleet.simulate import synthetic_result
    from fleet.store import open_store
    rng = np.random.default_rng(0)
    payloads = [json.dumps(synthetic_result(i, rng).to_json(f"sim-{i % 50:03d}")).encode() for i in range(total)]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp, LocalPostgres() as pg:
        for name, db in (("SQLite (reference)", str(Path(tmp) / "r.sqlite")), ("PostgreSQL", pg.url)):
            store = open_store(db)
            start, cpu = time.perf_counter(), time.process_time()
            for first in range(0, total, batch):
                store.write([parse(f"unseen/sim-{i % 50:03d}/result", payloads[i], "unseen")
                             for i in range(first, min(total, first + batch))])
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            store.close()
            rows[f"{name}, batches of {batch}, parse + insert + commit"] = {
                "results/s": total / seconds, "collectors CPU %": 100 * cpu / seconds}
    reference = next(iter(rows.values()))["results/s"]
    for row in rows.values():
        row["ratio"] = row["results/s"] / reference
    return {"title": f"The store alone: {total} results, one process", "unit": "results/s", "rows": rows}


def bench_fleet(quick: bool) -> list[dict]:
    """The three set-ups of issue 15, each with 50 devices at 20 results/s for 60 s (quick: 10 s)."""
    devices, rate, seconds = 50, 20.0, (10.0 if quick else 60.0)
    rows = {}
    names = {"sqlite": "(a) mosquitto, 2 shared-subscription collectors, SQLite (reference)",
             "postgresql": "(b) mosquitto, 2 shared-subscription collectors, PostgreSQL",
             "nats": "3-node NATS (MQTT + JetStream), 2 collectors on one durable consumer, "
                     "stream leader SIGKILLed halfway, back 5 s later; SQLite"}
    from fleet.nats_cluster import find_binary, server_version
    names["nats"] = f"(c) {names['nats']}, nats-server {server_version()}"
    debian = "/usr/sbin/nats-server"
    if Path(debian).exists() and server_version(debian) != server_version():
        # The same set-up on Debian's older server, to show why it is not the tested one.
        names["nats-debian"] = names["nats"].replace(server_version(), server_version(debian) + " (Debian)")
    for kind, name in names.items():
        print(f"  fleet: {kind}...", file=sys.stderr, flush=True)
        binary = debian if kind == "nats-debian" else find_binary()
        rows[name] = run_scenario(kind.split("-")[0], devices, rate, seconds, binary)
    reference = rows[names["sqlite"]]["results/s"]
    for row in rows.values():
        row["ratio"] = row["results/s"] / reference
    fleet = {"title": f"Fleet: {devices} simulated devices (real publishers, durable outboxes) at {rate:.0f} "
                     f"results/s each for {seconds:.0f} s; capture to committed row",
             "unit": "results/s", "rows": rows}
    return [bench_store(5000 if quick else 20000), fleet]
