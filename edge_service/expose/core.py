"""`unseen expose`: read a .tflite, add every layer to its outputs, write the artefact folder."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from edge_service.errors import ModelError
from edge_service.expose.errors import ExposeError
from edge_service.expose.flatbuf import read_model, write_model
from edge_service.expose.graph_manifest import Preprocessing, build_manifest, read_labels
from edge_service.expose.rewrite import expose_outputs
from edge_service.manifest import MANIFEST_FILE, MODEL_FILE, Manifest, load_artefact, sha256_of
from edge_service.manifest_checks import manifest_problem


@dataclass
class ExposeReport:
    folder: Path
    manifest: Manifest
    added: int
    runs_on: dict[str, str] = field(default_factory=dict)   # backend -> "runs" or why not

    def lines(self) -> list[str]:
        m = self.manifest
        out = [f"exposed {len(m.layers)} layers of {m.exposed['source']} ({len(m.exposed['outputs'])} original "
               f"output{'s' if len(m.exposed['outputs']) != 1 else ''} first, {self.added} added) -> "
               f"{self.folder / MODEL_FILE}, {self.folder / MANIFEST_FILE}"]
        out += [f"{backend}: {state}" for backend, state in self.runs_on.items()]
        out += [f"not exposed: {line}" for line in m.exposed.get("skipped", [])]
        return out


def check_output(folder: Path, source: Path) -> Path:
    """Refuses an output folder that cannot be written, before any work (nothing is created yet)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExposeError(f"{folder}: exists and is not a folder; -o takes a folder")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ExposeError(f"{folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExposeError(f"{folder}: {existing} is not writable")
    if source.resolve() in {(folder / MODEL_FILE).resolve(), folder.resolve()}:
        raise ExposeError(f"{folder}: the output would overwrite the model it is made from; choose another -o")
    return folder


def _source(path: Path) -> tuple[bytes, Manifest | None]:
    """The model bytes, and the manifest beside them when it belongs to them (re-exposing an artefact)."""
    path = Path(path)
    if path.is_dir() or (path.parent / MANIFEST_FILE).exists():
        try:
            artefact = load_artefact(path)
            if path.is_dir() or artefact.model_path.resolve() == path.resolve():
                return artefact.model_bytes, artefact.manifest
        except ModelError:
            if path.is_dir():
                raise
    try:
        return path.read_bytes(), None
    except FileNotFoundError:
        raise ExposeError(f"{path}: no such model") from None
    except OSError as exc:
        raise ExposeError(f"{path}: cannot read the model ({exc.strerror})") from None


def _validate(data: bytes) -> None:
    """Our own reader checks every index and size; it reads one subgraph without variables, so a model
    of several (or with resource tensors) is left to the schema decoder and LiteRT."""
    from edge_service.numpy_support import bytes_refusal
    from edge_service.tflite_graph import read_graph
    if bytes_refusal(data) is None:
        read_graph(data)


def runs_on(data: bytes, outputs: int) -> dict[str, str]:
    """Whether the numpy kernels and LiteRT can run the exposed model, and why not."""
    from edge_service.numpy_interpreter import NumpyInterpreter
    states = {}
    try:
        NumpyInterpreter(data)
        states["numpy"] = "runs it (--backend numpy)"
    except ModelError as exc:
        states["numpy"] = f"refused: {exc}"
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        states["litert"] = "not installed (pip install ai-edge-litert)"
        return states
    try:
        # LiteRT's own kernels decide; XNNPACK would only announce itself on stderr here.
        interpreter = Interpreter(model_content=data,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interpreter.allocate_tensors()
        got = len(interpreter.get_output_details())
        states["litert"] = "runs it" if got == outputs else f"returns {got} outputs, not {outputs}"
    except (ValueError, RuntimeError) as exc:
        states["litert"] = f"cannot run it ({str(exc).strip().splitlines()[0] if str(exc).strip() else exc})"
    return states


def _name(source: Path, given: str | None, previous: Manifest | None) -> str:
    if given:
        return given
    if previous is not None:
        return previous.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", source.stem if source.suffix else source.name).strip("-") or "model"


def expose_model(source: Path, output: Path, name: str | None = None, labels: Path | None = None,
                 preprocessing: Preprocessing | None = None, only_layers: list[str] | None = None) -> ExposeReport:
    source = Path(source)
    folder = check_output(output, source)
    label_list = read_labels(labels) if labels is not None else None
    data, previous = _source(source)
    _validate(data)
    model = read_model(data)
    original = None
    if previous is not None and previous.exposed:
        original = [previous.layer(n).tensor_index for n in previous.exposed["outputs"]]
    exposure = expose_outputs(model, original, only_layers)
    exposed_bytes = write_model(model)
    states = runs_on(exposed_bytes, len(exposure.outputs))
    if not (states["numpy"].startswith("runs") or states["litert"].startswith("runs")):
        raise ExposeError(f"nothing here can run this model: numpy {states['numpy']}; litert {states['litert']}")
    first = previous.exposed if previous is not None and previous.exposed else {}
    exposed = {"source": first.get("source", source.name), "source_sha256": first.get("source_sha256", sha256_of(data)),
               "only_layers": only_layers,
               "subgraphs": exposure.subgraphs, "numpy": states["numpy"], "litert": states["litert"],
               "skipped": exposure.skipped}
    manifest = build_manifest(model, exposure, exposed_bytes, _name(source, name, previous), labels,
                              preprocessing or Preprocessing(), exposed, previous, label_list)
    problem = manifest_problem(manifest.to_json())
    if problem:  # never leave a folder that no command can open
        raise ExposeError(f"this model's layers do not fit a manifest: {problem}")
    _write(folder, exposed_bytes, manifest)
    return ExposeReport(folder, manifest, len(exposure.outputs) - len(exposure.original), states)


def _write(folder: Path, data: bytes, manifest: Manifest) -> None:
    """The model, then its manifest, each written beside and renamed: a reader never sees half a file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in ((MODEL_FILE, data), (MANIFEST_FILE, (json.dumps(manifest.to_json(), indent=1)
                                                                   + "\n").encode())):
            tmp = folder / (name + ".tmp")
            tmp.write_bytes(content)
            os.replace(tmp, folder / name)
    except OSError as exc:
        raise ExposeError(f"{folder}: cannot write the artefact ({exc.strerror})") from None
