"""Datasets behind one split interface: images (N, H, W, C) floats in [0, 1], integer labels.

Sources: scikit-learn's handwritten digits (the default: real data with no network),
scikit-image's face / non-face subset, IDX files (MNIST, Fashion-MNIST; raw or .gz),
a folder with one sub-folder per class, and an .npz with `x` and `y`.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.errors import DatasetError

SPLIT_SEED = 1234
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
BUILTIN = ("digits", "faces")


@dataclass
class Dataset:
    name: str
    labels: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    invert: bool = False  # True when ink is bright on a dark ground (digits, MNIST)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def summary(self) -> str:
        h, w, c = self.input_shape
        return (f"{self.name}: {len(self.labels)} classes, {h}x{w}x{c}, "
                f"{len(self.x_train)} train / {len(self.x_val)} val / {len(self.x_test)} test")


def load_dataset(source: str, size: tuple[int, int] | None = None, channels: int | None = None,
                 limit: int | None = None) -> Dataset:
    """Loads `source` (a built-in name or a path), optionally resized, recoloured or cut to `limit`."""
    if source == "digits":
        x, y, labels, invert = _digits()
        name = "digits"
    elif source == "faces":
        x, y, labels, invert = _faces()
        name = "faces"
    else:
        path = Path(source)
        if not path.exists():
            raise DatasetError(f"dataset {source!r} is neither {' nor '.join(BUILTIN)} nor an existing path")
        if path.is_dir() and _idx_pair(path) is None:
            x, y, labels = _folder(path)
        elif path.is_dir():
            x, y, labels = _idx_dir(path)
        elif path.suffix == ".npz":
            x, y, labels = _npz(path)
        else:
            raise DatasetError(f"{path}: expected a folder of class folders, an IDX folder or an .npz")
        name, invert = path.name, False
    if limit:
        keep = np.random.default_rng(SPLIT_SEED).permutation(len(x))[:limit]
        x, y = x[keep], y[keep]
    x = _reshape(x, size, channels)
    return _split(name, labels, x, y, invert)


def _split(name: str, labels: list[str], x: np.ndarray, y: np.ndarray, invert: bool) -> Dataset:
    """70 / 15 / 15, stratified, with a fixed seed so every run sees the same test split."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, val, test = [], [], []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_test = max(1, round(0.15 * len(idx)))
        n_val = max(1, round(0.15 * len(idx)))
        test.extend(idx[:n_test])
        val.extend(idx[n_test:n_test + n_val])
        train.extend(idx[n_test + n_val:])
    if not train:
        raise DatasetError(f"{name}: too few images to split into train / validation / test")
    parts = [rng.permutation(np.array(p, dtype=int)) for p in (train, val, test)]
    return Dataset(name, labels, *(arr for p in parts for arr in (x[p], y[p])), invert=invert)


def _reshape(x: np.ndarray, size: tuple[int, int] | None, channels: int | None) -> np.ndarray:
    x = x.astype(np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if channels and channels != x.shape[-1]:
        if channels == 1:
            x = (x[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        elif x.shape[-1] == 1:
            x = np.repeat(x, channels, axis=-1)
        else:
            raise DatasetError(f"cannot turn {x.shape[-1]}-channel images into {channels} channels")
    if size and tuple(size) != x.shape[1:3]:
        from PIL import Image
        h, w = size
        out = np.empty((len(x), h, w, x.shape[-1]), np.float32)
        for i, im in enumerate(x):
            for c in range(im.shape[-1]):
                pil = Image.fromarray(im[..., c], mode="F").resize((w, h), Image.BILINEAR)
                out[i, :, :, c] = np.asarray(pil)
        x = out
    return np.clip(x, 0.0, 1.0)


def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.images / 16.0, d.target.astype(np.int64), [str(i) for i in range(10)], True


def _faces():
    from skimage.data import lfw_subset
    x = lfw_subset()  # 100 faces then 100 non-faces, 25x25 grey
    y = np.array([1] * 100 + [0] * 100, dtype=np.int64)
    return x.astype(np.float32), y, ["non-face", "face"], False


def _npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data or "y" not in data:
                raise DatasetError(f"{path}: an .npz dataset needs arrays 'x' and 'y', has {list(data.keys())}")
            x, y = data["x"], data["y"]
            labels = [str(v) for v in data["labels"]] if "labels" in data else None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read .npz: {exc}") from exc
    if len(x) != len(y) or len(x) == 0:
        raise DatasetError(f"{path}: x has {len(x)} images but y has {len(y)} labels")
    if x.ndim not in (3, 4):
        raise DatasetError(f"{path}: x must be (N, H, W) or (N, H, W, C), got {x.shape}")
    x = x.astype(np.float32)
    if x.max() > 1.0:
        x = x / 255.0
    classes, y = np.unique(y, return_inverse=True)
    return x, y.astype(np.int64), labels or [str(c) for c in classes]


def _folder(path: Path):
    from PIL import Image, UnidentifiedImageError
    class_dirs = sorted(p for p in path.iterdir() if p.is_dir())
    if not class_dirs:
        raise DatasetError(f"{path}: no class sub-folders (expected one folder per class)")
    images, labels = [], []
    for cls, folder in enumerate(class_dirs):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DatasetError(f"{folder}: no images in this class folder")
        for f in files:
            try:
                with Image.open(f) as im:
                    im.load()
                    images.append(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0)
            except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
                raise DatasetError(f"{f}: not a readable image ({exc})") from exc
            labels.append(cls)
    sizes = {im.shape for im in images}
    if len(sizes) > 1:
        # Different sizes: bring them all to the most common one.
        target = max(sizes, key=lambda s: sum(im.shape == s for im in images))
        images = [im if im.shape == target else
                  np.asarray(Image.fromarray((im * 255).astype(np.uint8)).resize(target[1::-1]),
                             dtype=np.float32) / 255.0 for im in images]
    return np.stack(images), np.array(labels, np.int64), [d.name for d in class_dirs]


def _idx_pair(folder: Path) -> tuple[Path, Path] | None:
    names = {p.name: p for p in folder.iterdir()}
    for prefix in ("train", "t10k"):
        imgs = [n for n in names if n.startswith(prefix) and "images" in n and "idx3" in n]
        labs = [n for n in names if n.startswith(prefix) and "labels" in n and "idx1" in n]
        if imgs and labs:
            return names[imgs[0]], names[labs[0]]
    return None


def _idx_dir(folder: Path):
    """Every images/labels IDX pair in the folder (train and t10k) pooled together."""
    xs, ys = [], []
    for prefix in ("train", "t10k"):
        imgs = sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and "idx3" in p.name)
        labs = sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and "idx1" in p.name)
        if imgs and labs:
            x, y = read_idx(imgs[0]), read_idx(labs[0])
            if len(x) != len(y):
                raise DatasetError(f"{imgs[0]} has {len(x)} images but {labs[0]} has {len(y)} labels")
            xs.append(x)
            ys.append(y)
    x = np.concatenate(xs).astype(np.float32) / 255.0
    y = np.concatenate(ys).astype(np.int64)
    return x, y, [str(c) for c in range(int(y.max()) + 1)]


def read_idx(path: Path) -> np.ndarray:
    """Reads an IDX file (raw or gzip) of unsigned bytes."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read IDX file: {exc}") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path}: not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise DatasetError(f"{path}: only unsigned-byte IDX files are supported (type 0x{data[2]:02x})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise DatasetError(f"{path}: header declares {dims} ({expected} bytes) "
                           f"but the file holds {len(data) - header}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)
