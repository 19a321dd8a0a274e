"""Group commit: one writer thread stores what the loop hands it, and deletes what the broker
acknowledged, one WAL transaction (one fsync, synchronous=FULL) per group.

While messages keep coming, commits start at most every GROUP_SECONDS: each fsync costs about
0.2 ms of CPU whatever the group's size, so a busy loop gets a few large groups instead of one
transaction per message. After a quiet spell a message is committed at once. Acknowledged rows
alone wait (ACK_SECONDS) for the next commit of new messages to ride on: deleting them later
can only mean a duplicate after a crash, never a loss. A message exists for the pump only once
its commit has returned; what a kill -9 can lose is what was never committed, never what was.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from edge_service.mqtt.outbox import Message, Outbox, OutboxError

log = logging.getLogger("unseen.outbox")
RETRY_SECONDS = 1.0   # after a failed commit, submissions are refused this long, then tried again
GROUP_SECONDS = 0.005  # at least this between the starts of two commits while messages keep coming
ACK_SECONDS = 0.05     # how long acknowledged rows alone wait for new messages to share a commit


class OutboxWriter:
    def __init__(self, outbox: Outbox, on_committed: Callable[[list[Message]], None],
                 max_waiting: int = 2000, group_seconds: float = GROUP_SECONDS) -> None:
        self.outbox, self.on_committed, self.max_waiting = outbox, on_committed, max_waiting
        self.group_seconds = group_seconds
        self.puts: list[tuple[str, bytes, str, str]] = []
        self.acks: list[int] = []
        self.acks_since = 0.0          # when the oldest waiting acknowledgement came
        self.last_commit = 0.0         # when the last commit started
        self.sleeping_until = 0.0      # the writer's wake-up time while it waits (inf: none); 0 while it runs
        self.changed = threading.Condition(threading.Lock())
        self.busy = False
        self.hurry = 0                 # flushes waiting: commit what there is now
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
            # Wake the writer only if it would otherwise look too late: a busy loop's messages then
            # cost no wake-up each, only the one timed wake-up per group.
            if len(self.puts) == 1 and self.sleeping_until > self.last_commit + self.group_seconds:
                self.changed.notify_all()

    def ack(self, rowids: list[int]) -> None:
        """The broker has these rows: they go in a coming commit."""
        if not rowids:
            return
        with self.changed:
            if not self.acks:
                self.acks_since = time.monotonic()
                if self.sleeping_until == math.inf:  # otherwise it wakes anyway and sees them
                    self.changed.notify_all()
            self.acks.extend(rowids)

    def _wait_for_group(self) -> bool:
        """Under the lock: waits until a group is due; False once stopping with nothing left."""
        while True:
            now = time.monotonic()
            group_due = self.last_commit + self.group_seconds
            if self.stopping or self.hurry:
                if self.puts or self.acks:
                    return True
                if self.stopping:
                    return False
                due = math.inf
            elif self.puts:
                due = group_due
            elif self.acks:
                due = max(group_due, self.acks_since + ACK_SECONDS)
            else:  # just after a commit, look again when the next group would be due, unasked
                due = group_due if now < group_due else math.inf
            if due <= now:
                return True
            self.sleeping_until = due
            self.changed.wait(None if due == math.inf else due - now)
            self.sleeping_until = 0.0

    def _run(self) -> None:
        while True:
            with self.changed:
                if not self._wait_for_group():
                    return
                puts, acks, self.puts, self.acks = self.puts, self.acks, [], []
                self.busy = True
                self.changed.notify_all()  # a submit waiting for room may go on
            self.last_commit = time.monotonic()
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
        """Commits everything queued so far now and waits for it; False on a timeout."""
        with self.changed:
            self.hurry += 1
            self.changed.notify_all()
            try:
                return self.changed.wait_for(lambda: not (self.puts or self.acks or self.busy), timeout)
            finally:
                self.hurry -= 1

    def close(self) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        self.thread.join(timeout=10)
