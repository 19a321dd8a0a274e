"""Builds the running service from a configuration and runs it until SIGINT / SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from edge_service.backends import select_backend
from edge_service.manifest import default_model_dir, load_artefact
from edge_service.pipeline import Counters, Pipeline, RunSettings
from edge_service.sinks import JsonLinesSink, Sink, StatusFileSink
from edge_service.sources import open_source

log = logging.getLogger("unseen.service")


def build_sinks(config: dict, artefact) -> list[Sink]:
    sinks: list[Sink] = []
    if config["output.jsonl"]:
        sinks.append(JsonLinesSink(Path(config["output.jsonl"]), config["device_id"]))
    if config["output.status_file"]:
        sinks.append(StatusFileSink(Path(config["output.status_file"])))
    if config["output.gallery"]:
        from edge_service.gallery import GallerySink
        sinks.append(GallerySink(Path(config["output.gallery"]), artefact.manifest.labels,
                                 config["output.gallery_every"], config["output.gallery_keep"],
                                 f"unseen: {config['device_id']}", artefact.manifest.map_names()))
    return sinks


def build_pipeline(config: dict, extra_sinks: list[Sink] | None = None) -> Pipeline:
    artefact = load_artefact(config["model.path"] or default_model_dir())
    backend, notes = select_backend(artefact, config["model.backend"], config["model.mode"],
                                    config["model.threads"] or None, config["model.max_failures"])
    for note in notes:
        log.info("backend %s", note)
    settings = RunSettings(max_fps=config["run.max_fps"], queue=config["run.queue"], frames=config["run.frames"],
                           top_k=config["run.top_k"], channel_stats=config["run.channel_stats"],
                           status_every=config["run.status_every"],
                           retry_max_seconds=config["source.retry_max_seconds"],
                           max_retries=config["source.max_retries"])
    source = open_source(config["source.uri"], config["source.loop"])
    sinks = build_sinks(config, artefact) + list(extra_sinks or [])
    return Pipeline(artefact, source, backend, sinks, settings, config["device_id"], notes)


def open_outbox(config: dict):
    from edge_service.mqtt.outbox import Outbox
    return Outbox(Path(config["outbox.dir"]), int(config["outbox.max_mb"] * (1 << 20)),
                  config["outbox.max_messages"])


def mqtt_settings(config: dict):
    from edge_service.mqtt.publisher import MqttSettings
    return MqttSettings(
        host=config["mqtt.host"], port=config["mqtt.port"], protocol=config["mqtt.protocol"],
        client_id=config["mqtt.client_id"], keepalive=config["mqtt.keepalive"], username=config["mqtt.username"],
        password=config["mqtt.password"], tls=config["mqtt.tls"], ca_file=config["mqtt.ca_file"],
        cert_file=config["mqtt.cert_file"], key_file=config["mqtt.key_file"], prefix=config["mqtt.prefix"],
        backoff_max=config["mqtt.backoff_max"], discovery=config["mqtt.discovery"],
        discovery_prefix=config["mqtt.discovery_prefix"])


def make_control(config: dict, pipeline: Pipeline, policy=None):
    """The command handler (pause, resume, set, snapshot, reload) that MQTT and the live page share."""
    from edge_service.mqtt.commands import CommandHandler
    from edge_service.mqtt.layer_images import LayerImagePolicy

    def reload_model(folder: Path) -> None:
        artefact = load_artefact(folder)
        backend, notes = select_backend(artefact, config["model.backend"], config["model.mode"],
                                        config["model.threads"] or None, config["model.max_failures"])
        pipeline.swap_model(artefact, backend, notes)
        log.info("reloaded model %s (%s)", artefact.manifest.name, artefact.manifest.model_sha256[:12])

    model_dir = Path(config["model.dir"]) if config["model.dir"] else None
    return CommandHandler(pipeline, policy or LayerImagePolicy(), model_dir, reload_model)


def attach_mqtt(config: dict, pipeline: Pipeline):
    """The MQTT sink with its outbox and command handler; connects before frames flow."""
    from edge_service.mqtt.layer_images import LayerImagePolicy
    from edge_service.mqtt.publisher import MqttSink

    layers = config["mqtt.layers"]
    policy = LayerImagePolicy("all" if layers == "all" else [n for n in layers.split(",") if n],
                              config["mqtt.layers_every"])
    known = [layer.name for layer in pipeline.artefact.manifest.layers]
    if policy.layers != "all" and set(policy.layers) - set(known):
        from edge_service.config import ConfigError
        raise ConfigError(f"mqtt.layers: unknown layers {sorted(set(policy.layers) - set(known))}; "
                          f"the model has {known}")
    sink = MqttSink(mqtt_settings(config), open_outbox(config), config["device_id"], policy)
    sink.commands = make_control(config, pipeline, policy)
    sink.start(wait=True)
    pipeline.sinks.append(sink)
    return sink


def serve(config: dict, extra_sinks: list[Sink] | None = None) -> Counters:
    from edge_service.http.attach import open_http
    http = open_http(config)  # --http: checked and listening before the model loads
    try:
        pipeline = build_pipeline(config, extra_sinks)
        mqtt = attach_mqtt(config, pipeline) if config["mqtt.host"] else None
        if http:
            http.attach(pipeline, mqtt.commands if mqtt else make_control(config, pipeline))
    except BaseException:
        if http:
            http.close()
        raise
    stop = threading.Event()

    def request_stop(signum, _frame):
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        log.info("serving %s from %s on %s", pipeline.artefact.manifest.name, pipeline.source.name,
                 pipeline.backend.name)
        return pipeline.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sink in pipeline.sinks:
            try:
                sink.close()
            except Exception as exc:  # one sink failing to close must not hide the others
                log.warning("closing a sink failed: %s", exc)
        pipeline.backend.close()
