"""What the server asks of a data source (one device, or a fleet over MQTT): the Hub."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.core import Metric

Picture = tuple[dict, bytes]  # (header: key, mime, layout or scale; the encoded image)


@dataclass
class View:
    """What one viewer watches: sent by the page, checked by the server."""

    device: str = ""
    layers: list[str] | str = "all"
    rate: float = 4.0                       # updates per second at most
    focus: tuple[str, int] | None = None    # (layer, channel) for the large view
    camera: bool = True

    MAX_RATE = 15.0

    @classmethod
    def parse(cls, data: dict, current: "View") -> "View":
        """A new view from a page's message; a wrong field keeps the current value."""
        view = View(current.device, current.layers, current.rate, current.focus, current.camera)
        if isinstance(data.get("device"), str):
            view.device = data["device"][:200]
        layers = data.get("layers")
        if layers == "all" or isinstance(layers, list) and all(isinstance(n, str) for n in layers):
            view.layers = layers if layers == "all" else layers[:256]
        rate = data.get("rate")
        if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0:
            view.rate = min(float(rate), cls.MAX_RATE)
        focus = data.get("focus", ...)
        if focus is None:
            view.focus = None
        elif isinstance(focus, dict) and isinstance(focus.get("layer"), str) and isinstance(focus.get("channel"), int):
            view.focus = (focus["layer"], focus["channel"])
        if isinstance(data.get("camera"), bool):
            view.camera = data["camera"]
        return view

    def wants(self, layer: str) -> bool:
        return self.layers == "all" or layer in self.layers


class Hub:
    """The interface; LiveSink (one device) and fleet.live.FleetHub (MQTT) implement it."""

    mode = "device"
    title = "unseen"

    def devices(self) -> list[dict]:
        """Each device: id, online, state, fps, backend, model, top label, seconds since last seen."""
        raise NotImplementedError

    def version(self, device: str) -> object:
        """Changes whenever the device has something new to show."""
        raise NotImplementedError

    def frame(self, device: str, view: View) -> tuple[dict, list[Picture]] | None:
        """The newest result as JSON and the pictures the view asks for (runs in a worker thread)."""
        raise NotImplementedError

    def status_for(self, device: str) -> dict:
        """The device's newest status message."""
        raise NotImplementedError

    async def command(self, device: str, verb: str, payload: bytes) -> dict:
        """A command's reply: {"ok": ..., "reason"/"detail": ...}; never raises."""
        raise NotImplementedError

    def snapshot_jpeg(self, device: str, layers: list[str] | str) -> bytes | None:
        """The newest frame's chosen layers side by side, for /stream.mjpeg and /snapshot.jpg."""
        raise NotImplementedError

    def metric_families(self) -> list[Metric]:
        raise NotImplementedError

    def health(self) -> tuple[bool, dict]:
        raise NotImplementedError
