"""The conversion matrix: K new layers from each pixel's channels or neighbourhood.

A pixel gives a vector v of D = k*k*C values (its k x k patch, row-major, channels
last). The layers are L = M (v - mu). In the network this is a Conv2D with 'same'
zero padding, weights M reshaped to (k, k, C, K) and bias -M mu, so `apply` pads
with zeros too: what you see here is what the first layer of the model computes.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_service.errors import ConversionError

FORMAT = "unseen-conversion-matrix/1"

LUMA = np.array([0.299, 0.587, 0.114])
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=float)
SOBEL_Y = SOBEL_X.T.copy()  # seed 003's horizontal-edge filter
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)
OUTLINE = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=float)
FIXED_METHODS = ("identity", "luma", "sobel", "edges")
FITTED_METHODS = ("pca", "whiten", "ica", "nmf")


@dataclass
class ConversionMatrix:
    """M (K x D) and mu (D), with how they were made."""

    method: str
    patch: int
    channels: int
    matrix: np.ndarray
    mean: np.ndarray
    layer_names: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.matrix = np.asarray(self.matrix, dtype=np.float64)
        self.mean = np.asarray(self.mean, dtype=np.float64)
        if self.patch < 1 or self.patch % 2 == 0:
            raise ConversionError(f"patch size must be an odd number >= 1, got {self.patch}")
        if self.matrix.ndim != 2 or self.matrix.shape[1] != self.dim:
            raise ConversionError(
                f"matrix must be K x {self.dim} for patch {self.patch} and {self.channels} "
                f"channel(s), got shape {self.matrix.shape}")
        if self.mean.shape != (self.dim,):
            raise ConversionError(f"mean must have {self.dim} values, got {self.mean.shape}")
        if not np.all(np.isfinite(self.matrix)) or not np.all(np.isfinite(self.mean)):
            raise ConversionError("matrix and mean must be finite numbers")
        if not self.layer_names:
            self.layer_names = [f"{self.method}{i}" for i in range(self.components)]
        if len(self.layer_names) != self.components:
            raise ConversionError("one layer name is needed per matrix row")

    @property
    def dim(self) -> int:
        return self.patch * self.patch * self.channels

    @property
    def components(self) -> int:
        return self.matrix.shape[0]

    def conv_kernel(self) -> np.ndarray:
        """Weights for a Conv2D: (k, k, C, K)."""
        k, c = self.patch, self.channels
        return self.matrix.reshape(self.components, k, k, c).transpose(1, 2, 3, 0).copy()

    def conv_bias(self) -> np.ndarray:
        return -(self.matrix @ self.mean)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Layers (H, W, K) of an image (H, W, C) or (H, W) of floats."""
        image = np.asarray(image, dtype=np.float64)
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3 or image.shape[2] != self.channels:
            raise ConversionError(
                f"this matrix takes {self.channels}-channel images, got shape {image.shape}")
        patches = extract_patches(image, self.patch)
        return patches @ self.matrix.T + self.conv_bias()

    def to_json(self) -> dict:
        return {
            "format": FORMAT, "method": self.method, "patch": self.patch,
            "channels": self.channels, "components": self.components,
            "layer_names": self.layer_names, "matrix": self.matrix.tolist(),
            "mean": self.mean.tolist(), "params": self.params,
        }

    @classmethod
    def from_json(cls, data: dict) -> "ConversionMatrix":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConversionError(f"not a conversion matrix (expected format {FORMAT!r})")
        try:
            return cls(method=str(data["method"]), patch=int(data["patch"]),
                       channels=int(data["channels"]), matrix=np.array(data["matrix"], dtype=float),
                       mean=np.array(data["mean"], dtype=float),
                       layer_names=list(data.get("layer_names") or []),
                       params=dict(data.get("params") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConversionError(f"malformed conversion matrix: {exc}") from exc

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: Path) -> "ConversionMatrix":
        """A matrix saved by `convert fit` (.json), or a user's .csv (its layout read from its width)."""
        if Path(path).suffix.lower() == ".csv":
            return csv_with_inferred_layout(Path(path))
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConversionError(f"cannot read {path}: {exc.strerror}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConversionError(f"{path} is not a conversion matrix (.json from `unseen convert fit`, "
                                  f"or a .csv): {exc}") from None
        return cls.from_json(data)


def extract_patches(image: np.ndarray, patch: int) -> np.ndarray:
    """(H, W, k*k*C) row-major patch vectors of a zero-padded (H, W, C) image."""
    r = patch // 2
    padded = np.pad(image, ((r, r), (r, r), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (patch, patch), axis=(0, 1))
    # windows: (H, W, C, k, k) -> (H, W, k, k, C)
    h, w, c = image.shape
    return windows.transpose(0, 1, 3, 4, 2).reshape(h, w, patch * patch * c)


def fixed_matrix(method: str, channels: int, patch: int | None = None) -> ConversionMatrix:
    """The fixed matrices: identity, luma, Sobel (x, y) and an edge bank (seeds 003/004)."""
    luma = LUMA if channels == 3 else np.full(channels, 1.0 / channels)
    if method == "identity":
        k = patch or 1
        centre = np.zeros((k, k))
        centre[k // 2, k // 2] = 1
        rows = [np.kron(centre.ravel(), np.eye(channels)[c]) for c in range(channels)]
        names = ["red", "green", "blue"] if channels == 3 else [f"channel{c}" for c in range(channels)]
        return ConversionMatrix("identity", k, channels, np.array(rows), np.zeros(k * k * channels), names)
    if method == "luma":
        return ConversionMatrix("luma", 1, channels, luma[None, :], np.zeros(channels), ["luma"])
    if method == "sobel":
        filters, names = [SOBEL_X, SOBEL_Y], ["sobel_x", "sobel_y"]
    elif method == "edges":
        filters = [SOBEL_X, SOBEL_Y, LAPLACIAN, OUTLINE]
        names = ["sobel_x", "sobel_y", "laplacian", "outline"]
    else:
        raise ConversionError(f"unknown fixed matrix {method!r}; choose from {', '.join(FIXED_METHODS)}")
    rows = np.array([np.kron(f.ravel(), luma) for f in filters])
    return ConversionMatrix(method, 3, channels, rows, np.zeros(9 * channels), names)


def matrix_from_csv(path: Path, channels: int, patch: int) -> ConversionMatrix:
    """A user's matrix: one row per layer, k*k*C numbers each (an optional last row 'mean,...')."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r and not r[0].startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConversionError(f"cannot read {path} as CSV: {getattr(exc, 'strerror', None) or exc}") from None
    mean = np.zeros(patch * patch * channels)
    if rows and rows[-1][0].strip().lower() == "mean":
        mean = _floats(rows.pop()[1:], path)
    if not rows:
        raise ConversionError(f"{path} has no matrix rows")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ConversionError(f"{path}: rows have different lengths {sorted(widths)}")
    matrix = np.array([_floats(r, path) for r in rows])
    return ConversionMatrix("csv", patch, channels, matrix, mean, params={"source": str(path)})


def csv_with_inferred_layout(path: Path) -> ConversionMatrix:
    """A CSV row of k*k*C numbers: RGB when that fits an odd k, else grey."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            first = next((r for r in csv.reader(fh) if r and not r[0].startswith("#")), None)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConversionError(f"cannot read {path} as CSV: {getattr(exc, 'strerror', None) or exc}") from None
    if first is None:
        raise ConversionError(f"{path} has no matrix rows")
    width = len(first)
    for channels in (3, 1):
        patch = round((width / channels) ** 0.5)
        if width % channels == 0 and patch * patch * channels == width and patch % 2 == 1:
            return matrix_from_csv(path, channels, patch)
    raise ConversionError(f"{path}: rows of {width} numbers are not k*k*C for an odd k and C of 1 or 3")


def _floats(cells: list[str], path: Path) -> np.ndarray:
    try:
        return np.array([float(c) for c in cells])
    except ValueError as exc:
        raise ConversionError(f"{path}: {exc}") from exc
