"""`serve --http`: the LiveSink and the server for one device, in two steps.

`open_http(config)` checks the options and listens before the model loads (a bad address,
an unsafe one or a port in use fails at once); `attach(pipeline, control)` then feeds it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from edge_service.http import HttpError
from edge_service.http.options import http_options

OUTBOX_EVERY = 1.0  # the outbox's numbers come from SQLite: ask at most once a second


class DeviceHttp:
    """The running server for one device; `attach` connects it to the pipeline."""

    def __init__(self, config: dict) -> None:
        try:
            from edge_service.http.server import HttpServer
        except ImportError as exc:
            raise HttpError(f"--http needs the http extra (pip install 'unseen[http]'): {exc.name} is missing") from None
        from edge_service.http.pending import PendingHub
        self.options = http_options(config["http.listen"], config["http.token"], config["http.token_file"],
                                    config["http.cert"], config["http.key"])
        self.server = HttpServer(PendingHub(config["device_id"]), self.options).start()
        self.sink = None

    @property
    def url(self) -> str:
        return self.options.url(self.server.port)

    def attach(self, pipeline, control) -> "LiveSink":  # noqa: F821
        """Adds a LiveSink to the pipeline; `control` answers the page's commands (handle(verb, payload))."""
        from edge_service.http.live import LiveSink
        manifest = pipeline.artefact.manifest
        sink = LiveSink(pipeline.device_id, manifest.labels, manifest.map_names(),
                        device_status(pipeline), control.handle if control else None)
        sink.on_close.append(self.close)
        self.server.hub = self.sink = sink
        pipeline.sinks.append(sink)
        return sink

    def close(self) -> None:
        self.server.close()


def device_status(pipeline) -> Callable[[], dict]:
    """The pipeline's status now, with the MQTT sink's outbox and connection when there is one."""
    mqtt = next((s for s in pipeline.sinks if hasattr(s, "outbox") and hasattr(s, "connected")), None)
    cache = {"at": 0.0, "outbox": None}
    lock = threading.Lock()

    def status() -> dict:
        current = pipeline.status()
        if mqtt is None:
            return current
        with lock:
            if time.monotonic() - cache["at"] > OUTBOX_EVERY:
                cache["outbox"], cache["at"] = mqtt.outbox.stats(), time.monotonic()
            outbox = cache["outbox"]
        return dict(current, outbox=outbox, mqtt={"connected": mqtt.connected.is_set(), "acknowledged": mqtt.acked,
                                                  "broker": f"{mqtt.settings.host}:{mqtt.settings.port}"})
    return status


def open_http(config: dict) -> DeviceHttp | None:
    """None without --http; otherwise a listening server waiting for `attach`."""
    return DeviceHttp(config) if config.get("http.listen") else None
