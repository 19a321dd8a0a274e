"""A throwaway PostgreSQL on loopback (initdb + pg_ctl in a temporary folder), for tests, demos, the bench.

PostgreSQL refuses to run as root; as root the server runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from fleet.errors import FleetError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_bindir() -> Path | None:
    """The newest Debian PostgreSQL (/usr/lib/postgresql/<major>/bin), or pg_ctl on the PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


class LocalPostgres:
    """`with LocalPostgres() as pg:` then connect to `pg.url`; `stop()` / `start()` simulate an outage."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        if self.bindir is None:
            raise FleetError("PostgreSQL is not installed (apt install postgresql)")
        self.folder = Path(tempfile.mkdtemp(prefix="unseen-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.user = "unseen"
        self.url = f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=check)

    def init(self) -> "LocalPostgres":
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        try:
            self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8", "--no-sync")
        except subprocess.CalledProcessError as exc:
            raise FleetError(f"initdb failed: {exc.stderr.strip()}") from None
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.folder}'\nfsync = on\n")
        return self

    def start(self) -> "LocalPostgres":
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                         "start", check=False)
        if done.returncode != 0:
            raise FleetError(f"PostgreSQL did not start: {done.stderr.strip() or done.stdout.strip()}")
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast` closes connections; `immediate` is a crash (no checkpoint)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "LocalPostgres":
        return self.init().start()

    def __exit__(self, *exc) -> None:
        self.cleanup()
