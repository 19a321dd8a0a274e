"""`--backend auto`: Edge TPU, then LiteRT, then tflite-runtime, then numpy; it says why."""

from __future__ import annotations

from edge_service.backends.base import Backend, BackendUnavailable
from edge_service.backends.edgetpu_backend import EdgeTPUBackend
from edge_service.backends.fallback import FallbackBackend
from edge_service.backends.litert_backend import LiteRTBackend, TfliteRuntimeBackend
from edge_service.backends.numpy_backend import NumpyBackend
from edge_service.errors import EdgeError
from edge_service.manifest import ModelArtefact

BACKENDS = {"edgetpu": EdgeTPUBackend, "litert": LiteRTBackend,
            "tflite-runtime": TfliteRuntimeBackend, "numpy": NumpyBackend}
CPU_ORDER = ("litert", "tflite-runtime", "numpy")


def _make(name: str, artefact: ModelArtefact, mode: str, threads: int | None) -> Backend:
    if name == "numpy":
        return NumpyBackend(artefact, mode)
    return BACKENDS[name](artefact, threads)


def _label(backend: Backend) -> str:
    return f"{backend.name} {backend.version}".strip()


def _first_cpu(artefact, mode, threads, notes: list[str]) -> Backend:
    for name in CPU_ORDER:
        try:
            return _make(name, artefact, mode, threads)
        except BackendUnavailable as exc:
            notes.append(f"{name}: {exc}")
    raise EdgeError("no backend can run this model: " + "; ".join(notes))


def select_backend(artefact: ModelArtefact, preference: str = "auto", mode: str = "tflm",
                   threads: int | None = None, max_failures: int = 3) -> tuple[Backend, list[str]]:
    """The backend to run, and one note per backend considered (why chosen, why not)."""
    if preference not in ("auto", *BACKENDS):
        raise EdgeError(f"unknown backend {preference!r}; choose auto or {', '.join(BACKENDS)}")
    notes: list[str] = []
    if preference not in ("auto", "edgetpu"):
        try:
            backend = _make(preference, artefact, mode, threads)
        except BackendUnavailable as exc:
            raise EdgeError(f"backend {preference} is unavailable: {exc}") from None
        return backend, [f"{_label(backend)}: chosen by configuration"]
    try:
        accelerator = EdgeTPUBackend(artefact, threads)
    except BackendUnavailable as exc:
        if preference == "edgetpu":  # explicit means explicit: only `auto` falls back
            raise EdgeError(f"backend edgetpu is unavailable: {exc} (use --backend auto to fall back to the CPU)") \
                from None
        notes.append(f"edgetpu: {exc}")
        backend = _first_cpu(artefact, mode, threads, notes)
        notes.append(f"{_label(backend)}: chosen")
        return backend, notes
    fallback = _first_cpu(artefact, mode, threads, notes)
    notes.append(f"edgetpu: chosen; {fallback.name} takes over if it fails {max_failures} times in a row")
    return FallbackBackend(accelerator, fallback, max_failures), notes
