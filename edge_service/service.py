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
        sinks.append(JsonLinesSink(Path(config["output.jsonl"]), config["device_id"],
                                   artefact.manifest.model_sha256))
    if config["output.status_file"]:
        sinks.append(StatusFileSink(Path(config["output.status_file"])))
    if config["output.gallery"]:
        from edge_service.gallery import GallerySink
        sinks.append(GallerySink(Path(config["output.gallery"]), artefact.manifest.labels,
                                 config["output.gallery_every"], config["output.gallery_keep"],
                                 f"unseen: {config['device_id']}"))
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


def serve(config: dict, extra_sinks: list[Sink] | None = None) -> Counters:
    pipeline = build_pipeline(config, extra_sinks)
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
