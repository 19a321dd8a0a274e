"""The manifest beside every model.tflite: what the model is and how to feed it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edge_service.errors import ModelError
from edge_service.manifest_checks import check_manifest

SCHEMA = "unseen-manifest/1"
MODEL_FILE = "model.tflite"
MANIFEST_FILE = "manifest.json"
CONVERSION_MODEL_FILE = "conversion.tflite"
FLOAT_MODEL_FILE = "model_float.tflite"


@dataclass
class LayerInfo:
    name: str
    kind: str            # the Keras layer class, e.g. Conv2D
    op: str              # the TFLite op that produces it, e.g. CONV_2D
    shape: list[int]
    scale: float
    zero_point: int
    output_index: int    # position in the model's output list
    tensor_index: int


@dataclass
class Manifest:
    name: str
    labels: list[str]
    input: dict                  # shape, dtype, scale, zero_point
    preprocessing: dict          # color, size, fit, scale, invert
    layers: list[LayerInfo]
    model_sha256: str
    conversion: dict | None = None
    training: dict = field(default_factory=dict)
    # Set by `unseen expose` for a model made elsewhere: its source, its own outputs, what runs it.
    exposed: dict | None = None
    conversion_model: dict | None = None  # conversion.tflite: file, sha256, tile, halo, quantization
    float_model: dict | None = None       # model_float.tflite (every layer, float32): file, sha256
    schema: str = SCHEMA
    model_file: str = MODEL_FILE

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict, where: str = "manifest") -> "Manifest":
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ModelError(f"{where}: not an unseen manifest (expected schema {SCHEMA!r})")
        check_manifest(data, where)
        try:
            layers = [LayerInfo(**layer) for layer in data["layers"]]
            fields = {k: data[k] for k in ("name", "labels", "input", "preprocessing", "model_sha256")}
            return cls(layers=layers, conversion=data.get("conversion"),
                       conversion_model=data.get("conversion_model"), float_model=data.get("float_model"),
                       training=data.get("training") or {}, model_file=data.get("model_file", MODEL_FILE),
                       exposed=data.get("exposed"), **fields)
        except (KeyError, TypeError) as exc:
            raise ModelError(f"{where}: malformed manifest ({exc})") from exc

    def save(self, folder: Path) -> Path:
        path = Path(folder) / MANIFEST_FILE
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path

    def map_names(self) -> dict[str, list[str]]:
        """Names for the channels of layers that have them: the conversion layer's, from its matrix."""
        if not self.conversion or not self.layers:
            return {}
        return {self.layers[0].name: list(self.conversion.get("layer_names") or [])}

    @property
    def prediction(self) -> str:
        """The layer whose values are the model's answer (top-k reads it): an exposed model's first
        original output, else the last layer."""
        if self.exposed and self.exposed.get("outputs"):
            return self.exposed["outputs"][0]
        return self.layers[-1].name

    def layer(self, name: str) -> LayerInfo:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ModelError(f"the model has no layer {name!r}; it has {', '.join(l.name for l in self.layers)}")


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_checked(folder: Path, entry: dict | None, what: str) -> bytes:
    """The bytes of a file the manifest names beside the model ({"file", "sha256"}), hash checked."""
    if not entry:
        raise ModelError(f"{folder}: the manifest names no {what}")
    path = Path(folder) / entry["file"]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror})") from None
    if sha256_of(data) != entry["sha256"]:
        raise ModelError(f"{path}: SHA-256 does not match the manifest; refusing a model that was changed")
    return data


@dataclass
class ModelArtefact:
    """A verified model: the .tflite bytes and the manifest whose hash they match."""

    folder: Path
    model_bytes: bytes
    manifest: Manifest

    @property
    def model_path(self) -> Path:
        return self.folder / self.manifest.model_file


def resolve_model_path(path: Path | str) -> Path:
    """An installed model's folder holds `current` -> versions/<sha>; follow it."""
    path = Path(path)
    if path.is_dir() and not (path / MANIFEST_FILE).exists() and (path / "current").is_dir():
        return path / "current"
    return path


def load_artefact(path: Path | str) -> ModelArtefact:
    """Loads a model folder (or its model.tflite / manifest.json) and checks the hash."""
    path = resolve_model_path(path)
    folder = path if path.is_dir() else path.parent
    manifest_path = folder / MANIFEST_FILE
    if not path.exists():
        raise ModelError(f"{path}: no such model")
    try:
        data = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise ModelError(f"{folder}: no {MANIFEST_FILE} beside the model") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{manifest_path}: unreadable manifest ({exc})") from exc
    manifest = Manifest.from_json(data, str(manifest_path))
    model_path = path if path.suffix == ".tflite" else folder / manifest.model_file
    try:
        model_bytes = model_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{model_path}: cannot read model ({exc.strerror})") from exc
    actual = sha256_of(model_bytes)
    if actual != manifest.model_sha256:
        raise ModelError(f"{model_path}: SHA-256 {actual[:12]}... does not match the manifest's "
                         f"{manifest.model_sha256[:12]}...; refusing a model that was changed")
    return ModelArtefact(folder, model_bytes, manifest)


def default_model_dir() -> Path:
    """The model shipped inside the package: seed 003's network on Fashion-MNIST."""
    return Path(__file__).parent / "models" / "fashion"
