"""The aiohttp application: the page, its WebSocket, commands, /metrics, /healthz, MJPEG, snapshots.

It runs its own event loop on a thread, so the inference thread never waits for a viewer.
Pictures are drawn on one worker thread, at the rate each viewer asked for.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import os
import socket
import threading
from importlib import resources

from aiohttp import web

from edge_service.http import HttpError
from edge_service.http.auth import safety_headers, token_middleware
from edge_service.http.hub import Hub
from edge_service.http.metrics import exposition, registry_for
from edge_service.http.options import HttpOptions
from edge_service.http.socket import viewer

log = logging.getLogger("unseen.http")
STATIC = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}
MJPEG_BOUNDARY = "unseenframe"


def _static(name: str) -> bytes:
    return resources.files("edge_service.http").joinpath("static", name).read_bytes()


class HttpServer:
    def __init__(self, hub: Hub, options: HttpOptions) -> None:
        self.hub, self.options = hub, options
        self.draw = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="unseen-draw")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runner: web.AppRunner | None = None
        self.thread: threading.Thread | None = None
        self.port = options.port
        self.sockets: set[web.WebSocketResponse] = set()
        self.registry = registry_for(lambda: self.hub.metric_families())
        self.files = {name: _static(name) for name in STATIC}

    # -- life --------------------------------------------------------------------------------
    def start(self) -> "HttpServer":
        """Listens, or raises HttpError in one line (address in use, unknown host, no permission)."""
        started: concurrent.futures.Future = concurrent.futures.Future()
        self.thread = threading.Thread(target=self._run, args=(started,), name="unseen-http", daemon=True)
        self.thread.start()
        error = started.result(timeout=30)
        if error:
            self.thread.join(timeout=5)
            raise HttpError(error)
        log.info("live page on %s", self.options.url(self.port))
        return self

    def _run(self, started: concurrent.futures.Future) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._listen())
        except Exception as exc:  # whatever it is, start() must hear of it rather than wait
            reason = str(exc)
            if isinstance(exc, socket.gaierror):
                reason = f"unknown host ({exc.strerror})"
            elif isinstance(exc, OSError) and exc.errno and exc.errno > 0:
                reason = os.strerror(exc.errno).lower()  # not asyncio's long wording
            started.set_result(f"cannot listen on {self.options.host}:{self.options.port}: {reason}")
            if self.runner is not None:
                self.loop.run_until_complete(self.runner.cleanup())
            self.loop.close()
            return
        started.set_result("")
        self.loop.run_forever()
        self.loop.run_until_complete(self._shutdown())
        self.loop.close()

    async def _listen(self) -> None:
        self.runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.options.host, self.options.port,
                           ssl_context=self.options.ssl_context())
        await site.start()
        self.port = self.runner.addresses[0][1] if self.options.port == 0 else self.options.port

    async def _shutdown(self) -> None:
        await asyncio.gather(*(ws.close(code=1001, message=b"server stopping") for ws in list(self.sockets)),
                             return_exceptions=True)
        await self.runner.cleanup()

    def close(self) -> None:
        if self.loop and self.thread and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
        self.draw.shutdown(wait=False, cancel_futures=True)

    # -- routes ------------------------------------------------------------------------------
    def app(self) -> web.Application:
        secure = bool(self.options.cert)
        app = web.Application(middlewares=[safety_headers, token_middleware(self.options.token, self.options.port,
                                                                           secure)])
        app.router.add_get("/", self.page)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_get("/ws", self.socket)
        app.router.add_get("/api/devices", self.devices)
        app.router.add_get("/api/status", self.status)
        app.router.add_post("/api/command/{verb}", self.command)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/stream.mjpeg", self.mjpeg)
        app.router.add_get("/snapshot.jpg", self.snapshot)
        return app

    async def socket(self, request: web.Request) -> web.StreamResponse:
        return await viewer(self, request)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(body=self.files["index.html"], content_type="text/html", charset="utf-8")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC or name == "index.html":
            raise web.HTTPNotFound()
        return web.Response(body=self.files[name], content_type=STATIC[name], charset="utf-8")

    def device_of(self, request: web.Request) -> str:
        device = request.query.get("device", "")
        if not device:
            known = self.hub.devices()
            device = known[0]["id"] if known else ""
        return device

    async def devices(self, request: web.Request) -> web.Response:
        return web.json_response({"mode": self.hub.mode, "devices": self.hub.devices()})

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.hub.status_for(self.device_of(request)))

    async def command(self, request: web.Request) -> web.Response:
        body = await request.read()
        reply = await self.hub.command(self.device_of(request), request.match_info["verb"], body)
        return web.json_response(reply, status=200 if reply.get("ok") else 400)

    async def metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.get_running_loop().run_in_executor(None, exposition, self.registry)
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def healthz(self, request: web.Request) -> web.Response:
        ok, detail = self.hub.health()
        return web.json_response({"ok": ok, **detail}, status=200 if ok else 503)

    def _layers(self, request: web.Request) -> list[str] | str:
        text = request.query.get("layers", "all")
        return "all" if text == "all" else [n for n in text.split(",") if n]

    async def _sheet(self, device: str, layers) -> bytes | None:
        return await asyncio.get_running_loop().run_in_executor(self.draw, self.hub.snapshot_jpeg, device, layers)

    async def snapshot(self, request: web.Request) -> web.Response:
        jpeg = await self._sheet(self.device_of(request), self._layers(request))
        if jpeg is None:
            return web.Response(status=503, text="no frame yet\n")
        return web.Response(body=jpeg, content_type="image/jpeg")

    async def mjpeg(self, request: web.Request) -> web.StreamResponse:
        device, layers = self.device_of(request), self._layers(request)
        try:
            fps = min(max(float(request.query.get("fps", 2)), 0.1), 15.0)
        except ValueError:
            raise web.HTTPBadRequest(text="fps must be a number\n") from None
        response = web.StreamResponse(headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}", "Cache-Control": "no-store"})
        await response.prepare(request)
        last = None
        try:
            while True:
                version = self.hub.version(device)
                if version != last:
                    jpeg = await self._sheet(device, layers)
                    if jpeg:
                        head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                        await response.write(head.encode() + jpeg + b"\r\n")
                        last = version
                await asyncio.sleep(1 / fps)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response


def json_text(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)
