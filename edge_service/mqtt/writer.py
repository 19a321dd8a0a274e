"""Group commit: one writer thread stores what the loop hands it, and deletes what the broker
acknowledged, one WAL transaction (one fsync, synchronous=FULL) per group.

A group is whatever arrived while the previous commit ran, so a busy loop gets large groups and
an idle one gets its message stored at once. A message exists for the pump only once its commit
has returned; what a kill -9 can lose is what was never committed, never what was.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge_service.mqtt.outbox import Message, Outbox, OutboxError

log = logging.getLogger("unseen.outbox")
RETRY_SECONDS = 1.0  # after a failed commit, submissions are refused this long, then tried again


class OutboxWriter:
    def __init__(self, outbox: Outbox, on_committed: Callable[[list[Message]], None],
                 max_waiting: int = 2000) -> None:
        self.outbox, self.on_committed, self.max_waiting = outbox, on_committed, max_waiting
        self.puts: list[tuple[str, bytes, str, str]] = []
        self.acks: list[int] = []
        self.changed = threading.Condition()
        self.busy = False
        self.failure = ""             # the last commit's error, until a commit succeeds again
        self.failed_at = 0.0
        self.commits = 0
        self.not_stored = 0           # messages whose commit failed (a full disk): counted, not hidden
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="outbox-writer", daemon=True)
        self.thread.start()

    def submit(self, topic: str, payload: bytes, kind: str, msg_id: str) -> None:
        """Queues one message for the next group; waits only while `max_waiting` are already queued.
        Raises OutboxError while commits fail (a full disk), so the caller counts it."""
        with self.changed:
            if self.failure and time.monotonic() - self.failed_at < RETRY_SECONDS:
                raise OutboxError(self.failure)
            while len(self.puts) >= self.max_waiting and not self.stopping:
                self.changed.wait(0.1)
            self.puts.append((topic, payload, kind, msg_id))
            self.changed.notify_all()

    def ack(self, rowid: int) -> None:
        with self.changed:
            self.acks.append(rowid)
            self.changed.notify_all()

    def _run(self) -> None:
        while True:
            with self.changed:
                while not (self.puts or self.acks or self.stopping):
                    self.changed.wait()
                if self.stopping and not (self.puts or self.acks):
                    return
                puts, acks, self.puts, self.acks = self.puts, self.acks, [], []
                self.busy = True
            try:
                stored = self.outbox.commit_group(puts, acks)
                self.failure = ""
                self.commits += 1
            except OutboxError as exc:
                stored = []
                self.failure, self.failed_at = str(exc), time.monotonic()
                self.not_stored += len(puts)
                log.error("%s (%d messages not stored)", exc, len(puts))
            with self.changed:
                self.busy = False
                self.changed.notify_all()
            if stored:
                self.on_committed(stored)

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until everything queued so far is committed; False on a timeout."""
        with self.changed:
            return self.changed.wait_for(lambda: not (self.puts or self.acks or self.busy), timeout)

    def close(self) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        self.thread.join(timeout=10)
