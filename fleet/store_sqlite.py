"""The default store: one SQLite file (WAL, synchronous=FULL: a committed batch survives a power cut)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from fleet.errors import StoreError, StoreUnavailable
from fleet.store import Store


class SqliteStore(Store):
    greatest = "MAX"

    def __init__(self, path: Path, images_dir: Path | None, max_mb: float = 0) -> None:
        super().__init__(images_dir)
        self.path, self.max_mb = Path(path), max_mb
        self.url = str(path)

    def connect(self) -> None:
        try:
            if not self.path.parent.is_dir():
                raise StoreError(f"{self.path}: the folder {self.path.parent} does not exist")
            # Several collectors may share the file: a writer waits for the others' commits.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            if self.max_mb:
                page = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count = {max(1, int(self.max_mb * (1 << 20) / page))}")
        except sqlite3.Error as exc:
            raise self._translate(exc) from None
        self.conn = conn

    @contextlib.contextmanager
    def transaction(self):
        if self.conn is None:
            raise StoreUnavailable(f"{self.url}: not connected")
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            yield cur
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise self._translate(exc) from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    def _translate(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if "full" in text:
            return StoreUnavailable(f"{self.url}: the database is full ({text})")
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" not in text and "readonly" not in text:
            return StoreUnavailable(f"{self.url}: {text}")  # locked, busy, a failing disk
        return StoreError(f"{self.url}: {text}")
