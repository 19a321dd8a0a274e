"""Hands outbox rows to paho in order, within the in-flight window, and deletes each on its PUBACK.

The outbox, not paho, decides what is resent: on every new session paho's own copies are
dropped and the pump starts again from the oldest unacknowledged row (a restarted broker may
have lost what it had). Duplicates are possible (subscribers drop them by id), losses are not.
"""

from __future__ import annotations

from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_service.mqtt.outbox import Outbox


class OutboxPump:
    def __init__(self, outbox: Outbox, window: int, v5: bool,
                 on_ack: Callable[[str], None] | None = None) -> None:
        self.outbox, self.window, self.v5, self.on_ack = outbox, window, v5, on_ack
        self.inflight: dict[int, tuple[int, str]] = {}  # paho mid -> (outbox rowid, message id)
        self.last_handed = 0                            # rows up to here are with paho
        self.acked = 0

    def restart(self, client: paho.Client) -> None:
        """A new session: forget what paho holds and resend from the oldest unacknowledged row."""
        client.drop_out_messages()
        self.inflight.clear()
        self.last_handed = 0

    def pump(self, client: paho.Client) -> None:
        room = self.window - len(self.inflight)
        if room <= 0:
            return
        for message in self.outbox.pending(self.last_handed, room):
            properties = None
            if self.v5:  # with MQTT 5 the id also travels as a user property; on 3.1.1 it is in the payload
                properties = Properties(PacketTypes.PUBLISH)
                properties.UserProperty = [("id", message.msg_id)]
            info = client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain,
                                  properties=properties)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                break
            self.inflight[info.mid] = (message.rowid, message.msg_id)
            self.last_handed = message.rowid

    def puback(self, mid: int) -> None:
        entry = self.inflight.pop(mid, None)
        if entry is not None:
            rowid, msg_id = entry
            self.outbox.ack(rowid)
            self.acked += 1
            if self.on_ack is not None:
                self.on_ack(msg_id)

    @property
    def idle(self) -> bool:
        return self.outbox.count == 0 and not self.inflight
