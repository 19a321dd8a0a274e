"""`unseen collect`: store every device's results in SQLite or PostgreSQL; `collect report`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from fleet.errors import FleetError
from unseen.params import FiniteFloat


NATS_SERVER = re.compile(r"(nats|tls|ws|wss)://([^@\s/]+@)?[\w.\-\[\]:]+|[\w.\-\[\]]+:\d{1,5}")


def _nats_servers(ctx, param, value: str) -> str:
    """nats://host:port[,...] (or host:port): refused now, not after the connection's deadline."""
    bad = [server for server in value.split(",") if not NATS_SERVER.fullmatch(server.strip())] if value else []
    if bad:
        raise click.BadParameter(f"{', '.join(map(repr, bad))}: write nats://host:port (or tls://host:port)")
    return value


def _one_broker(ctx, param, value: str) -> str:
    """A host, or host:port (which sets --mqtt-port too): a collector reads from one broker."""
    from edge_service.mqtt.brokers import parse_brokers
    try:
        brokers = parse_brokers(value, 0)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if len(brokers) != 1:
        raise click.BadParameter("a collector reads from one broker (a list is for devices; with NATS, --nats)")
    host, port = brokers[0]
    if port:
        ctx.meta["mqtt_port_from_host"] = port
    return host


def _topic_prefix(ctx, param, value: str) -> str:
    from edge_service.config.options import no_topic_wildcards
    complaint = no_topic_wildcards(value)
    if complaint:
        raise click.BadParameter(f"{value!r} {complaint}")
    return value


def _images_dir(db: str, images: Path | None, layers: bool) -> Path | None:
    if not layers:
        return None
    if images is not None:
        return images
    if db.startswith(("postgresql://", "postgres://")):
        raise FleetError("--layers with PostgreSQL needs --images-dir (where the PNG files go)")
    return Path(db).with_name(Path(db).stem + "-images")


@click.group(invoke_without_command=True)
@click.option("--db", default="results.sqlite", show_default=True,
              help="a SQLite file, or postgresql://user@host/db")
@click.option("--db-max-mb", type=FiniteFloat(0), default=0, help="SQLite: bound the file (0: no bound)")
@click.option("--mqtt-host", default="127.0.0.1", show_default=True, callback=_one_broker,
              help="the broker, as host or host:port")
@click.option("--mqtt-port", type=click.IntRange(1, 65535), default=1883, show_default=True)
@click.option("--mqtt-username", default="")
@click.option("--mqtt-password", default="")
@click.option("--mqtt-tls", is_flag=True, help="connect with TLS")
@click.option("--mqtt-ca-file", default="", help="CA certificate for TLS")
@click.option("--mqtt-protocol", type=click.Choice(["5", "3.1.1"]), default="5", show_default=True,
              help="5 falls back to 3.1.1 when the broker has only that")
@click.option("--prefix", default="unseen", show_default=True, callback=_topic_prefix,
              help="topic prefix of the devices")
@click.option("--client-id", default="", help="a persistent session: what arrives while down is kept for it")
@click.option("--session-expiry", type=click.IntRange(0), default=7 * 86400, show_default=True,
              help="seconds the broker keeps the session of --client-id")
@click.option("--share", default="", help="MQTT 5 shared subscription group: N collectors split the stream")
@click.option("--nats", default="", callback=_nats_servers,
              help="nats://host:port[,nats://...]: share a JetStream consumer instead of MQTT")
@click.option("--durable", default="unseen-collect", show_default=True, help="JetStream consumer name (--nats)")
@click.option("--layers/--no-layers", default=False, help="store layer images (PNG files, path in the table)")
@click.option("--images-dir", type=click.Path(path_type=Path), help="where layer images go")
@click.option("--batch", type=click.IntRange(1, 10000), default=500, show_default=True, help="rows per transaction")
@click.option("--flush-ms", type=click.IntRange(1), default=200, show_default=True,
              help="longest wait to fill a batch")
@click.option("--offline-after", type=FiniteFloat(1), default=30.0, show_default=True,
              help="seconds without a status (or 3 of its intervals, if longer) before a device is offline")
@click.option("--count", type=click.IntRange(0), default=0, help="stop after storing this many new results")
@click.option("--timeout", type=FiniteFloat(0), default=0, help="stop after this many seconds")
@click.option("--stats-every", type=FiniteFloat(0), default=0, help="print progress every N seconds")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.pass_context
def collect(ctx, db, db_max_mb, mqtt_host, mqtt_port, mqtt_username, mqtt_password, mqtt_tls, mqtt_ca_file,
            mqtt_protocol, prefix, client_id, session_expiry, share, nats, durable, layers, images_dir, batch,
            flush_ms, offline_after, count, timeout, stats_every, log_level) -> None:
    """Store every device's results, statuses and (--layers) layer images; acknowledge after commit."""
    ctx.obj = {"db": db}
    if ctx.invoked_subcommand is not None:
        return
    mqtt_port = ctx.meta.get("mqtt_port_from_host", mqtt_port)
    import logging
    import signal

    from fleet.collector import Collector
    from fleet.store import open_store

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    images = _images_dir(db, images_dir, layers)
    if nats:
        if share:
            raise FleetError("--share is for MQTT 5; with --nats, collectors share the --durable consumer")
        from fleet.nats_source import FIRST_CONNECT_SECONDS, NatsSource
        source = NatsSource(nats.split(","), prefix, durable, layers, batch,
                            bootstrap=(mqtt_host, mqtt_port) if ctx.get_parameter_source("mqtt_port").name
                            != "DEFAULT" or "mqtt_port_from_host" in ctx.meta else None,
                            connect_seconds=min(FIRST_CONNECT_SECONDS, timeout) if timeout else FIRST_CONNECT_SECONDS)
    else:
        from fleet.mqtt_source import MqttOptions, MqttSource
        source = MqttSource(MqttOptions(mqtt_host, mqtt_port, prefix, client_id, share, layers, mqtt_protocol,
                                        session_expiry, max(1000, 2 * batch), username=mqtt_username,
                                        password=mqtt_password, tls=mqtt_tls, ca_file=mqtt_ca_file))
    collector = Collector(lambda: open_store(db, images, db_max_mb), source, prefix, batch, flush_ms / 1000,
                          offline_after, echo=lambda line: click.echo(line, err=True))
    signal.signal(signal.SIGTERM, lambda *_: collector.stop.set())
    try:
        collector.run(count, timeout, stats_every)
    except KeyboardInterrupt:
        collector.stop.set()
    click.echo(collector.summary())


@collect.command("report")
@click.option("--json", "as_json", is_flag=True, help="machine-readable")
@click.pass_context
def report(ctx, as_json) -> None:
    """Per device: results stored, gaps in seq, duplicates dropped, last seen, online or not."""
    from fleet import report as reporting
    from fleet.store import open_store
    db = ctx.obj["db"]
    if not db.startswith(("postgresql://", "postgres://")) and not Path(db).exists():
        raise FleetError(f"no database at {db} (--db)")
    store = open_store(db, create=False)
    try:
        reports = reporting.build(store)
    finally:
        store.close()
    click.echo(json.dumps(reporting.as_json(reports), indent=1) if as_json else reporting.as_text(reports))
