"""Builds the running service from a Config: source -> analyzer -> sinks, plus the control surface."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from edge_service.analyzer import AnalysisSettings, BackendChoice, FrameAnalyzer
from edge_service.config import Config, ConfigError
from edge_service.control import Control
from edge_service.counters import Counters
from edge_service.layer_policy import LayerImagePolicy
from edge_service.loop import LoopSettings, ServiceLoop
from edge_service.manifest import default_model_dir
from edge_service.sinks import JsonLinesSink, Sink, StatusFileSink
from edge_service.sources import open_source

log = logging.getLogger("unseen.service")


def build_sinks(config: Config, analyzer: FrameAnalyzer) -> list[Sink]:
    out, sinks = config.output, []
    if out.jsonl:
        sinks.append(JsonLinesSink(Path(out.jsonl), config.device_id))
    if out.status_file:
        sinks.append(StatusFileSink(Path(out.status_file)))
    if out.gallery:
        from edge_service.gallery import GallerySink
        manifest = analyzer.artefact.manifest
        sinks.append(GallerySink(Path(out.gallery), manifest.labels, out.gallery_every, out.gallery_keep,
                                 f"unseen: {config.device_id}", manifest.map_names()))
    return sinks


def build_loop(config: Config, extra_sinks: list[Sink] | None = None) -> ServiceLoop:
    m, r, s = config.model, config.run, config.source
    source = open_source(s.uri, s.loop)
    if not source.live:  # a file source that cannot be read is an error at start; only live ones retry
        source.open()
        source.close()
    choice = BackendChoice(m.backend, m.mode, m.threads or None, m.max_failures)
    analyzer = FrameAnalyzer.open(Path(m.path) if m.path else default_model_dir(), choice,
                                  AnalysisSettings(r.top_k, r.channel_stats, r.conversion_max_pixels))
    settings = LoopSettings(max_fps=r.max_fps, queue=r.queue, frames=r.frames, status_every=r.status_every,
                            retry_max_seconds=s.retry_max_seconds, max_retries=s.max_retries)
    sinks = build_sinks(config, analyzer) + list(extra_sinks or [])
    return ServiceLoop(source, analyzer, sinks, settings, config.device_id, Counters())


def layer_policy(config: Config, known: list[str]) -> LayerImagePolicy:
    names = config.mqtt.layers
    policy = LayerImagePolicy("all" if names == "all" else [n for n in names.split(",") if n],
                              config.mqtt.layers_every)
    unknown = sorted(set(policy.layers) - set(known)) if policy.layers != "all" else []
    if unknown:
        raise ConfigError(f"mqtt.layers: unknown layers {unknown}; the model has {known}")
    return policy


def open_outbox(config: Config, existing: bool = False):
    from edge_service.mqtt.outbox import Outbox
    o = config.outbox
    args = (o.folder(), int(o.max_mb * (1 << 20)), o.max_messages)
    return Outbox.existing(*args) if existing else Outbox(*args)


def mqtt_settings(config: Config):
    from edge_service.mqtt.link import MqttSettings
    m = config.mqtt
    return MqttSettings(
        host=m.host, port=m.port, protocol=m.protocol, client_id=m.client_id, keepalive=m.keepalive,
        username=m.username, password=m.password, tls=m.tls, ca_file=m.ca_file, cert_file=m.cert_file,
        key_file=m.key_file, prefix=m.prefix, backoff_max=m.backoff_max, connect_timeout=m.connect_timeout,
        drain_seconds=m.drain_seconds, discovery=m.discovery, discovery_prefix=m.discovery_prefix)


def make_control(config: Config, loop: ServiceLoop) -> Control:
    """The one control surface (pause, resume, set, snapshot, reload) MQTT and the live page share."""
    policy = layer_policy(config, loop.analyzer.picture_names)
    return Control(loop, policy, Path(config.model.dir) if config.model.dir else None)


def attach_mqtt(config: Config, loop: ServiceLoop, control: Control):
    """The MQTT sink with its outbox, answering commands through the control surface; connects
    before frames flow, so a refused connection is an error at start."""
    from edge_service.mqtt.sink import MqttSink
    sink = MqttSink(mqtt_settings(config), open_outbox(config), config.device_id, control.layer_policy,
                    control.handle)
    try:
        sink.start(wait=True)
    except BaseException:
        sink.close()  # its writer, encoder and outbox were already open
        raise
    loop.sinks.append(sink)
    return sink


def close_all(loop: ServiceLoop) -> None:
    for sink in loop.sinks:
        try:
            sink.close()
        except Exception as exc:  # one sink failing to close must not hide the others
            log.warning("closing a sink failed: %s", exc)
    loop.analyzer.close()


def serve(config: Config, extra_sinks: list[Sink] | None = None) -> Counters:
    from edge_service.http.attach import open_http
    http = open_http(config)  # --http: checked and listening before the model loads
    loop = None
    try:
        loop = build_loop(config, extra_sinks)
        control = make_control(config, loop)
        if config.mqtt.host:
            attach_mqtt(config, loop, control)
        if http:
            http.attach(loop, control)
    except BaseException:
        if loop is not None:  # a refusal at start still closes the sinks and the model already open
            close_all(loop)
        if http:
            http.close()
        raise
    stop = threading.Event()

    def request_stop(signum, _frame):
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        log.info("serving %s from %s on %s", loop.analyzer.artefact.manifest.name, loop.source.name,
                 loop.analyzer.backend.name)
        return loop.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        close_all(loop)
