"""The durable outbox: every message is written here before paho sees it, deleted on PUBACK.

SQLite in WAL mode with synchronous=FULL, so a committed message survives a kill -9 or
a power cut. Bounded by bytes and by count. Policy when full, stated once: layer
images go first, oldest first; then results, oldest first. What is dropped is counted
(persistently) and reported in the status.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from edge_service.errors import EdgeError
from edge_service.paths import file_in_the_way

DB_FILE = "outbox.sqlite3"
DROP_ORDER = ("layer", "result")  # what goes first when the outbox is full
DELETE_CHUNK = 500                 # row ids per DELETE: under any SQLite's limit on bound parameters


class OutboxError(EdgeError):
    """The outbox cannot be created or written (unwritable directory, full disk, corrupt file)."""


@dataclass
class Message:
    rowid: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: str
    msg_id: str
    created: float


SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_kind ON messages (kind, rowid);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
INSERT = ("INSERT INTO messages (msg_id, topic, payload, qos, retain, kind, created, size) "
          "VALUES (?, ?, ?, 1, 0, ?, ?, ?)")


class Outbox:
    """`folder=None` keeps the outbox in memory: no durability, for comparison or a read-only device."""

    def __init__(self, folder: Path | None, max_bytes: int = 100 << 20, max_messages: int = 100_000) -> None:
        self.folder = Path(folder) if folder is not None else Path(":memory:")
        self.max_bytes, self.max_messages = max_bytes, max_messages
        self.lock = threading.Lock()
        try:
            if folder is not None:
                self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / DB_FILE if folder is not None else ":memory:"
            self.db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            self._probe_writable()
        except (OSError, sqlite3.Error) as exc:
            reason = file_in_the_way(self.folder, folder=True) if isinstance(exc, OSError) else None
            raise OutboxError(f"outbox {self.folder}: {reason or _explain(exc)}") from None
        self.bytes, self.count = self._totals()

    @classmethod
    def existing(cls, folder: Path, max_bytes: int = 100 << 20, max_messages: int = 100_000) -> Outbox:
        """An outbox that must already exist: a status query or a flush never creates one at a typo."""
        if not (Path(folder) / DB_FILE).is_file():
            raise OutboxError(f"no outbox at {folder} (the service creates it on its first start; "
                              f"--outbox-dir or outbox.dir names another place)")
        return cls(folder, max_bytes, max_messages)

    def _probe_writable(self) -> None:
        self.db.execute("INSERT OR IGNORE INTO counters VALUES ('dropped_layer', 0), ('dropped_result', 0)")

    def _totals(self) -> tuple[int, int]:
        size, count = self.db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages").fetchone()
        return int(size), int(count)

    def put(self, topic: str, payload: bytes, kind: str, msg_id: str, qos: int = 1, retain: bool = False) -> int:
        """Stores one message durably (committed before returning); returns its row id."""
        size = len(payload) + len(topic)
        with self.lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                self._make_room(size)
                cursor = self.db.execute(
                    "INSERT INTO messages (msg_id, topic, payload, qos, retain, kind, created, size) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (msg_id, topic, payload, qos, int(retain), kind,
                                                         time.time(), size))
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"outbox {self.folder}: cannot store a message: {_explain(exc)}") from None
            self.bytes += size
            self.count += 1
            return int(cursor.lastrowid)

    def commit_group(self, puts: list[tuple[str, bytes, str, str]], acks: list[int]) -> list[Message]:
        """Stores `puts` (topic, payload, kind, id) and forgets the acknowledged `acks` rows in ONE
        transaction: one fsync for a whole group. Returns the stored messages, oldest first."""
        now = time.time()
        with self.lock:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                freed_bytes, freed_count = self._delete(acks)
                self.bytes -= freed_bytes
                self.count -= freed_count
                stored = self._insert_all(puts, now) if puts else []
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise OutboxError(f"outbox {self.folder}: cannot store messages: {_explain(exc)}") from None
            return stored

    def _insert_all(self, puts: list[tuple[str, bytes, str, str]], now: float) -> list[Message]:
        """Inserts inside the open transaction; one executemany when the whole group fits."""
        sizes = [len(payload) + len(topic) for topic, payload, _, _ in puts]
        total = sum(sizes)
        if self.count + len(puts) > self.max_messages or self.bytes + total > self.max_bytes:
            return [self._insert_one(put, size, now) for put, size in zip(puts, sizes)]  # the drop policy, per message
        self.db.executemany(INSERT, [(msg_id, topic, payload, kind, now, size)
                                     for (topic, payload, kind, msg_id), size in zip(puts, sizes)])
        # One writer inside BEGIN IMMEDIATE and AUTOINCREMENT: the group's row ids are consecutive.
        last = self.db.execute("SELECT last_insert_rowid()").fetchone()[0]
        self.bytes += total
        self.count += len(puts)
        first = last - len(puts) + 1
        return [Message(first + i, topic, payload, 1, False, kind, msg_id, now)
                for i, (topic, payload, kind, msg_id) in enumerate(puts)]

    def _insert_one(self, put: tuple[str, bytes, str, str], size: int, now: float) -> Message:
        topic, payload, kind, msg_id = put
        self._make_room(size)
        cursor = self.db.execute(INSERT, (msg_id, topic, payload, kind, now, size))
        self.bytes += size
        self.count += 1
        return Message(int(cursor.lastrowid), topic, payload, 1, False, kind, msg_id, now)

    def _delete(self, rowids: list[int]) -> tuple[int, int]:
        """Deletes rows inside the open transaction; returns (bytes, count) freed."""
        size = count = 0
        for start in range(0, len(rowids), DELETE_CHUNK):
            chunk = rowids[start:start + DELETE_CHUNK]
            marks = ",".join("?" * len(chunk))
            # SELECT then DELETE, not DELETE ... RETURNING: that needs SQLite 3.35, newer than some devices have
            freed = self.db.execute(f"SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages WHERE rowid IN ({marks})",
                                    chunk).fetchone()
            self.db.execute(f"DELETE FROM messages WHERE rowid IN ({marks})", chunk)
            size += int(freed[0])
            count += int(freed[1])
        return size, count

    def _make_room(self, size: int) -> None:
        """Deletes by the drop policy until the new message fits (inside the open transaction)."""
        for kind in DROP_ORDER:
            while self.count + 1 > self.max_messages or self.bytes + size > self.max_bytes:
                row = self.db.execute("SELECT rowid, size FROM messages WHERE kind = ? ORDER BY rowid LIMIT 1",
                                      (kind,)).fetchone()
                if row is None:
                    break
                self.db.execute("DELETE FROM messages WHERE rowid = ?", (row[0],))
                self.db.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (f"dropped_{kind}",))
                self.bytes -= row[1]
                self.count -= 1
        if self.count + 1 > self.max_messages or self.bytes + size > self.max_bytes:
            raise sqlite3.OperationalError(f"a message of {size} bytes is larger than the outbox bound")

    def _rollback(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self.bytes, self.count = self._totals()

    def pending(self, after_rowid: int = 0, limit: int = 100) -> list[Message]:
        """Messages not yet acknowledged, oldest first."""
        with self.lock:
            rows = self.db.execute(
                "SELECT rowid, topic, payload, qos, retain, kind, msg_id, created FROM messages "
                "WHERE rowid > ? ORDER BY rowid LIMIT ?", (after_rowid, limit)).fetchall()
        return [Message(r[0], r[1], bytes(r[2]), r[3], bool(r[4]), r[5], r[6], r[7]) for r in rows]

    def forget(self, rowids: list[int]) -> None:
        """The broker has these messages: forget them in one transaction."""
        if rowids:
            self.commit_group([], rowids)

    def ack(self, rowid: int) -> None:
        """The broker has the message (PUBACK): forget it."""
        with self.lock:
            try:
                row = self.db.execute("SELECT size FROM messages WHERE rowid = ?", (rowid,)).fetchone()
                if row is None:
                    return
                self.db.execute("DELETE FROM messages WHERE rowid = ?", (rowid,))
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox {self.folder}: {_explain(exc)}") from None
            self.bytes -= row[0]
            self.count -= 1

    def stats(self) -> dict:
        with self.lock:
            counters = dict(self.db.execute("SELECT name, value FROM counters").fetchall())
            by_kind = dict(self.db.execute("SELECT kind, COUNT(*) FROM messages GROUP BY kind").fetchall())
            oldest = self.db.execute("SELECT MIN(created) FROM messages").fetchone()[0]
        return {"messages": self.count, "bytes": self.bytes, "by_kind": by_kind,
                "dropped_layers": counters.get("dropped_layer", 0),
                "dropped_results": counters.get("dropped_result", 0),
                "oldest_age_s": round(time.time() - oldest, 1) if oldest else 0.0,
                "max_bytes": self.max_bytes, "max_messages": self.max_messages}

    def purge(self) -> int:
        """Deletes every waiting message; returns how many."""
        with self.lock:
            count = self.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
            self.db.execute("DELETE FROM messages")
            self.bytes, self.count = 0, 0
        return int(count)

    def close(self) -> None:
        with self.lock:
            self.db.close()


def _explain(exc: BaseException) -> str:
    text = str(exc)
    if "disk is full" in text or getattr(exc, "errno", None) == 28:
        return "the disk is full"
    if "disk I/O error" in text:  # what SQLite says when the OS refuses a write
        return "the disk refused the write (it is full or failing)"
    if "readonly" in text or "unable to open" in text or isinstance(exc, PermissionError):
        return f"the directory is not writable ({text})"
    return text
