"""The Coral Edge TPU: an `*_edgetpu.tflite` beside the model and the libedgetpu delegate."""

from __future__ import annotations

import ctypes

from edge_service.backends.base import BackendUnavailable
from edge_service.backends.litert_backend import MODULES, LiteRTBackend, interpreter_module
from edge_service.errors import ModelError
from edge_service.manifest import ModelArtefact, sha256_of

DELEGATE_LIBRARY = "libedgetpu.so.1"


def load_edgetpu_delegate(library: str = DELEGATE_LIBRARY) -> tuple[str, object]:
    """(the runtime package that loaded it, the delegate): a delegate works only with its own runtime."""
    reasons = []
    for package in MODULES:
        try:
            module = interpreter_module(package)
        except BackendUnavailable as exc:
            reasons.append(str(exc))
            continue
        try:
            # Opened here first: when load_delegate cannot open it, the half-made Delegate's
            # finalizer prints an AttributeError traceback (tflite-runtime 2.14 and LiteRT).
            ctypes.CDLL(library)
            return package, module.load_delegate(library)
        except (ValueError, OSError, RuntimeError) as exc:
            raise BackendUnavailable(f"the Edge TPU delegate {library} did not load ({exc})") from None
    raise BackendUnavailable("no runtime to load the Edge TPU delegate with: " + "; ".join(reasons))


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
        self.package, delegate = load_edgetpu_delegate()
        try:
            super().__init__(artefact, threads, model_bytes=data, delegates=[delegate])
        except ModelError as exc:  # the compiled copy disagrees with the manifest: the CPU model may not
            raise BackendUnavailable(f"{path.name}: {exc}") from None
