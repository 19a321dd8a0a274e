"""Where results go: the Sink interface, a JSON-lines file, a status file, a picture gallery.

The MQTT publisher is another Sink; the loop does not know which ones it feeds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from edge_service.errors import EdgeError
from edge_service.paths import file_in_the_way, output_file
from edge_service.results import FrameResult


class Sink:
    def publish(self, result: FrameResult) -> None:
        """One processed frame."""

    def status(self, status: dict) -> None:
        """The service's state, sent on start, periodically, on change and on stop."""

    def flush(self) -> None:
        """Finish what was handed over (before the final status, so that it describes all of it)."""

    def describe(self) -> dict:
        """What this sink adds to the status every sink receives (e.g. the outbox's state)."""
        return {}

    def close(self) -> None:
        """Flush and release."""


def _open_fresh(path: Path):
    """A new file for this run; a previous run's file is kept as <file>.1, since `seq` starts again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size:
            os.replace(path, path.with_name(path.name + ".1"))
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise EdgeError(f"cannot write {path}: {file_in_the_way(path) or exc.strerror}") from None


class JsonLinesSink(Sink):
    """One JSON object per frame; flushed each line so a crash loses at most one."""

    def __init__(self, path: Path, device_id: str) -> None:
        self.path, self.device_id = Path(path), device_id
        self.file = _open_fresh(self.path)

    def publish(self, result: FrameResult) -> None:
        self.file.write(json.dumps(result.to_json(self.device_id)) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class StatusFileSink(Sink):
    """Keeps the latest status in a JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = output_file(path, "--status-file")  # refused now, not on the first status
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeError(f"cannot create {self.path.parent}: {exc.strerror}") from None

    def status(self, status: dict) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(status, indent=1))
            os.replace(tmp, self.path)
        except OSError as exc:
            raise EdgeError(f"cannot write {self.path}: {file_in_the_way(self.path) or exc.strerror}") from None
