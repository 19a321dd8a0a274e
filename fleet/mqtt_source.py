"""Subscribing over MQTT with manual acknowledgements, a persistent session and shared subscriptions.

paho delivers each QoS 1 message without acknowledging it (`manual_ack`); the collector
acknowledges it once its row is committed. With `client_id`, the session outlives the
process (MQTT 5 session expiry, or 3.1.1 clean_session=False), so messages that arrive
while this collector is down are queued for it by the broker.

Results and layer images use `$share/<group>/...` when a share group is given, so N
collectors split them; statuses are never shared (every collector keeps the fleet's
state, the retained status included, and the store drops the repeats).
MQTT 5 is asked for first; a broker that speaks only 3.1.1 gets 3.1.1 (no shared subscriptions there).
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.collector import Delivery
from fleet.errors import SourceError

log = logging.getLogger("unseen.collect.mqtt")
REFUSALS = {"Not authorized", "Bad user name or password", "Client identifier not valid", "Banned"}


@dataclass
class MqttOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "unseen"
    client_id: str = ""              # empty: a fresh id and a session that ends with the connection
    share: str = ""
    layers: bool = False
    protocol: str = "5"
    session_expiry: int = 7 * 86400
    receive_maximum: int = 1000      # messages the broker may have in flight to us, unacknowledged
    keepalive: int = 30
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""


class MqttSource:
    def __init__(self, options: MqttOptions) -> None:
        self.o = options
        self.persistent = bool(options.client_id)
        self.client_id = options.client_id or f"unseen-collect-{uuid.uuid4().hex[:12]}"
        self.v5 = options.protocol == "5"
        self.generation = 0          # bumped on every connection: a mid is only valid on its own
        self.lock = threading.Lock()
        self.failure = ""
        self.collector = None
        self.connected = threading.Event()
        self.client = self._make_client()

    def _make_client(self) -> paho.Client:
        o = self.o
        if self.v5:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5)
        else:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv311,
                                 clean_session=not self.persistent)
        client.manual_ack_set(True)
        if o.username:
            client.username_pw_set(o.username, o.password or None)
        if o.tls:
            try:
                client.tls_set(ca_certs=o.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise SourceError(f"MQTT TLS set-up failed: {exc}") from None
        client.reconnect_delay_set(0.5, 30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = lambda *_: log.warning("cannot reach MQTT broker %s:%s; retrying",
                                                        self.o.host, self.o.port)
        client.on_message = self._on_message
        return client

    def topics(self) -> list[tuple[str, bool]]:
        """(filter, shared) pairs."""
        p = self.o.prefix.strip("/")
        wanted = [(f"{p}/+/result", True), (f"{p}/+/status", False)]
        if self.o.layers:
            wanted.append((f"{p}/+/layers/+", True))
        return wanted

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, collector) -> None:
        self.collector = collector
        self._connect()

    def _connect(self) -> None:
        kwargs = {}
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.o.session_expiry if self.persistent else 0
            props.ReceiveMaximum = self.o.receive_maximum
            kwargs = {"clean_start": not self.persistent, "properties": props}
        try:
            self.client.connect_async(self.o.host, self.o.port, self.o.keepalive, **kwargs)
        except (OSError, ValueError, UnicodeError) as exc:
            raise SourceError(f"cannot reach MQTT broker {self.o.host}:{self.o.port} ({exc})") from None
        self.client.loop_start()

    def stop(self) -> None:
        self.connected.clear()  # a disconnection asked for is not worth a warning
        self.client.disconnect()
        self.client.loop_stop()

    def raise_if_failed(self) -> None:
        if self.failure:
            raise SourceError(self.failure)

    def unreached(self) -> str:
        """The broker, if no session was ever made with it; else ""."""
        return "" if self.generation else f"MQTT broker {self.o.host}:{self.o.port}"

    def release(self, tokens: list) -> None:
        """Nothing to send: the broker redelivers what was not acknowledged when the session resumes."""

    def pause(self) -> None:
        """Nothing to do: unacknowledged, the broker stops at `receive_maximum` on its own."""

    def resume(self) -> None:
        """See pause."""

    # -- paho callbacks -----------------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        reason = str(reason_code)
        if reason_code.is_failure:
            if self.v5 and reason == "Unsupported protocol version":
                threading.Thread(target=self._fall_back, daemon=True).start()
            elif reason in REFUSALS:
                self.failure = f"MQTT broker {self.o.host}:{self.o.port} refused the collector: {reason}"
            else:
                log.warning("MQTT broker %s:%s refused the connection: %s", self.o.host, self.o.port, reason)
            return
        with self.lock:
            self.generation += 1
        self.connected.set()
        subscriptions = []
        for topic, shared in self.topics():
            name = f"$share/{self.o.share}/{topic}" if shared and self.o.share else topic
            subscriptions.append((name, 1))
        client.subscribe(subscriptions)
        log.info("subscribed on %s:%s as %s (%s, session %s): %s", self.o.host, self.o.port, self.client_id,
                 "MQTT 5" if self.v5 else "MQTT 3.1.1", "persistent" if self.persistent else "clean",
                 ", ".join(s for s, _ in subscriptions))

    def _fall_back(self) -> None:
        """The broker speaks 3.1.1 only (NATS does): reconnect with it; a share group cannot work there."""
        if self.o.share:
            self.failure = (f"MQTT broker {self.o.host}:{self.o.port} speaks MQTT 3.1.1 only, which has no shared "
                            f"subscriptions (--share): on NATS, share a JetStream consumer with --nats")
            return
        log.warning("MQTT broker %s:%s does not speak MQTT 5; using 3.1.1", self.o.host, self.o.port)
        self.client.loop_stop()
        self.client.disconnect()
        self.v5 = False
        self.client = self._make_client()
        self._connect()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set():
            log.warning("disconnected from %s:%s (%s); reconnecting", self.o.host, self.o.port, reason_code)
        self.connected.clear()

    def _on_message(self, client, userdata, message) -> None:
        message_id = ""
        if self.v5 and message.properties is not None:
            message_id = dict(getattr(message.properties, "UserProperty", []) or []).get("id", "")
        self.collector.deliver(Delivery(message.topic, message.payload,
                                        (self.generation, message.mid, message.qos), message_id))

    def ack(self, tokens: list) -> None:
        """PUBACKs, in arrival order; a message from an earlier connection is redelivered instead."""
        with self.lock:
            generation = self.generation
        for gen, mid, qos in tokens:
            if qos and gen == generation:
                self.client.ack(mid, qos)
