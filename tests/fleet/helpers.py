"""Devices and collectors as the user runs them: `unseen serve` and `unseen collect` subprocesses."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def serve(port: int, folder: Path, device: str, *args: str) -> subprocess.Popen:
    """A device publishing to 127.0.0.1:port; every result it makes is also in <folder>/<device>.jsonl."""
    cmd = [sys.executable, "-m", "unseen.cli", "serve", "--device-id", device, "--mqtt-host", "127.0.0.1",
           "--mqtt-port", str(port), "--outbox-dir", str(folder / f"outbox-{device}"), "--backend", "numpy",
           "--no-channel-stats", "--jsonl", str(folder / f"{device}.jsonl"), "--mqtt-backoff-max", "1",
           "--log-level", "warning", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def collect(db: str, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "unseen.cli", "collect", "--db", db, "--log-level", "info", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[str, str]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return out, err


def stop(process: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    """SIGTERM, then what it printed (it must exit cleanly)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return finish(process, timeout)


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
