"""The MQTT link: one paho client (paho-mqtt 2, VERSION2 callbacks) and the network thread that owns it.

The thread connects (to the next broker of the list after a failure, with capped exponential
backoff and jitter after a whole round), tells its owner when a session starts, calls the owner's
`tick` between network rounds, and passes PUBACKs and inbound messages on. When every broker
refuses the credentials, the client id or the TLS session, the link is `fatal`: retrying will not
cure it, so `start(wait=True)` raises it as one clear error.
"""

from __future__ import annotations

import logging
import os
import random
import select
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as paho

from edge_service.mqtt.brokers import BrokerRotation
from edge_service.mqtt.client import REFUSALS, MqttRefused, make_client
from edge_service.mqtt.settings import MqttSettings

__all__ = ["LinkHandlers", "MqttLink", "MqttRefused", "MqttSettings", "make_client"]

log = logging.getLogger("unseen.mqtt")

@dataclass
class LinkHandlers:
    """What the link's owner does on each event; every one runs on the network thread."""

    connected: Callable[[paho.Client], None] = lambda client: None
    tick: Callable[[paho.Client], None] = lambda client: None
    puback: Callable[[int], None] = lambda mid: None
    message: Callable[[paho.Client, str, bytes], None] = lambda client, topic, payload: None
    goodbye: Callable[[paho.Client], None] = lambda client: None


class MqttLink:
    def __init__(self, settings: MqttSettings, client_id: str, handlers: LinkHandlers,
                 will: tuple[str, bytes] | None = None) -> None:
        self.settings, self.handlers = settings, handlers
        self.client = make_client(settings, client_id, will)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = lambda client, userdata, mid, reason_code, properties: handlers.puback(mid)
        self.client.on_message = lambda client, userdata, message: handlers.message(client, message.topic,
                                                                                   message.payload)
        self.client.on_log = self._on_log
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.first_outcome = threading.Event()
        self.fatal = ""
        self.rotation = BrokerRotation(settings.brokers)
        self.attempt_over = False              # the broker tried now said no (a failed CONNACK, TLS)
        self.hurry = threading.Event()         # a drain waits: retry soon, not at the backoff's pace
        self.ever_connected = False
        self._wake_r, self._wake_w = os.pipe()
        self._wake_pending = False             # a byte is in the pipe, or about to be: no need for another
        self._closed = False                   # stop() has closed the pipe
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.thread = threading.Thread(target=self._network, name="mqtt", daemon=True)

    @property
    def address(self) -> str:
        """The broker connected to, or tried now."""
        return self.rotation.address

    def wake(self) -> None:
        """From any thread: the network thread runs a round (and its owner's tick) now, not at its timeout."""
        if self._wake_pending or self._closed:  # the network thread has not read the last one yet: its next
            return                                # tick comes anyway (or it has ended)
        self._wake_pending = True
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:  # a wake-up is already pending
            pass

    def _round(self, timeout: float) -> bool:
        """One network round on this thread only (paho is never entered from two threads at once):
        wait for the socket or a wake-up, then read, write and keep the session alive. False once
        there is no connection. paho's own loop() is never called: it would make paho write a byte
        to a socket pair of its own at every publish, for a select that is not the one we run."""
        sock = self.client.socket()
        if sock is None:  # paho has reported the loss already (on_disconnect)
            self.stopping.wait(timeout)
            return False
        pending = getattr(sock, "pending", lambda: 0)()  # TLS may hold decrypted bytes select cannot see
        try:
            readable, writable, _ = select.select([sock, self._wake_r], [sock] if self.client.want_write() else [],
                                                  [], 0 if pending else timeout)
        except (OSError, ValueError):  # the socket closed under us: paho's next read says how
            readable, writable = [sock], []
        if self._wake_r in readable:
            self._wake_pending = False  # before reading: a wake-up from now on writes again
            try:
                os.read(self._wake_r, 4096)
            except BlockingIOError:
                pass
        if pending or sock in readable:
            if self.client.loop_read() != paho.MQTT_ERR_SUCCESS:
                return False
        if sock in writable or self.client.want_write():
            self.client.loop_write()
        return self.client.loop_misc() == paho.MQTT_ERR_SUCCESS

    def _refuse(self, message: str) -> None:
        log.error(message)
        self.attempt_over = True
        if self.rotation.refused(message):  # every broker of the list: the configuration is wrong
            self.fatal = message
            self.first_outcome.set()

    def _on_log(self, client, userdata, level, message: str) -> None:
        # A broker that rejects the TLS session after the handshake (e.g. it requires a client
        # certificate) only shows up here, as a failed read before any CONNACK.
        s = self.settings
        if level == paho.MQTT_LOG_ERR and s.tls and not self.ever_connected and "ssl" in message.lower():
            hint = "" if s.cert_file else \
                " (does the broker require a client certificate? --mqtt-cert-file and --mqtt-key-file)"
            self._refuse(f"TLS with {self.address} failed: {message}{hint}")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            message = f"MQTT broker {self.address} refused the connection: {reason_code}"
            if str(reason_code) in REFUSALS:
                self._refuse(message)
            else:
                log.error(message)
                self.attempt_over = True
            return
        self.fatal = ""
        self.rotation.connected()
        self.connected.set()
        self.ever_connected = True
        # _on_log only matters before the first session; left set, paho would format a debug line
        # and call it for every packet it sends or receives.
        client.on_log = None
        self.first_outcome.set()
        log.info("connected to %s", self.address)
        self.handlers.connected(client)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected.is_set() and not self.stopping.is_set():
            log.warning("disconnected from %s (%s); results wait in the outbox", self.address, reason_code)
        self.connected.clear()

    def start(self, wait: bool = True) -> None:
        """Starts connecting; with `wait`, a refused connection raises MqttRefused here."""
        self.thread.start()
        if wait:  # a broker that takes the connection and never answers has connect_timeout
            self.first_outcome.wait(self.settings.connect_timeout * len(self.rotation.brokers))
            if self.fatal:
                self.stop()
                raise MqttRefused(self.fatal)
            if not self.connected.is_set():
                if len(self.rotation.brokers) == 1:
                    log.warning("MQTT broker %s not reachable yet; results are kept in the outbox", self.address)
                else:
                    log.warning("none of the MQTT brokers %s is reachable yet; results are kept in the outbox",
                                self.settings.address)

    def _connect_once(self) -> bool:
        s = self.settings
        host, port = self.rotation.broker
        self.attempt_over = False
        try:
            self.client.connect(host, port, s.keepalive)
            return True
        except (ConnectionResetError, ssl.SSLEOFError) as exc:
            hint = ""
            if s.tls and not self.ever_connected:
                # A plain MQTT listener takes the TLS hello for a malformed packet and hangs up.
                hint = f"; the TLS handshake was cut off: is port {port} a TLS listener?"
            log.warning("cannot reach MQTT broker %s (%s%s)", self.address, exc, hint)
        except ssl.SSLError as exc:
            self._refuse(f"TLS with {self.address} failed: {exc.reason or exc}")
        except (OSError, UnicodeError, paho.WebsocketConnectionError) as exc:  # UnicodeError: a bad name
            log.warning("cannot reach MQTT broker %s (%s)", self.address, exc)
        return False

    def _await_connack(self) -> None:
        timeout = self.settings.connect_timeout
        deadline = time.monotonic() + timeout
        while not (self.connected.is_set() or self.attempt_over or self.stopping.is_set()):
            if time.monotonic() >= deadline:
                log.warning("MQTT broker %s took the connection but did not answer in %g s", self.address, timeout)
                return
            if not self._round(0.05):
                return

    def _network(self) -> None:
        delay = self.settings.backoff_initial
        while not self.stopping.is_set():
            if not self.connected.is_set():
                if self._connect_once():
                    self._await_connack()
                if not self.connected.is_set():
                    if not self.rotation.failed():  # another broker of the list is still untried
                        continue
                    self.first_outcome.set()
                    if not self.rotation.round_refused:
                        self.fatal = ""
                    if self.fatal:  # credentials or TLS: say so at every attempt, slowly
                        delay = self.settings.backoff_max
                    self._back_off(min(delay, self.settings.backoff_max) * random.uniform(0.5, 1.0))
                    delay = min(delay * 2, self.settings.backoff_max)
                    continue
                delay = self.settings.backoff_initial
            self.handlers.tick(self.client)
            self._round(0.1)
        if self.connected.is_set():
            self.handlers.goodbye(self.client)
            self.client.disconnect()
            self._round(0.1)

    def _back_off(self, seconds: float) -> None:
        if self.hurry.is_set():
            self.stopping.wait(min(seconds, 0.5))
        else:
            self.hurry.wait(seconds)  # retry_soon() (or stop()) cuts it short

    def retry_soon(self) -> None:
        """From any thread: a drain is waiting, so reconnect attempts come every half second from now."""
        self.hurry.set()

    def wait_published(self, info: paho.MQTTMessageInfo, seconds: float) -> None:
        """On the network thread only: runs paho until `info` is acknowledged or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while not info.is_published() and time.monotonic() < deadline:
            if not self._round(0.05):
                return

    def stop(self) -> None:
        """Ends the network thread and closes the wake-up pipe; a second call does nothing (a closed
        descriptor's number may already belong to another file)."""
        if self._closed:
            return
        self.stopping.set()
        self.hurry.set()  # out of a backoff wait
        self._wake_pending = False  # this byte must go: the thread has to see `stopping` now
        self.wake()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        self._closed = True
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
