"""MQTT around the service: the outbox, watch, a local broker."""

from __future__ import annotations

import dataclasses
import sys

import click

from unseen.commands.service import config_options, load_config, setup_logging
from unseen.params import FiniteFloat, OutputDir, OutputFile

# What a client of the broker needs, shared by serve, watch and the outbox commands.
HTTP_KEYS = tuple(f"http.{k}" for k in ("listen", "token", "token_file", "cert", "key"))
LINK_KEYS = tuple(f"mqtt.{k}" for k in ("host", "port", "protocol", "client_id", "keepalive", "username",
                                         "password", "tls", "ca_file", "cert_file", "key_file", "prefix",
                                         "connect_timeout"))


@click.group()
def outbox() -> None:
    """Inspect, send or empty the durable MQTT outbox."""


def _existing_outbox(config_path, options):
    from edge_service.service import open_outbox
    config = load_config(config_path, options)
    return config, open_outbox(config, existing=True)


@outbox.command("status")
@config_options("outbox")
def outbox_status(config_path, **options) -> None:
    """How many messages wait, how big, how old, and what was dropped."""
    _, box = _existing_outbox(config_path, options)
    stats = box.stats()
    box.close()
    click.echo(f"{stats['messages']} messages waiting ({stats['bytes']} bytes of {stats['max_bytes']}); "
               f"by kind {stats['by_kind']}; oldest {stats['oldest_age_s']} s; dropped when full: "
               f"{stats['dropped_layers']} layer images, {stats['dropped_results']} results")


@outbox.command("flush")
@click.option("--timeout", type=FiniteFloat(0.1, 3600), default=60.0, show_default=True)
@config_options("outbox", keys=LINK_KEYS + ("device_id",))
def outbox_flush(config_path, timeout, **options) -> None:
    """Send every waiting message to the configured broker now (beside a running service, with a
    client id of its own; the service's retained status is left alone)."""
    from edge_service.mqtt.sink import flush_outbox
    from edge_service.service import mqtt_settings
    config, box = _existing_outbox(config_path, options)
    try:
        if not config.mqtt.host:
            raise click.UsageError("no broker configured (mqtt.host / --mqtt-host)")
        waiting = box.count
        # The whole flush has `timeout`: reaching the brokers (each in turn) may not take longer.
        settings = mqtt_settings(config)
        each = min(config.mqtt.connect_timeout, timeout / len(settings.brokers))
        left, dropped = flush_outbox(dataclasses.replace(settings, connect_timeout=each), box, config.device_id,
                                     timeout)
    finally:
        box.close()
    click.echo(f"sent {waiting - left - dropped} of {waiting} messages" + (f"; {left} still waiting" if left else "")
               + (f"; {dropped} dropped: topics no broker takes (see the log)" if dropped else ""))
    if left:
        sys.exit(1)


@outbox.command("purge")
@click.option("--yes", is_flag=True, help="do not ask")
@config_options("outbox")
def outbox_purge(config_path, yes, **options) -> None:
    """Delete every waiting message (they will never be sent)."""
    if not yes and not sys.stdin.isatty():
        raise click.UsageError("no terminal to ask on: add --yes to delete the waiting messages")
    _, box = _existing_outbox(config_path, options)
    try:
        if not yes and not click.confirm(f"delete {box.count} waiting messages?"):
            return
        click.echo(f"deleted {box.purge()} messages")
    finally:
        box.close()


def _device_filter(ctx, param, value: str) -> str:
    from edge_service.config.options import topic_level
    complaint = topic_level(value) if value != "+" else ""
    if complaint:
        raise click.BadParameter(f"{value!r} {complaint} (a device id, or + for all)")
    return value


@click.command()
@click.option("--device-id", "device", default="+", show_default=True, callback=_device_filter,
              help="a device id, or + for all")
@click.option("--save", type=OutputDir(), help="keep layer PNGs and a gallery in this folder")
@click.option("--count", type=click.IntRange(0), default=0, help="stop after this many results")
@click.option("--timeout", type=FiniteFloat(0), default=0, help="stop after this many seconds")
@config_options(keys=LINK_KEYS + HTTP_KEYS + ("log.level",))
def watch(config_path, device, save, count, timeout, **options) -> None:
    """Follow results live (duplicates and malformed messages dropped); save layer PNGs and a gallery,
    or, with --http, serve the live fleet page of every device."""
    from edge_service.service import mqtt_settings
    config = load_config(config_path, options)
    setup_logging(config.log.level)
    config.mqtt.host = config.mqtt.host or "127.0.0.1"
    m, h = config.mqtt, config.http
    if h.listen:
        if save or count or device != "+":
            raise click.UsageError("--http shows every device live; it does not take --save, --count or --device-id")
        if m.tls:
            raise click.UsageError("watch --http does not follow a TLS broker yet; use watch without --http")
        from fleet.serve import serve_fleet
        serve_fleet(m.host, m.port, m.prefix, m.username, m.password, h.listen, h.token, h.token_file, h.cert,
                    h.key, timeout, click.echo)
        return
    from fleet.watch import Watcher
    watcher = Watcher(mqtt_settings(config), device, save, click.echo, config.mqtt.client_id)
    seen = watcher.run(count, timeout)
    click.echo(f"{seen} results, {watcher.duplicates} duplicates dropped, {watcher.malformed} malformed skipped"
               + (f"; gallery {save / 'index.html'}" if save else ""))


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="0: a free port")
@click.option("--port-file", type=OutputFile("port file"), help="write the port here once listening")
def broker(port, port_file) -> None:
    """Run a local MQTT broker on loopback (mosquitto when installed, else amqtt) until Ctrl-C."""
    import signal
    import threading
    from fleet.broker import EmbeddedBroker
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedBroker(port) as running:
        click.echo(f"{running.kind} listening on 127.0.0.1:{running.port}", err=True)
        if port_file:
            port_file.parent.mkdir(parents=True, exist_ok=True)
            port_file.write_text(str(running.port))
        try:
            while running.alive() and not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        if not running.alive():
            raise click.ClickException(f"the {running.kind} broker on port {running.port} stopped")
