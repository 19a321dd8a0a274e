"""Hands committed outbox messages to paho in order, within the in-flight window; each PUBACK frees
its row and refills the window at once (no polling).

Committed messages come from the writer in memory. The outbox, not paho, decides what is resent:
on every new session paho's own copies are dropped and the pump reads the outbox again from its
oldest row, then goes back to memory once it has caught up (a restarted broker may have lost what
it had). Duplicates are possible (subscribers drop them by id), losses are not.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_service.mqtt.outbox import Message, Outbox

log = logging.getLogger("unseen.mqtt")
MEMORY = 4096  # committed messages kept for sending; beyond that the pump reads them back from the outbox


class OutboxPump:
    def __init__(self, outbox: Outbox, window: int, v5: bool, forget: Callable[[list[int]], None] | None = None,
                 on_ack: Callable[[str], None] | None = None) -> None:
        self.outbox, self.window, self.v5, self.on_ack = outbox, window, v5, on_ack
        self.wake: Callable[[], None] = lambda: None  # asks the network thread to send (the link's wake)
        self.forget = forget or outbox.forget  # deletes acknowledged rows (the writer batches them)
        self.lock = threading.Lock()
        self.client: paho.Client | None = None          # set while a session is up
        self.inflight: dict[int, tuple[int, str]] = {}  # paho mid -> (outbox rowid, message id)
        self.memory: collections.deque[Message] = collections.deque()
        self.from_outbox = True                         # reading back stored rows until caught up
        self.last_handed = 0                            # rows up to here are with paho
        self.pubacks: collections.deque[int] = collections.deque()
        self.acked = 0
        self.dropped = 0                                # messages paho will never send

    def restart(self, client: paho.Client) -> None:
        """A new session: forget what paho holds and resend from the oldest unacknowledged row."""
        with self.lock:
            client.drop_out_messages()
            self.client = client
            self.inflight.clear()
            self.pubacks.clear()
            self.memory.clear()
            self.from_outbox, self.last_handed = True, 0  # the next tick sends, outside paho's callback

    def disconnected(self) -> None:
        with self.lock:
            self.client = None

    def committed(self, messages: list[Message]) -> None:
        """From the writer: these are stored; the network thread sends them as the window allows."""
        with self.lock:
            if not self.from_outbox:
                self.memory.extend(messages)
                if len(self.memory) > MEMORY:  # the broker is slow: read them back later instead
                    self.memory.clear()
                    self.from_outbox = True
        self.wake()

    def puback(self, mid: int) -> None:
        """paho calls this inside its own locks: only note the mid here (the network thread's next
        tick, right after this packet, frees the row and refills the window)."""
        self.pubacks.append(mid)

    def pump(self, client: paho.Client) -> None:
        """On the network thread, after every network round: acknowledged rows go, the window refills."""
        with self.lock:
            if self.pubacks:
                done = []
                while self.pubacks:
                    entry = self.inflight.pop(self.pubacks.popleft(), None)
                    if entry is not None:
                        done.append(entry[0])
                        if self.on_ack is not None:
                            self.on_ack(entry[1])
                self.acked += len(done)
                self.forget(done)  # one hand-over per round, not one per PUBACK
            self._fill()

    def _next(self, room: int) -> list[Message]:
        if self.from_outbox:
            rows = self.outbox.pending(self.last_handed, room)
            if len(rows) < room:  # caught up: what is committed from now on comes from memory
                self.from_outbox = False
            return rows
        batch = []
        while self.memory and len(batch) < room:
            message = self.memory.popleft()
            if message.rowid > self.last_handed:  # read back already, or sent before a reconnect
                batch.append(message)
        return batch

    def _fill(self) -> None:
        if self.client is None:
            return
        room = self.window - len(self.inflight)
        while room > 0:
            batch = self._next(room)
            if not batch:
                return
            for message in batch:
                try:
                    sent = self._send(message)
                except ValueError as exc:
                    # A topic or payload paho will never send (a layer name with a wildcard, from a
                    # manifest older than the check): dropped, or it would block the outbox for good.
                    log.error("dropped message %s on %r: %s", message.msg_id, message.topic, exc)
                    self.dropped += 1
                    self.last_handed = message.rowid
                    self.forget([message.rowid])
                    continue
                if not sent:
                    self.from_outbox = True  # paho refused (disconnecting): read it back next time
                    return
                room -= 1

    def _send(self, message: Message) -> bool:
        properties = None
        if self.v5:  # with MQTT 5 the id also travels as a user property; on 3.1.1 it is in the payload
            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = [("id", message.msg_id)]
        info = self.client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain,
                                   properties=properties)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            return False
        self.inflight[info.mid] = (message.rowid, message.msg_id)
        self.last_handed = message.rowid
        return True

    @property
    def idle(self) -> bool:
        return self.outbox.count == 0 and not self.inflight and not self.pubacks
