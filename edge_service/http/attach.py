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

    def __init__(self, config) -> None:
        try:
            from edge_service.http.server import HttpServer
        except ImportError as exc:
            raise HttpError(f"--http needs the http extra (pip install 'unseen[http]'): {exc.name} is missing") from None
        from edge_service.http.pending import PendingHub
        h = config.http
        self.options = http_options(h.listen, h.token, h.token_file, h.cert, h.key)
        self.server = HttpServer(PendingHub(config.device_id), self.options).start()
        self.sink = None

    @property
    def url(self) -> str:
        return self.options.url(self.server.port)

    def attach(self, loop, control) -> "LiveSink":  # noqa: F821
        """Adds a LiveSink to the loop; `control` answers the page's commands (handle(verb, payload))."""
        from edge_service.http.live import LiveSink
        manifest = loop.analyzer.artefact.manifest
        sink = LiveSink(loop.device_id, manifest.labels, manifest.map_names(),
                        device_status(loop), control.handle if control else None)
        sink.on_close.append(self.close)
        self.server.hub = self.sink = sink
        loop.sinks.append(sink)
        return sink

    def close(self) -> None:
        self.server.close()


def device_status(loop) -> Callable[[], dict]:
    """The loop's status now; what the sinks add (the outbox's numbers come from SQLite) at most once a second."""
    cache = {"at": 0.0, "extra": {}}
    lock = threading.Lock()

    def status() -> dict:
        with lock:
            if time.monotonic() - cache["at"] > OUTBOX_EVERY:
                extra = {}
                for sink in loop.sinks:
                    extra.update(sink.describe())
                cache["extra"], cache["at"] = extra, time.monotonic()
            extra = cache["extra"]
        return dict(loop.status(describe_sinks=False), **extra)
    return status


def open_http(config) -> DeviceHttp | None:
    """None without --http; otherwise a listening server waiting for `attach`."""
    return DeviceHttp(config) if config.http.listen else None
