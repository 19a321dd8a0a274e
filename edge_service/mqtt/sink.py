"""The MQTT sink: results and layer images through the outbox, the retained status, the will,
Home Assistant discovery, and commands answered through the control surface.

The loop's thread only writes to the outbox, so a slow or absent broker never stalls it; the
link's network thread does everything that talks to paho.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import paho.mqtt.client as paho

from edge_service.layer_policy import LayerImagePolicy
from edge_service.mqtt.discovery import discovery_messages
from edge_service.mqtt.layer_images import LayerEncoder
from edge_service.mqtt.link import LinkHandlers, MqttLink, MqttSettings
from edge_service.mqtt.outbox import Outbox
from edge_service.mqtt.pump import OutboxPump
from edge_service.mqtt.writer import OutboxWriter
from edge_service.results import FrameResult
from edge_service.sinks import Sink

log = logging.getLogger("unseen.mqtt")
CommandCallback = Callable[[str, bytes], dict]
# A result is a tree the analyzer built fresh (no cycles to look for) and its encoding runs on the
# loop's thread for every frame: one encoder made once, without the circularity check, is 40% faster.
RESULT_JSON = json.JSONEncoder(check_circular=False, separators=(",", ":"))


def no_commands(verb: str, payload: bytes) -> dict:
    return {"ok": False, "verb": verb, "reason": "commands are not enabled"}


class MqttSink(Sink):
    def __init__(self, settings: MqttSettings, outbox: Outbox, device_id: str,
                 layer_policy: LayerImagePolicy | None = None, on_command: CommandCallback = no_commands) -> None:
        self.settings, self.outbox, self.device_id = settings, outbox, device_id
        self.base = f"{settings.prefix.rstrip('/')}/{device_id}"
        self.layer_policy = layer_policy or LayerImagePolicy()
        self.on_command = on_command
        self.pump = OutboxPump(outbox, settings.inflight, settings.v5)
        self.writer = OutboxWriter(outbox, self.pump.committed)
        self.pump.forget = self.writer.ack
        self.images = LayerEncoder(lambda name, png, msg_id: self.writer.submit(
            f"{self.base}/layers/{name}", png, "layer", msg_id))
        self.latest_status: dict | None = None
        self.status_dirty = False
        offline = json.dumps({"state": "offline", "device": device_id}).encode()
        handlers = LinkHandlers(connected=self._connected, tick=self._tick, puback=self.pump.puback,
                                message=self._command, goodbye=self._goodbye)
        self.link = MqttLink(settings, settings.client_id or device_id, handlers, will=(f"{self.base}/status", offline))
        self.pump.wake = self.link.wake

    # -- on the network thread -------------------------------------------------------------
    def _connected(self, client: paho.Client) -> None:
        self.pump.restart(client)
        client.subscribe(f"{self.base}/cmd/+", qos=1)
        self.status_dirty = self.latest_status is not None  # retained state: publish it again
        if self.settings.discovery:
            for topic, payload in discovery_messages(self.settings.discovery_prefix, self.base, self.device_id):
                client.publish(topic, payload, qos=1, retain=True)

    def _tick(self, client: paho.Client) -> None:
        if self.status_dirty and self.latest_status is not None:
            # The link part as it is now: a status made offline or on another broker is sent from this one.
            status = dict(self.latest_status, mqtt=self._link_state())
            client.publish(f"{self.base}/status", json.dumps(status).encode(), qos=1, retain=True)
            self.status_dirty = False
        self.pump.pump(client)

    def _command(self, client: paho.Client, topic: str, payload: bytes) -> None:
        verb = topic.rsplit("/", 1)[-1]
        reply = self.on_command(verb, payload)
        client.publish(f"{self.base}/cmd/{verb}/reply", json.dumps(reply).encode(), qos=1)

    def _goodbye(self, client: paho.Client) -> None:
        # The outbox and the link as they are now, after the drain: the last status sent may be older.
        offline = dict(self.latest_status or {}, **self.describe(), state="offline", device=self.device_id,
                       time=time.time())
        info = client.publish(f"{self.base}/status", json.dumps(offline).encode(), qos=1, retain=True)
        self.link.wait_published(info, 2.0)

    # -- the Sink interface ----------------------------------------------------------------
    def start(self, wait: bool = True) -> None:
        self.link.start(wait)

    def publish(self, result: FrameResult) -> None:
        """Queues the result for the next group commit; its layer images follow from the encoder."""
        payload = RESULT_JSON.encode(result.to_json(self.device_id)).encode()
        self.writer.submit(f"{self.base}/result", payload, "result", result.id)
        self.images.submit(result, self.layer_policy.layers_for(result))

    def flush(self) -> None:
        self.images.jobs.join()
        self.writer.flush()

    def describe(self) -> dict:
        return {"outbox": dict(self.outbox.stats(), not_stored=self.writer.not_stored), "mqtt": self._link_state()}

    def _link_state(self) -> dict:
        return {"connected": self.link.connected.is_set(), "broker": self.link.address,
                "acknowledged": self.pump.acked}

    def status(self, status: dict) -> None:
        self.latest_status = dict(status, **self.describe())
        self.status_dirty = True
        self.link.wake()

    def drain(self, timeout: float) -> bool:
        """Waits until every queued message is stored and acknowledged (or `timeout`); True if empty."""
        self.flush()
        return drain(self.pump, self.link, timeout) and self.writer.flush(timeout)

    def close(self) -> None:
        self.images.close()
        self.writer.flush()
        # A link that had a session drains even if it is between sessions right now (a broker
        # restarting, a cluster node failing over), retrying every half second meanwhile.
        # One that never connected stops at once: the broker is not there.
        if self.link.thread.is_alive() and self.link.ever_connected and not self.link.fatal:
            self.drain(self.settings.drain_seconds)
        self.link.stop()
        self.writer.close()
        if self.outbox.count:  # kept, not lost: say where they are
            log.warning("%d messages wait in the outbox %s: they go at the next start, or with "
                        "`unseen outbox flush`", self.outbox.count, self.outbox.folder)
        self.outbox.close()


def drain(pump: OutboxPump, link: MqttLink, timeout: float) -> bool:
    """Until the outbox is empty and acknowledged (True), or `timeout`; a link between sessions
    retries at once rather than at its backoff's pace."""
    deadline = time.monotonic() + timeout
    link.retry_soon()
    while time.monotonic() < deadline:
        if pump.idle:
            return True
        if not link.connected.is_set() and link.fatal:
            return False
        time.sleep(0.02)
    return pump.outbox.count == 0


def flush_outbox(settings: MqttSettings, outbox: Outbox, device_id: str, timeout: float) -> tuple[int, int]:
    """Sends what waits in `outbox` with a client id of its own and no will or status, so a running
    service keeps its session and its retained status; returns how many messages are left, and how
    many were dropped as unsendable.
    `timeout` is for the whole flush, reaching the broker included."""
    deadline = time.monotonic() + timeout
    pump = OutboxPump(outbox, settings.inflight, settings.v5)
    link = MqttLink(settings, f"{settings.client_id or device_id}-flush",
                    LinkHandlers(connected=pump.restart, tick=pump.pump, puback=pump.puback))
    link.start(wait=True)
    try:
        drain(pump, link, max(0.0, deadline - time.monotonic()))
    finally:
        link.stop()
    return outbox.count, pump.dropped
