"""Runs the fleet page until SIGINT / SIGTERM (or a timeout): `unseen watch --http`."""

from __future__ import annotations

import signal
import threading

from edge_service.http.options import http_options
from fleet.live import FleetHub


def serve_fleet(mqtt_host: str, mqtt_port: int, prefix: str, username: str, password: str, listen: str,
                token: str = "", token_file: str = "", cert: str = "", key: str = "", timeout: float = 0,
                echo=print) -> FleetHub:
    """Checks the HTTP options, listens, then connects to the broker; returns the hub when stopped."""
    options = http_options(listen, token, token_file, cert, key)
    try:
        from edge_service.http.server import HttpServer
    except ImportError as exc:
        from edge_service.http import HttpError
        raise HttpError(f"--http needs the http extra (pip install 'unseen[http]'): {exc.name} is missing") from None
    hub = FleetHub(mqtt_host, mqtt_port, prefix, username, password)
    server = HttpServer(hub, options).start()
    try:
        hub.start()
    except BaseException:
        server.close()
        raise
    echo(f"fleet page for {prefix}/+ on {options.url(server.port)}")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait(timeout or None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
        hub.close()
    return hub
