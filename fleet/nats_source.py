"""Collecting from a NATS cluster: a durable JetStream pull consumer on the MQTT message stream.

nats-server keeps every QoS 1 message its MQTT listener acknowledges (PUBACK) in the stream
`$MQTT_msgs`, subject `$MQTT.msgs.<topic with / as .>`. A durable pull consumer on it,
filtered to `<prefix>.*.result`, is shared by every collector that binds to it: each message
goes to one of them, and comes back (to any) until it is acknowledged. A user stream on the
plain subject is NOT covered by the PUBACK and loses messages in a failover, so we read the
server's own stream, whose name is internal: `fleet.nats_cluster.TESTED` lists the versions
that this was tested on.

`$MQTT_msgs` keeps a message only while some consumer wants it (interest retention), and
the server creates it when the first MQTT client connects: the collector must have created
its consumer before the devices publish. `bootstrap` (an MQTT host and port) makes the
server create its streams when they are missing. Statuses come by a plain subscription on
every collector (they are periodic; a lost one only delays the state).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from fleet.collector import Delivery
from fleet.errors import SourceError
from fleet.nats_cluster import TESTED

log = logging.getLogger("unseen.collect.nats")
STREAM, PREFIX = "$MQTT_msgs", "$MQTT.msgs."
FIRST_CONNECT_SECONDS = 15


def subject_to_topic(subject: str) -> str:
    """`unseen.cam//1.result` -> `unseen/cam.1/result` (NATS writes an MQTT '.' as '//')."""
    if subject.startswith(PREFIX):
        subject = subject[len(PREFIX):]
    return "/".join(token.replace("//", ".") for token in subject.split("."))


class NatsSource:
    def __init__(self, servers: list[str], prefix: str = "unseen", durable: str = "unseen-collect",
                 layers: bool = False, batch: int = 500, ack_wait: float = 30.0,
                 bootstrap: tuple[str, int] | None = None, connect_seconds: float = FIRST_CONNECT_SECONDS) -> None:
        self.servers, self.prefix, self.durable = servers, prefix.strip("/").replace("/", "."), durable
        self.connect_seconds = connect_seconds
        self.layers, self.batch, self.ack_wait, self.bootstrap = layers, batch, ack_wait, bootstrap
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._thread, name="nats", daemon=True)
        self.ready = threading.Event()
        self.paused = threading.Event()
        self.stopping = False
        self.failure = ""
        self.collector = None
        self.nc = None

    def consumers(self) -> dict[str, str]:
        """durable name -> filter subject."""
        wanted = {self.durable: f"{PREFIX}{self.prefix}.*.result"}
        if self.layers:
            wanted[f"{self.durable}-layers"] = f"{PREFIX}{self.prefix}.*.layers.*"
        return wanted

    # -- the collector's side --------------------------------------------------------------------
    def start(self, collector) -> None:
        self.collector = collector
        self.thread.start()
        if not self.ready.wait(60):
            self.stop()
            raise SourceError(self.failure or f"JetStream on {', '.join(self.servers)} not ready in 60 s")
        self.raise_if_failed()

    def raise_if_failed(self) -> None:
        if self.failure:
            raise SourceError(self.failure)

    def unreached(self) -> str:
        return ""  # start() fails unless connected

    def pause(self) -> None:
        self.paused.set()

    def resume(self) -> None:
        self.paused.clear()

    def ack(self, tokens: list) -> None:
        messages = [t for t in tokens if t is not None]
        if messages:
            asyncio.run_coroutine_threadsafe(self._ack(messages), self.loop)

    def release(self, tokens: list) -> None:
        """NAKs what this collector held, so JetStream redelivers it at once (to it or another)."""
        messages = [t for t in tokens if t is not None]
        if messages and self.thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._nak(messages), self.loop)
            try:
                future.result(timeout=10)
            except Exception as exc:  # they come back after ack_wait anyway
                log.debug("nak failed: %s", exc)

    def stop(self) -> None:
        self.stopping = True
        if self.thread.is_alive():
            self.thread.join(timeout=15)

    # -- the asyncio side --------------------------------------------------------------------------
    def _thread(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except SourceError as exc:
            self.failure = str(exc)
        except Exception as exc:  # nats-py raises many kinds; the collector reports one line
            self.failure = f"NATS: {type(exc).__name__}: {exc}"
        finally:
            self.ready.set()

    async def _ack(self, messages) -> None:
        for message in messages:
            try:
                await message.ack()
            except Exception as exc:  # a lost ack means a redelivery, dropped by id: never a loss
                log.debug("ack failed: %s", exc)

    async def _nak(self, messages) -> None:
        for message in messages:
            try:
                await message.nak()
            except Exception as exc:
                log.debug("nak failed: %s", exc)

    async def _main(self) -> None:
        import nats
        from nats.errors import NoServersError
        where = ", ".join(self.servers)
        try:
            # Reconnecting forever is right once connected; the first connection gets a deadline,
            # or an unreachable server would hold the command with no word.
            self.nc = await asyncio.wait_for(nats.connect(
                self.servers, max_reconnect_attempts=-1, reconnect_time_wait=0.5, ping_interval=5,
                max_outstanding_pings=2, connect_timeout=3, name="unseen-collect", error_cb=self._on_error,
                disconnected_cb=self._on_disconnected, reconnected_cb=self._on_reconnected), self.connect_seconds)
        except asyncio.TimeoutError:
            raise SourceError(f"cannot reach NATS at {where} within {self.connect_seconds:g} s") from None
        except (NoServersError, OSError) as exc:
            raise SourceError(f"cannot reach NATS at {where} ({exc})") from None
        v = self.nc.connected_server_version
        version = f"{v.major}.{v.minor}.{v.patch}"
        if version not in TESTED:
            log.warning("nats-server %s: collecting from %s was tested on %s only", version, STREAM,
                        ", ".join(TESTED))
        js = self.nc.jetstream(timeout=10)
        await self._stream(js)
        subscriptions = [await self._bind(js, durable, subject) for durable, subject in self.consumers().items()]
        await self.nc.subscribe(f"{self.prefix}.*.status", cb=self._on_status)
        log.info("collecting from %s via %s", STREAM, ", ".join(self.consumers()))
        self.ready.set()
        await asyncio.gather(*(self._pump(s) for s in subscriptions))
        await self.nc.drain()

    async def _pump(self, subscription) -> None:
        while not self.stopping:
            if self.paused.is_set() or self.collector.backlog() >= 2 * self.batch:
                await asyncio.sleep(0.05)  # holding: let JetStream keep the messages
                continue
            await self._fetch(subscription)

    async def _stream(self, js) -> None:
        from nats.js.errors import NotFoundError
        deadline = time.monotonic() + 60
        asked = False
        while True:
            try:
                info = await js.stream_info(STREAM)
                break
            except NotFoundError:
                if self.bootstrap and not asked:
                    asked = True
                    await asyncio.get_running_loop().run_in_executor(None, _touch_mqtt, *self.bootstrap)
                elif time.monotonic() > deadline:
                    raise SourceError(f"no stream {STREAM}: the server creates it when an MQTT client first "
                                      f"connects (give --mqtt-host/--mqtt-port of a node's MQTT listener)")
                await asyncio.sleep(0.5)
        if f"{PREFIX}>" not in (info.config.subjects or []):
            raise SourceError(f"{STREAM} holds {info.config.subjects}, not {PREFIX}>: this nats-server keeps MQTT "
                              f"messages differently (tested: {', '.join(TESTED)})")

    async def _bind(self, js, durable: str, subject: str):
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        config = ConsumerConfig(durable_name=durable, filter_subject=subject, ack_policy=AckPolicy.EXPLICIT,
                                deliver_policy=DeliverPolicy.ALL, ack_wait=self.ack_wait, max_ack_pending=20000)
        try:
            await js.add_consumer(STREAM, config)
        except Exception as exc:  # it exists with other settings: use it if it reads the same subject
            info = await js.consumer_info(STREAM, durable)
            if info.config.filter_subject != subject:
                raise SourceError(f"consumer {durable} on {STREAM} reads {info.config.filter_subject}, "
                                  f"not {subject} ({exc})") from None
        return await js.pull_subscribe_bind(durable=durable, stream=STREAM)

    async def _fetch(self, subscription) -> None:
        import nats.errors
        try:
            messages = await subscription.fetch(self.batch, timeout=1)
        except nats.errors.TimeoutError:
            return
        except Exception as exc:  # a node going away: no leader, no responders, a closed connection
            log.info("fetch failed (%s: %s); retrying", type(exc).__name__, exc)
            await asyncio.sleep(0.5)
            return
        for message in messages:
            self.collector.deliver(Delivery(subject_to_topic(message.subject), message.data, message))

    async def _on_status(self, message) -> None:
        self.collector.deliver(Delivery(subject_to_topic(message.subject), message.data, None))

    async def _on_error(self, exc) -> None:
        log.debug("NATS: %s", exc)

    async def _on_disconnected(self) -> None:
        if not self.stopping:
            log.warning("disconnected from NATS; reconnecting")

    async def _on_reconnected(self) -> None:
        log.warning("reconnected to NATS at %s", self.nc.connected_url.netloc if self.nc else "?")


def _touch_mqtt(host: str, port: int) -> None:
    """One MQTT connection, so that the server creates its MQTT streams."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    try:
        client.connect(host, port, 10)
        client.loop_start()
        time.sleep(1.0)
        client.disconnect()
        client.loop_stop()
    except OSError as exc:
        log.warning("cannot reach the MQTT listener %s:%s (%s)", host, port, exc)
