"""Devices and collectors as the user runs them: `unseen serve` and `unseen collect` subprocesses."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path


RUNNING: list[subprocess.Popen] = []  # every process a test started; the fixture ends the ones left


def end_leftovers() -> None:
    while RUNNING:
        process = RUNNING.pop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def serve(port: int, folder: Path, device: str, *args: str) -> subprocess.Popen:
    """A device publishing to 127.0.0.1:port; every result it makes is also in <folder>/<device>.jsonl."""
    cmd = [sys.executable, "-m", "unseen.cli", "serve", "--device-id", device, "--mqtt-host", "127.0.0.1",
           "--mqtt-port", str(port), "--outbox-dir", str(folder / f"outbox-{device}"), "--backend", "auto",
           "--no-channel-stats", "--jsonl", str(folder / f"{device}.jsonl"), "--mqtt-backoff-max", "1",
           "--log-level", "warning", *args]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    RUNNING.append(process)
    return process


class Collector:
    """`unseen collect` in a subprocess, its stderr read as it comes (to wait for a line)."""

    def __init__(self, db: str, *args: str) -> None:
        cmd = [sys.executable, "-m", "unseen.cli", "collect", "--db", db, "--log-level", "info", *args]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        RUNNING.append(self.process)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_line(self, text: str, timeout: float = 60.0) -> str:
        assert wait_for(lambda: any(text in line for line in self.lines) or self.process.poll() is not None,
                        timeout), f"no line with {text!r} in {timeout} s: {self.err()[-2000:]}"
        found = [line for line in self.lines if text in line]
        assert found, f"exited without {text!r}: {self.err()[-2000:]}"
        return found[0]

    def err(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 60) -> str:
        """SIGTERM; it must exit cleanly. Returns its summary line."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        out = self.process.stdout.read()
        self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        assert self.process.returncode == 0, self.err()[-3000:]
        assert "Traceback" not in self.err(), self.err()[-3000:]
        return out.strip()


def stored_count(summary: str) -> int:
    return int(re.match(r"stored (\d+) results", summary).group(1))


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[str, str]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return out, err


def recorded_ids(folder: Path, device: str) -> list[str]:
    """Every result id the device made, from its JSON-lines file."""
    path = folder / f"{device}.jsonl"
    return [json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()]


def stored_ids(db: str) -> list[str]:
    """Result ids in the database (a list: a duplicate would show twice)."""
    if db.startswith("postgresql://"):
        import psycopg
        with psycopg.connect(db) as conn:
            return [row[0] for row in conn.execute("SELECT id FROM results")]
    with sqlite3.connect(db, timeout=30) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM results")]


def wait_for(condition, timeout: float = 60.0, every: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except Exception:  # the database may not exist yet
            pass
        time.sleep(every)
    return bool(condition())


def report(db: str) -> dict[str, dict]:
    out = subprocess.run([sys.executable, "-m", "unseen.cli", "collect", "--db", db, "report", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {r["device"]: r for r in json.loads(out.stdout)}
