"""A broker for demos and field tests on loopback: mosquitto when installed, else amqtt (pure Python)."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from fleet.errors import FleetError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise FleetError(f"the embedded broker did not start on port {port}")


class EmbeddedBroker:
    """`with EmbeddedBroker() as broker:` then connect to 127.0.0.1:broker.port."""

    def __init__(self, port: int = 0) -> None:
        self.port = port or free_port()
        self.kind = ""
        self.process: subprocess.Popen | None = None
        self.folder: tempfile.TemporaryDirectory | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> "EmbeddedBroker":
        if not port_is_free(self.port):  # else another broker would answer in ours' place
            raise FleetError(f"port {self.port} on 127.0.0.1 is already in use; choose another with --port "
                             f"(0: a free one)")
        mosquitto = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else "")
        if mosquitto:
            self.folder = tempfile.TemporaryDirectory(prefix="unseen-broker-")
            config = Path(self.folder.name) / "mosquitto.conf"
            config.write_text(f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\n")
            self.process = subprocess.Popen([mosquitto, "-c", str(config)], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
            self.kind = "mosquitto"
        else:
            self._start_amqtt()
            self.kind = "amqtt"
        wait_for_port(self.port)
        if not self.alive():
            raise FleetError(f"the {self.kind} broker exited at start (is port {self.port} taken?)")
        return self

    def alive(self) -> bool:
        """False once the broker has died: a caller waiting on it should stop too."""
        if self.process is not None:
            return self.process.poll() is None
        return self.thread is not None and self.thread.is_alive()

    def _start_amqtt(self) -> None:
        try:
            from amqtt.broker import Broker
        except ImportError:
            raise FleetError("no broker available: install mosquitto (apt install mosquitto) "
                            "or amqtt (pip install amqtt)") from None
        config = {"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                  "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}}
        ready = threading.Event()

        def serve() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            broker = Broker(config, loop=self.loop)
            self.loop.run_until_complete(broker.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, name="amqtt", daemon=True)
        self.thread.start()
        ready.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self.folder is not None:
            self.folder.cleanup()

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
