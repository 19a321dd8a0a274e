"""Storing a batch of records in one transaction, idempotent on ids, in SQLite or PostgreSQL.

`Store.write` commits every record of a batch or none; only after it returns may the
messages be acknowledged. A duplicate (same result id, same image id, same device status
time) is dropped inside the transaction and counted per device.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from fleet import schema
from fleet.errors import StoreError, StoreUnavailable
from fleet.records import Image, Malformed, Record, Result, Status

CHUNK = 200  # rows per multi-row INSERT (well under SQLite's bound on parameters)


@dataclass
class Delta:
    """What one batch adds to a device's row."""
    results: int = 0
    duplicates: int = 0
    malformed: int = 0
    images: int = 0


@dataclass
class Outcome:
    stored: int = 0
    duplicates: int = 0
    malformed: int = 0
    images: int = 0
    statuses: int = 0
    devices: dict[str, Delta] = field(default_factory=dict)


class Store:
    """The shared logic; subclasses give the connection, the placeholders and error mapping."""

    greatest = "MAX"
    url = ""

    def __init__(self, images_dir: Path | None) -> None:
        self.images_dir = Path(images_dir) if images_dir else None
        self.conn = None

    # -- what a dialect provides ---------------------------------------------------------------
    def connect(self) -> None:
        raise NotImplementedError

    def transaction(self):
        """A context manager yielding a cursor; commits on exit, rolls back on error."""
        raise NotImplementedError

    def q(self, sql: str) -> str:
        return sql

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None

    def reconnect(self) -> None:
        self.close()
        self.connect()

    def lock_schema(self, cur) -> None:
        """Serializes schema creation between collectors starting together (SQLite: BEGIN IMMEDIATE does)."""

    def create_schema(self) -> None:
        with self.transaction() as cur:
            self.lock_schema(cur)
            for statement in schema.TABLES:
                cur.execute(statement)
            cur.execute(self.q("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"),
                        ("schema_version", schema.VERSION))
            cur.execute("SELECT value FROM meta WHERE key = 'schema_version'")
            found = cur.fetchone()[0]
        if found != schema.VERSION:
            raise StoreError(f"{self.url}: schema version {found}, this unseen writes {schema.VERSION}")

    # -- writing -------------------------------------------------------------------------------
    def write(self, records: list[Record]) -> Outcome:
        """Commits the batch (all or nothing); raises StoreUnavailable when it should be retried."""
        now = time.time()
        out = Outcome()
        deltas: dict[str, Delta] = defaultdict(Delta)
        seen: dict[str, float] = {}
        results: dict[str, Result] = {}
        images: dict[str, Image] = {}
        statuses: list[Status] = []
        for record in records:
            seen[record.device] = now
            if isinstance(record, Malformed):
                deltas[record.device].malformed += 1
            elif isinstance(record, Result):
                if record.id in results:
                    deltas[record.device].duplicates += 1
                results.setdefault(record.id, record)
            elif isinstance(record, Image):
                images.setdefault(record.id, record)
            elif isinstance(record, Status):
                statuses.append(record)
        with self.transaction() as cur:
            inserted = self._insert_results(cur, sorted(results.values(), key=lambda r: r.id), now)
            for result in results.values():
                if result.id in inserted:
                    deltas[result.device].results += 1
                else:
                    deltas[result.device].duplicates += 1
            for image in sorted(images.values(), key=lambda i: i.id):
                if self._insert_image(cur, image, now):
                    deltas[image.device].images += 1
            for device in sorted(seen):  # one order for every writer: no deadlocks between collectors
                self._upsert_device(cur, device, now, deltas[device])
            for status in statuses:
                out.statuses += self._status(cur, status, now)
        out.devices = dict(deltas)
        out.stored = sum(d.results for d in deltas.values())
        out.duplicates = sum(d.duplicates for d in deltas.values())
        out.malformed = sum(d.malformed for d in deltas.values())
        out.images = sum(d.images for d in deltas.values())
        return out

    def _insert_results(self, cur, rows: list[Result], now: float) -> set[str]:
        inserted: set[str] = set()
        width = len(schema.RESULT_COLUMNS)
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            values = ", ".join(["(" + ", ".join(["?"] * width) + ")"] * len(chunk))
            params = [v for r in chunk for v in (r.id, r.device, r.seq, r.time, now, r.source, r.model_sha256,
                                                 r.backend, r.top, r.top_label, r.top_score, r.latency_ms,
                                                 r.total_ms, r.layers)]
            cur.execute(self.q(f"INSERT INTO results ({', '.join(schema.RESULT_COLUMNS)}) VALUES {values} "
                               "ON CONFLICT (id) DO NOTHING RETURNING id"), params)
            inserted.update(row[0] for row in cur.fetchall())
        return inserted

    def _insert_image(self, cur, image: Image, now: float) -> bool:
        if self.images_dir is None:
            return False
        relative = Path(image.device) / image.layer / (image.id.replace(":", "_") + ".png")
        target = self.images_dir / relative
        try:
            if not target.exists():  # a redelivered image: the same bytes are already there
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_suffix(".part")
                partial.write_bytes(image.png)
                os.replace(partial, target)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write layer image {target}: {exc.strerror}") from None
        cur.execute(self.q("INSERT INTO layer_images (id, device, layer, result_id, path, bytes, stored_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id"),
                    (image.id, image.device, image.layer, image.result_id, str(relative), len(image.png), now))
        return cur.fetchone() is not None

    def _upsert_device(self, cur, device: str, now: float, d: Delta) -> None:
        g = self.greatest
        cur.execute(self.q(
            "INSERT INTO devices (device, first_seen, last_seen, results, duplicates, malformed, images) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET "
            f"last_seen = {g}(devices.last_seen, excluded.last_seen), "
            "results = devices.results + excluded.results, duplicates = devices.duplicates + excluded.duplicates, "
            "malformed = devices.malformed + excluded.malformed, images = devices.images + excluded.images"),
            (device, now, now, d.results, d.duplicates, d.malformed, d.images))

    def _status(self, cur, status: Status, now: float) -> int:
        """Keeps the status in the history and, when it is the newest, as the device's state."""
        if status.time is None:  # a will: the broker lost the device's connection
            cur.execute(self.q("UPDATE devices SET state = 'offline', state_reason = ?, status_seen = ? "
                               "WHERE device = ?"), ("last will: the broker lost its connection", now,
                                                     status.device))
            key = now
        else:
            offline = status.state == "offline"
            cur.execute(self.q(
                "UPDATE devices SET status = ?, status_seen = ?, state = ?, state_reason = ?, "
                "status_interval = CASE WHEN status_time IS NOT NULL THEN ? - status_time "
                "ELSE status_interval END, status_time = ? "
                "WHERE device = ? AND (status_time IS NULL OR status_time < ?)"),
                (status.payload, now, "offline" if offline else "online", "said goodbye" if offline else "",
                 status.time, status.time, status.device, status.time))
            key = status.time
        cur.execute(self.q("INSERT INTO statuses (device, time, received, state, payload) VALUES (?, ?, ?, ?, ?) "
                           "ON CONFLICT (device, time) DO NOTHING RETURNING device"),
                    (status.device, key, now, status.state, status.payload))
        return int(cur.fetchone() is not None)

    def mark_offline(self, now: float, after: float) -> list[tuple[str, float]]:
        """Devices online whose periodic status stopped (over `after` s, or 3 of their intervals)."""
        g = self.greatest
        with self.transaction() as cur:
            cur.execute(self.q(f"SELECT device, ? - status_seen FROM devices WHERE state = 'online' AND "
                               f"status_seen < ? - {g}(?, 3 * COALESCE(status_interval, 0))"), (now, now, after))
            stale = [(row[0], float(row[1])) for row in cur.fetchall()]
            for device, silent in stale:
                cur.execute(self.q("UPDATE devices SET state = 'offline', state_reason = ? WHERE device = ?"),
                            (f"no status for {silent:.0f} s", device))
        return stale

    # -- reading -------------------------------------------------------------------------------
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.transaction() as cur:
            cur.execute(self.q(sql), params)
            return [tuple(row) for row in cur.fetchall()]


def open_store(db: str, images_dir: Path | None = None, max_mb: float = 0, create: bool = True) -> Store:
    """SQLite for a path, PostgreSQL for a postgresql:// URL; connected, with the schema in place."""
    if db.startswith(("postgresql://", "postgres://")):
        from fleet.store_pg import PostgresStore
        store: Store = PostgresStore(db, images_dir)
    elif "://" in db:
        raise StoreError(f"--db {db}: only a SQLite file path or a postgresql:// URL is supported")
    else:
        from fleet.store_sqlite import SqliteStore
        store = SqliteStore(Path(db), images_dir, max_mb)
    store.connect()
    if create:
        store.create_schema()
    return store
