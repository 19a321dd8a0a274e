"""The MQTT sink: results through the outbox to the broker, status, discovery and commands.

One network thread owns the paho client (paho-mqtt 2, CallbackAPIVersion.VERSION2): it
connects with capped exponential backoff and jitter, hands waiting outbox rows to paho
in order, deletes each on its PUBACK, publishes the retained status and answers commands.
After every (re)connect it resends every unacknowledged row from the oldest: duplicates are
possible (subscribers drop them by id), losses are not.
The pipeline thread only writes to the outbox, so a slow or absent broker never stalls it.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_service.errors import EdgeError
from edge_service.mqtt.commands import CommandHandler
from edge_service.mqtt.discovery import discovery_messages
from edge_service.mqtt.layer_images import LayerImagePolicy, layer_png
from edge_service.mqtt.outbox import Outbox
from edge_service.results import FrameResult
from edge_service.sinks import Sink

log = logging.getLogger("unseen.mqtt")

# CONNACK reasons that retrying will not cure: the user has to change something.
REFUSALS = {"Not authorized", "Bad user name or password", "Client identifier not valid",
            "Unsupported protocol version", "Banned", "Bad authentication method"}


class MqttRefused(EdgeError):
    """The broker refused the connection (credentials, TLS, protocol): fix the configuration."""


@dataclass
class MqttSettings:
    host: str
    port: int = 1883
    protocol: str = "3.1.1"
    client_id: str = ""
    keepalive: int = 30
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    prefix: str = "unseen"
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    inflight: int = 64
    discovery: bool = False
    discovery_prefix: str = "homeassistant"
    connect_timeout: float = 10.0
    drain_seconds: float = 5.0     # on a clean stop, how long to wait for the outbox to empty


class MqttSink(Sink):
    def __init__(self, settings: MqttSettings, outbox: Outbox, device_id: str,
                 layer_policy: LayerImagePolicy | None = None) -> None:
        self.settings, self.outbox, self.device_id = settings, outbox, device_id
        self.base = f"{settings.prefix.rstrip('/')}/{device_id}"
        self.layer_policy = layer_policy or LayerImagePolicy()
        self.commands: CommandHandler | None = None
        self.v5 = settings.protocol == "5"
        self.client = self._make_client()
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.first_outcome = threading.Event()
        self.fatal = ""
        self.attempted = False                 # connect() once, reconnect() after that
        self.ever_connected = False
        self.inflight: dict[int, tuple[int, str]] = {}  # paho mid -> (outbox rowid, message id)
        self.last_handed = 0                   # rows up to here are with paho
        self.latest_status: dict | None = None
        self.status_dirty = False
        self.replies: list[tuple[str, bytes]] = []
        self.acked = 0
        self.on_ack = None                     # optional callback(msg_id) on each PUBACK
        self.thread = threading.Thread(target=self._network, name="mqtt", daemon=True)

    # -- paho client -----------------------------------------------------------------------
    def _make_client(self) -> paho.Client:
        s = self.settings
        protocol = paho.MQTTv5 if self.v5 else paho.MQTTv311
        kwargs = {} if self.v5 else {"clean_session": True}
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id or self.device_id,
                             protocol=protocol, **kwargs)
        if s.username:
            client.username_pw_set(s.username, s.password or None)
        if s.tls:
            try:
                client.tls_set(ca_certs=s.ca_file or None, certfile=s.cert_file or None,
                               keyfile=s.key_file or None, cert_reqs=ssl.CERT_REQUIRED)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise MqttRefused(f"MQTT TLS set-up failed: {exc}") from None
        offline = json.dumps({"state": "offline", "device": self.device_id}).encode()
        client.will_set(f"{self.base}/status", offline, qos=1, retain=True)
        client.max_inflight_messages_set(s.inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_log = self._on_log
        return client

    def _on_log(self, client, userdata, level, message: str) -> None:
        # A broker that rejects the TLS session after the handshake (e.g. it requires a client
        # certificate) only shows up here, as a failed read before any CONNACK.
        if level == paho.MQTT_LOG_ERR and self.settings.tls and not self.ever_connected and "ssl" in message.lower():
            hint = "" if self.settings.cert_file else \
                " (does the broker require a client certificate? --mqtt-cert-file and --mqtt-key-file)"
            self.fatal = f"TLS with {self.settings.host}:{self.settings.port} failed: {message}{hint}"
            log.error(self.fatal)
            self.first_outcome.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            reason = str(reason_code)
            message = f"MQTT broker {self.settings.host}:{self.settings.port} refused the connection: {reason}"
            if reason in REFUSALS:
                self.fatal = message
            log.error(message)
            self.first_outcome.set()
            return
        # The outbox, not paho, decides what is resent: drop paho's copies and start again
        # from the oldest unacknowledged row, in order (a restarted broker may have lost them).
        client.drop_out_messages()
        self.fatal = ""
        self.inflight.clear()
        self.last_handed = 0
        self.connected.set()
        self.ever_connected = True
        self.first_outcome.set()
        log.info("connected to %s:%s", self.settings.host, self.settings.port)
        client.subscribe(f"{self.base}/cmd/+", qos=1)
        self.status_dirty = self.latest_status is not None
        if self.settings.discovery:
            for topic, payload in discovery_messages(self.settings.discovery_prefix, self.base, self.device_id):
                client.publish(topic, payload, qos=1, retain=True)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set() and not self.stopping.is_set():
            log.warning("disconnected from the broker (%s); results wait in the outbox", reason_code)
        self.connected.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        entry = self.inflight.pop(mid, None)
        if entry is not None:
            rowid, msg_id = entry
            self.outbox.ack(rowid)
            self.acked += 1
            if self.on_ack is not None:
                self.on_ack(msg_id)

    def _on_message(self, client, userdata, message) -> None:
        verb = message.topic.rsplit("/", 1)[-1]
        if self.commands is None:
            reply = {"ok": False, "verb": verb, "reason": "commands are not enabled"}
        else:
            reply = self.commands.handle(verb, message.payload)
        client.publish(f"{self.base}/cmd/{verb}/reply", json.dumps(reply).encode(), qos=1)

    # -- the network thread ----------------------------------------------------------------
    def start(self, wait: bool = True) -> None:
        """Starts connecting; with `wait`, a refused connection raises MqttRefused here."""
        self.thread.start()
        if wait:
            self.first_outcome.wait(self.settings.connect_timeout)
            if self.fatal:
                self.close()
                raise MqttRefused(self.fatal)
            if not self.connected.is_set():
                log.warning("MQTT broker %s:%s not reachable yet; results are kept in the outbox",
                            self.settings.host, self.settings.port)

    def _connect_once(self) -> bool:
        try:
            if not self.attempted:
                self.attempted = True
                self.client.connect(self.settings.host, self.settings.port, self.settings.keepalive)
            else:
                self.client.reconnect()
            return True
        except ssl.SSLError as exc:
            self.fatal = f"TLS with {self.settings.host}:{self.settings.port} failed: {exc.reason or exc}"
            log.error(self.fatal)
        except (OSError, paho.WebsocketConnectionError) as exc:
            log.warning("cannot reach MQTT broker %s:%s (%s)", self.settings.host, self.settings.port, exc)
        self.first_outcome.set()
        return False

    def _network(self) -> None:
        delay = self.settings.backoff_initial
        while not self.stopping.is_set():
            if not self.connected.is_set():
                if self._connect_once():
                    deadline = time.monotonic() + self.settings.connect_timeout
                    while not (self.connected.is_set() or self.fatal or self.stopping.is_set()) \
                            and time.monotonic() < deadline:
                        if self.client.loop(timeout=0.05) != paho.MQTT_ERR_SUCCESS:
                            break
                if not self.connected.is_set():
                    if self.fatal:  # credentials or TLS: say so at every attempt, slowly
                        delay = self.settings.backoff_max
                    wait = min(delay, self.settings.backoff_max) * random.uniform(0.5, 1.0)
                    self.stopping.wait(wait)
                    delay = min(delay * 2, self.settings.backoff_max)
                    continue
                delay = self.settings.backoff_initial
            self._pump()
            self.client.loop(timeout=0.02)
        self._goodbye()

    def _pump(self) -> None:
        """Hands waiting outbox rows to paho, in order, within the in-flight window."""
        if self.status_dirty and self.latest_status is not None:
            self.client.publish(f"{self.base}/status", json.dumps(self.latest_status).encode(), qos=1, retain=True)
            self.status_dirty = False
        room = self.settings.inflight - len(self.inflight)
        if room <= 0:
            return
        for message in self.outbox.pending(self.last_handed, room):
            properties = None
            if self.v5:
                properties = Properties(PacketTypes.PUBLISH)
                properties.UserProperty = [("id", message.msg_id)]
            info = self.client.publish(message.topic, message.payload, qos=message.qos,
                                       retain=message.retain, properties=properties)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                break
            self.inflight[info.mid] = (message.rowid, message.msg_id)
            self.last_handed = message.rowid

    def _goodbye(self) -> None:
        if self.connected.is_set():
            offline = dict(self.latest_status or {}, state="offline", device=self.device_id)
            info = self.client.publish(f"{self.base}/status", json.dumps(offline).encode(), qos=1, retain=True)
            deadline = time.monotonic() + 2
            while not info.is_published() and time.monotonic() < deadline:
                self.client.loop(timeout=0.05)
            self.client.disconnect()
            self.client.loop(timeout=0.1)

    # -- the Sink interface ----------------------------------------------------------------
    def publish(self, result: FrameResult) -> None:
        payload = json.dumps(result.to_json(self.device_id)).encode()
        self.outbox.put(f"{self.base}/result", payload, "result", result.id)
        for name in self.layer_policy.layers_for(result):
            self.outbox.put(f"{self.base}/layers/{name}", layer_png(name, result.values[name]), "layer",
                            f"{result.id}:{name}")

    def status(self, status: dict) -> None:
        status = dict(status, outbox=self.outbox.stats(), mqtt={"connected": self.connected.is_set(),
                                                              "broker": f"{self.settings.host}:{self.settings.port}",
                                                              "acknowledged": self.acked})
        self.latest_status = status
        self.status_dirty = True

    def drain(self, timeout: float) -> bool:
        """Waits until every stored message is acknowledged (or `timeout`); True if empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.count == 0 and not self.inflight:
                return True
            if not self.connected.is_set() and self.fatal:
                return False
            time.sleep(0.02)
        return self.outbox.count == 0

    def close(self) -> None:
        if self.thread.is_alive() and self.connected.is_set():
            self.drain(self.settings.drain_seconds)
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        self.outbox.close()
