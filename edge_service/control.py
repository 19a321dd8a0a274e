"""The narrow control surface of a running service: MQTT commands and the web page both come here.

Every command is validated first, executed only when valid, and always answered:

snapshot               publish every layer's PNG for the next frame
set {fps, layers, top_k}
reload {model}         a model folder name inside the configured model directory
pause / resume
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from edge_service.errors import EdgeError
from edge_service.layer_policy import LayerImagePolicy
from edge_service.loop import ServiceLoop

MAX_PAYLOAD = 64 * 1024
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERBS = ("snapshot", "set", "reload", "pause", "resume")


class CommandError(EdgeError):
    """A command that is malformed or not allowed; its reason goes back in the reply."""


class Control:
    """pause, resume, set, reload and snapshot, on the loop and the analyzer it was built with."""

    def __init__(self, loop: ServiceLoop, layer_policy: LayerImagePolicy | None = None,
                 model_dir: Path | None = None) -> None:
        self.loop, self.analyzer = loop, loop.analyzer
        self.layer_policy = layer_policy or LayerImagePolicy()
        self.model_dir = Path(model_dir).resolve() if model_dir else None

    def handle(self, verb: str, payload: bytes) -> dict:
        """The reply: {"ok": true, ...} or {"ok": false, "reason": ...}. Never raises."""
        request_id = None
        try:
            args = self._parse(payload)
            request_id = args.pop("id", None)
            if verb not in VERBS:
                raise CommandError(f"unknown command {verb!r}; known: {', '.join(VERBS)}")
            detail = getattr(self, f"_{verb}")(args)
            reply = {"ok": True, "verb": verb, **detail}
        except EdgeError as exc:  # a CommandError, or e.g. a model that fails its hash check
            reply = {"ok": False, "verb": verb, "reason": str(exc)}
        if request_id is not None:
            reply["id"] = request_id
        return reply

    @staticmethod
    def _parse(payload: bytes) -> dict:
        if len(payload) > MAX_PAYLOAD:
            raise CommandError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD}-byte limit")
        if not payload.strip():
            return {}
        try:
            args = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CommandError(f"payload is not JSON ({exc})") from None
        if not isinstance(args, dict):
            raise CommandError("payload must be a JSON object")
        return args

    @staticmethod
    def _no_arguments(args: dict) -> None:
        if args:
            raise CommandError(f"unexpected arguments {sorted(args)}")

    def _snapshot(self, args: dict) -> dict:
        self._no_arguments(args)
        self.layer_policy.request_snapshot()
        return {"detail": "every layer of the next frame will be published"}

    def _pause(self, args: dict) -> dict:
        self._no_arguments(args)
        self.loop.paused.set()
        return {"detail": "paused"}

    def _resume(self, args: dict) -> dict:
        self._no_arguments(args)
        self.loop.paused.clear()
        return {"detail": "resumed"}

    def _set(self, args: dict) -> dict:
        unknown = set(args) - {"fps", "layers", "top_k"}
        if unknown or not args:
            raise CommandError(f"set takes fps, layers and top_k; got {sorted(args) or 'nothing'}")
        fps, layers, top_k = args.get("fps"), args.get("layers"), args.get("top_k")
        names = self.analyzer.picture_names
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 <= fps <= 1000):
            raise CommandError("fps must be a number from 0 (no limit) to 1000")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                                  or not 1 <= top_k <= len(self.analyzer.labels)):
            raise CommandError(f"top_k must be an integer from 1 to {len(self.analyzer.labels)}")
        if layers is not None and layers != "all":
            if not isinstance(layers, list) or not all(isinstance(n, str) for n in layers):
                raise CommandError('layers must be "all" or a list of layer names')
            missing = [n for n in layers if n not in names]
            if missing:
                raise CommandError(f"unknown layers {missing}; the model has {names}")
        # Everything is valid: now apply.
        if fps is not None:
            self.loop.settings.max_fps = float(fps)
        if top_k is not None:
            self.analyzer.settings.top_k = top_k
        if layers is not None:
            self.layer_policy.set_layers(layers)
        return {"applied": {k: v for k, v in args.items()}}

    def _reload(self, args: dict) -> dict:
        if set(args) != {"model"} or not isinstance(args["model"], str):
            raise CommandError('reload takes {"model": "<folder name in the model directory>"}')
        if self.model_dir is None:
            raise CommandError("no model directory is configured (model.dir)")
        name = args["model"]
        if not MODEL_NAME.match(name):
            raise CommandError(f"model name {name!r} must be a plain folder name")
        folder = (self.model_dir / name).resolve()
        if folder.parent != self.model_dir or not folder.is_dir():
            raise CommandError(f"no model {name!r} in the model directory")
        self.analyzer.reload(folder)
        return {"model": name, "sha256": self.analyzer.artefact.manifest.model_sha256}
