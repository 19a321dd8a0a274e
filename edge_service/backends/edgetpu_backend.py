"""The Coral Edge TPU: an `*_edgetpu.tflite` beside the model and the libedgetpu delegate."""

from __future__ import annotations

from edge_service.backends.base import BackendUnavailable
from edge_service.backends.litert_backend import MODULES, LiteRTBackend, interpreter_module
from edge_service.manifest import ModelArtefact, sha256_of

DELEGATE_LIBRARY = "libedgetpu.so.1"


def load_edgetpu_delegate(library: str = DELEGATE_LIBRARY):
    for package in MODULES:
        try:
            module = interpreter_module(package)
        except BackendUnavailable:
            continue
        try:
            return module.load_delegate(library)
        except (ValueError, OSError, RuntimeError) as exc:
            raise BackendUnavailable(f"the Edge TPU delegate {library} did not load ({exc})") from None
    raise BackendUnavailable("neither ai-edge-litert nor tflite-runtime is installed")


class EdgeTPUBackend(LiteRTBackend):
    name = "edgetpu"

    def __init__(self, artefact: ModelArtefact, threads: int | None = None, **_) -> None:
        stem = artefact.manifest.model_file.rsplit(".", 1)[0]
        path = artefact.folder / f"{stem}_edgetpu.tflite"
        if not path.exists():
            raise BackendUnavailable(f"no {path.name} beside the model (compile it with edgetpu_compiler)")
        data = path.read_bytes()
        expected = artefact.manifest.training.get("edgetpu_sha256")
        if expected and sha256_of(data) != expected:
            raise BackendUnavailable(f"{path.name} does not match the manifest's edgetpu_sha256")
        delegate = load_edgetpu_delegate()
        super().__init__(artefact, threads, model_bytes=data, delegates=[delegate])
