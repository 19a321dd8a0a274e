"""MQTT around the service: the outbox, watch, a local broker."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from unseen.commands.service import _load_config, config_options


@click.group()
def outbox() -> None:
    """Inspect, send or empty the durable MQTT outbox."""


def _open_outbox(config_path, options):
    from edge_service.service import open_outbox
    config = _load_config(config_path, options)
    return config, open_outbox(config)


@outbox.command("status")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="device TOML file")
@config_options
def outbox_status(config_path, **options) -> None:
    """How many messages wait, how big, how old, and what was dropped."""
    _, box = _open_outbox(config_path, options)
    stats = box.stats()
    box.close()
    click.echo(f"{stats['messages']} messages waiting ({stats['bytes']} bytes of {stats['max_bytes']}); "
               f"by kind {stats['by_kind']}; oldest {stats['oldest_age_s']} s; dropped when full: "
               f"{stats['dropped_layers']} layer images, {stats['dropped_results']} results")


@outbox.command("flush")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="device TOML file")
@click.option("--timeout", type=click.FloatRange(0.1), default=60.0, show_default=True)
@config_options
def outbox_flush(config_path, timeout, **options) -> None:
    """Send every waiting message to the configured broker now."""
    from edge_service.mqtt.publisher import MqttSink
    from edge_service.service import mqtt_settings
    config, box = _open_outbox(config_path, options)
    if not config["mqtt.host"]:
        box.close()
        raise click.UsageError("no broker configured (mqtt.host / --mqtt-host)")
    waiting = box.count
    sink = MqttSink(mqtt_settings(config), box, config["device_id"])
    sink.start(wait=True)
    emptied = sink.drain(timeout)
    left = box.count
    sink.close()
    click.echo(f"sent {waiting - left} of {waiting} messages" + ("" if emptied else f"; {left} still waiting"))
    if not emptied:
        sys.exit(1)


@outbox.command("purge")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="device TOML file")
@click.option("--yes", is_flag=True, help="do not ask")
@config_options
def outbox_purge(config_path, yes, **options) -> None:
    """Delete every waiting message (they will never be sent)."""
    _, box = _open_outbox(config_path, options)
    if not yes and not click.confirm(f"delete {box.count} waiting messages?"):
        box.close()
        return
    click.echo(f"deleted {box.purge()} messages")
    box.close()


@click.command()
@click.option("--mqtt-host", default="127.0.0.1", show_default=True)
@click.option("--mqtt-port", type=int, default=1883, show_default=True)
@click.option("--mqtt-username", default="")
@click.option("--mqtt-password", default="")
@click.option("--prefix", default="unseen", show_default=True)
@click.option("--device", default="+", show_default=True, help="a device id, or + for all")
@click.option("--save", type=click.Path(path_type=Path), help="keep layer PNGs and a gallery here")
@click.option("--count", type=click.IntRange(0), default=0, help="stop after this many results")
@click.option("--timeout", type=click.FloatRange(0), default=0, help="stop after this many seconds")
@click.option("--http", "http", metavar="[HOST:]PORT", help="serve the live fleet page here instead (loopback by default)")
@click.option("--http-token", default="", help="token the fleet page needs; required beyond loopback")
@click.option("--http-token-file", default="", help="read the fleet page's token from this file")
@click.option("--http-cert", default="", help="TLS certificate (PEM) for the fleet page")
@click.option("--http-key", default="", help="TLS private key (PEM) for the fleet page")
def watch(mqtt_host, mqtt_port, mqtt_username, mqtt_password, prefix, device, save, count, timeout,
          http, http_token, http_token_file, http_cert, http_key) -> None:
    """Follow results live (duplicates dropped); save layer PNGs and a gallery, or serve a live page."""
    if http is not None:
        if save or count or device != "+":
            raise click.UsageError("--http shows every device live; it does not take --save, --count or --device")
        from fleet.serve import serve_fleet
        serve_fleet(mqtt_host, mqtt_port, prefix, mqtt_username, mqtt_password, http, http_token,
                    http_token_file, http_cert, http_key, timeout, click.echo)
        return
    from edge_service.mqtt.watch import Watcher
    watcher = Watcher(mqtt_host, mqtt_port, prefix, device, save, click.echo, mqtt_username, mqtt_password)
    seen = watcher.run(count, timeout)
    click.echo(f"{seen} results, {watcher.duplicates} duplicates dropped"
               + (f"; gallery {save / 'index.html'}" if save else ""))


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="0: a free port")
@click.option("--port-file", type=click.Path(path_type=Path), help="write the port here once listening")
def broker(port, port_file) -> None:
    """Run a local MQTT broker on loopback (mosquitto when installed, else amqtt) until Ctrl-C."""
    import signal
    import threading
    from edge_service.mqtt.embedded_broker import EmbeddedBroker
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedBroker(port) as running:
        click.echo(f"{running.kind} listening on 127.0.0.1:{running.port}", err=True)
        if port_file:
            port_file.write_text(str(running.port))
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
