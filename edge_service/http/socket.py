"""One viewer's WebSocket: its view in, the newest frame out at its rate, commands both ways.

Server to page: JSON text messages (hello, frame, status, devices, reply) and binary
pictures: a 4-byte big-endian header length, a JSON header (key, mime, layout or scale),
then the PNG or JPEG bytes. Never base64, never a backlog: a slow page just gets fewer frames.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time

from aiohttp import WSMsgType, web

from edge_service.http.auth import same_origin
from edge_service.http.hub import View

log = logging.getLogger("unseen.http")
META_EVERY = 1.0  # seconds between status and device-list messages


def pack(header: dict, data: bytes) -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack(">I", len(head)) + head + data


class Viewer:
    def __init__(self, server, ws: web.WebSocketResponse) -> None:
        self.server, self.ws = server, ws
        devices = self.hub.devices()
        self.view = View(device=devices[0]["id"] if devices else "")
        self.changed = asyncio.Event()
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task] = set()

    @property
    def hub(self):
        return self.server.hub  # read each time: a device's server gets its hub once the model is loaded

    async def send(self, message: dict) -> None:
        async with self.lock:
            await self.ws.send_str(json.dumps(message, separators=(",", ":"), default=str))

    async def push(self) -> None:
        try:
            await self._push()
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:  # a bug drawing one frame must not leave the page hanging silently
            log.exception("the live page's updates stopped")
            await self.ws.close(code=1011, message=b"internal error")

    async def _push(self) -> None:
        """Sends the newest frame whenever there is one, at most `rate` times a second."""
        loop = asyncio.get_running_loop()
        last_version, last_meta = None, 0.0
        while not self.ws.closed:
            forced = self.changed.is_set()
            self.changed.clear()
            view = self.view
            if not view.device:  # a fleet with no device yet, or the first device just appeared
                devices = self.hub.devices()
                view.device = devices[0]["id"] if devices else ""
            version = self.hub.version(view.device)
            if view.device and (version != last_version or forced):
                got = await loop.run_in_executor(self.server.draw, self.hub.frame, view.device, view)
                if got is not None:
                    message, pictures = got
                    async with self.lock:
                        await self.ws.send_str(json.dumps(message, separators=(",", ":"), default=str))
                        for header, data in pictures:
                            await self.ws.send_bytes(pack(header, data))
                last_version = version
            now = time.monotonic()
            if forced or now - last_meta >= META_EVERY:
                last_meta = now
                await self.send({"t": "status", "device": view.device, "status": self.hub.status_for(view.device)})
                if self.hub.mode == "fleet":
                    await self.send({"t": "devices", "devices": self.hub.devices()})
            try:
                await asyncio.wait_for(self.changed.wait(), 1.0 / view.rate)
            except asyncio.TimeoutError:
                pass

    async def command(self, data: dict) -> None:
        verb, device = data.get("verb"), data.get("device") or self.view.device
        args = data.get("args") if isinstance(data.get("args"), dict) else {}
        if not isinstance(verb, str) or not verb:
            reply = {"ok": False, "reason": "a command needs a verb"}
        else:
            reply = await self.hub.command(device, verb, json.dumps(args).encode())
        await self.send({"t": "reply", "device": device, "verb": verb, "reply": reply, "ref": data.get("ref")})
        self.changed.set()  # show the new state (paused, resumed) now, not at the next tick

    async def receive(self) -> None:
        async for msg in self.ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            if data.get("t") == "view":
                self.view = View.parse(data, self.view)
                self.changed.set()
            elif data.get("t") == "command":
                task = asyncio.create_task(self.command(data))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)


async def viewer(server, request: web.Request) -> web.StreamResponse:
    if not same_origin(request):  # another site's page must not drive this device through a visitor
        return web.Response(status=403, text="403 Forbidden: cross-origin WebSocket\n")
    ws = web.WebSocketResponse(heartbeat=20, compress=False, max_msg_size=64 * 1024, timeout=2.0)
    await ws.prepare(request)
    server.sockets.add(ws)
    client = Viewer(server, ws)
    await client.send({"t": "hello", "mode": server.hub.mode, "title": server.hub.title,
                       "devices": server.hub.devices(), "device": client.view.device})
    pusher = asyncio.create_task(client.push())
    try:
        await client.receive()
    finally:
        pusher.cancel()
        server.sockets.discard(ws)
    return ws
