"""The hub a device's server shows between listening and its first frame (the model is loading)."""

from __future__ import annotations

from edge_service.http.hub import Hub, View


class PendingHub(Hub):
    def __init__(self, device_id: str) -> None:
        self.device_id, self.title = device_id, f"unseen: {device_id}"

    def devices(self) -> list[dict]:
        return [{"id": self.device_id, "online": False, "state": "starting"}]

    def version(self, device: str) -> object:
        return 0

    def frame(self, device: str, view: View):
        return None

    def status_for(self, device: str) -> dict:
        return {"state": "starting", "device": self.device_id}

    async def command(self, device: str, verb: str, payload: bytes) -> dict:
        return {"ok": False, "verb": verb, "reason": "the service is still starting"}

    def snapshot_jpeg(self, device: str, layers):
        return None

    def metric_families(self) -> list:
        return []

    def health(self) -> tuple[bool, dict]:
        return False, {"state": "starting"}
