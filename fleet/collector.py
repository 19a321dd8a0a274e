"""The collector loop: deliveries in, batches committed, and only then acknowledged.

A source (MQTT or JetStream) hands over deliveries that stay unacknowledged. The loop
takes a batch (size or time), parses it, commits it in one transaction, then acknowledges
every message of it in arrival order. When the database is down, locked or full, the batch
is held and retried with capped exponential backoff; nothing is acknowledged meanwhile, so
the broker keeps (and, after a crash, redelivers) everything not yet committed.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fleet import records
from fleet.errors import FleetError, StoreUnavailable
from fleet.store import Outcome, Store

log = logging.getLogger("unseen.collect")


@dataclass
class Delivery:
    topic: str
    payload: bytes
    token: object               # what the source needs to acknowledge this message
    message_id: str = ""        # the MQTT 5 user property, when there is one


@dataclass
class Totals:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    malformed: int = 0
    images: int = 0
    statuses: int = 0
    batches: int = 0
    outages: int = 0
    held_max: int = 0


class Collector:
    def __init__(self, open_store: Callable[[], Store], source, prefix: str = "unseen", batch: int = 500,
                 flush_seconds: float = 0.2, offline_after: float = 30.0, backoff_max: float = 30.0,
                 echo: Callable[[str], None] = log.info) -> None:
        self.open_store, self.source, self.prefix = open_store, source, prefix
        self.batch, self.flush_seconds = batch, flush_seconds
        self.offline_after, self.backoff_max, self.echo = offline_after, backoff_max, echo
        self.pending: collections.deque[Delivery] = collections.deque()
        self.arrived = threading.Condition()
        self.stop = threading.Event()
        self.totals = Totals()
        self.store: Store | None = None
        self.holding = False
        self.last_outage = ""  # the database's last refusal, for a run that gives up waiting

    # -- called by the source's thread ----------------------------------------------------------
    def deliver(self, delivery: Delivery) -> None:
        with self.arrived:
            self.pending.append(delivery)
            self.totals.received += 1
            self.arrived.notify()

    def backlog(self) -> int:
        return len(self.pending)

    # -- the loop --------------------------------------------------------------------------------
    def run(self, count: int = 0, timeout: float = 0, stats_every: float = 0) -> Totals:
        """Until `count` new results are stored, `timeout` s pass, or `stop` is set."""
        deadline = time.monotonic() + timeout if timeout else None
        self.store = self._with_backoff(self.open_store, "opening the database", deadline=deadline)
        if self.store is None:
            if not self.stop.is_set():  # the time ran out, not a stop asked for
                raise FleetError(f"the database did not become available in {timeout:g} s: {self.last_outage}")
            return self.totals
        next_check = next_stats = time.monotonic()
        try:
            self.source.start(self)
            while not self.stop.is_set():
                if count and self.totals.stored >= count:
                    break
                if deadline and time.monotonic() > deadline:
                    if self.source.unreached():  # a bounded run that never got a word is a failure
                        raise FleetError(f"never reached {self.source.unreached()} in {timeout:g} s")
                    break
                self.source.raise_if_failed()
                batch = self._take()
                if batch:
                    self._commit(batch)
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + min(5.0, self.offline_after / 3)
                    self._check_liveness()
                if stats_every and now >= next_stats:
                    next_stats = now + stats_every
                    self.echo(self.summary())
        finally:
            with self.arrived:
                unacknowledged = [d.token for d in self.pending]
                self.pending.clear()
            self.source.release(unacknowledged)  # back to the broker now, not at a timeout
            self.source.stop()
            self.store.close()
        return self.totals

    def _take(self) -> list[Delivery]:
        """Up to `batch` deliveries: waits for the first, then at most `flush_seconds` to fill up."""
        with self.arrived:
            if not self.pending:
                self.arrived.wait(0.25)
            if not self.pending:
                return []
            fill_by = time.monotonic() + self.flush_seconds
            while len(self.pending) < self.batch and not self.stop.is_set():
                left = fill_by - time.monotonic()
                if left <= 0:
                    break
                self.arrived.wait(left)
            return [self.pending.popleft() for _ in range(min(self.batch, len(self.pending)))]

    def _commit(self, batch: list[Delivery]) -> None:
        parsed = [records.parse(d.topic, d.payload, self.prefix, d.message_id) for d in batch]
        rows = [r for r in parsed if r is not None]
        self.totals.held_max = max(self.totals.held_max, len(batch) + len(self.pending))
        outcome = self._with_backoff(lambda: self.store.write(rows), f"storing {len(batch)} messages",
                                     held=len(batch)) if rows else Outcome()
        if outcome is None:  # stopping while the database is still away: nothing is acknowledged
            self.pending.extendleft(reversed(batch))
            return
        self.source.ack([d.token for d in batch])
        t = self.totals
        t.batches += 1
        t.stored += outcome.stored
        t.duplicates += outcome.duplicates
        t.malformed += outcome.malformed
        t.images += outcome.images
        t.statuses += outcome.statuses

    def _with_backoff(self, action, what: str, held: int = 0, deadline: float | None = None):
        """`action()`, retried while the database is unavailable; None if stopped or past `deadline` meanwhile."""
        delay = 0.5
        while True:
            try:
                value = action()
            except StoreUnavailable as exc:
                self.last_outage = str(exc)
                if deadline is not None and time.monotonic() > deadline:
                    return None
                if not self.holding:
                    self.totals.outages += 1
                    self.echo(f"database unavailable while {what}: {exc}; holding "
                              f"{held + len(self.pending)} messages unacknowledged, retrying")
                self.holding = True
                self.source.pause()
                if self.stop.wait(min(delay, self.backoff_max) * random.uniform(0.5, 1.0)):
                    return None
                delay = min(delay * 2, self.backoff_max)
                self._reconnect()
                continue
            if self.holding:
                self.holding = False
                self.echo(f"database back; {what} done, resuming")
                self.source.resume()
            return value

    def _reconnect(self) -> None:
        try:
            if self.store is not None:
                self.store.reconnect()
        except StoreUnavailable as exc:
            log.debug("still unavailable: %s", exc)

    def _check_liveness(self) -> None:
        try:
            for device, silent in self.store.mark_offline(time.time(), self.offline_after):
                self.echo(f"[{device}] offline: no status for {silent:.0f} s")
        except StoreUnavailable:
            pass  # the next batch will report the outage and wait for the database
        except FleetError as exc:
            log.warning("liveness check failed: %s", exc)

    def summary(self) -> str:
        t = self.totals
        return (f"stored {t.stored} results, {t.duplicates} duplicates dropped, {t.malformed} malformed, "
                f"{t.images} layer images, {t.statuses} statuses ({t.received} messages, "
                f"{t.outages} database outages)")
