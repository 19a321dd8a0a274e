"""Datasets behind one split interface: images (N, H, W, C) floats in [0, 1], integer labels.

Sources: scikit-learn's handwritten digits (the default: real data with no network),
scikit-image's face / non-face subset, Fashion-MNIST (Debian's dataset-fashion-mnist),
IDX folders (MNIST-like; raw or .gz), a folder with one sub-folder per class, and an
.npz with `x` and `y`. A dataset with its own train / test files (Fashion-MNIST, any
IDX folder holding train-* and t10k-*) keeps that split; the others are pooled and
split 70 / 15 / 15.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_service import idx
from edge_service.errors import DatasetError as EdgeDatasetError
from training.dataset_files import read_folder, read_npz
from training.errors import DatasetError

SPLIT_SEED = 1234
VALIDATION_SHARE = 0.1  # of the train-* files, when a dataset brings its own test files
BUILTIN = ("digits", "faces", idx.FASHION_MNIST)


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
    invert: bool = False        # True when ink is bright on a dark ground (digits, MNIST, Fashion-MNIST)
    own_split: bool = False     # the test images are the dataset's own test files
    mirror: bool = False        # a left-right mirrored image is the same class (a flip is a fair augmentation)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def summary(self) -> str:
        h, w, c = self.input_shape
        split = "its own test files" if self.own_split else "a pooled 70/15/15 split"
        return (f"{self.name}: {len(self.labels)} classes, {h}x{w}x{c}, "
                f"{len(self.x_train)} train / {len(self.x_val)} val / {len(self.x_test)} test ({split})")


@dataclass
class _Raw:
    """What a source gives before resizing and splitting."""

    name: str
    labels: list[str]
    x: np.ndarray                       # pooled images, or the train-* images
    y: np.ndarray
    x_test: np.ndarray | None = None    # the dataset's own test files, when it has them
    y_test: np.ndarray | None = None
    invert: bool = False
    mirror: bool = False


def load_dataset(source: str, size: tuple[int, int] | None = None, channels: int | None = None,
                 limit: int | None = None, data_dir: Path | str | None = None) -> Dataset:
    """Loads `source` (a built-in name or a path), resized (default: its own size), cut to `limit`.

    `limit` caps the pooled images, or each of the train and test files of an own split.
    `data_dir` is where Fashion-MNIST's files are (default: where Debian puts them).
    """
    try:
        raw = _load_raw(source, data_dir)
    except EdgeDatasetError as exc:
        raise DatasetError(str(exc)) from None
    check_trainable(raw)
    x, y = _limited(raw.x, raw.y, limit)
    x = _reshape(x, size, channels)
    kept = f" kept by --limit {limit}"
    if len(y) < len(raw.y):
        _check_enough(raw, y, kept)
    if raw.x_test is None:
        return _split(raw, x, y)
    x_test, y_test = _limited(raw.x_test, raw.y_test, limit, keep_order=True)
    if len(y_test) < len(raw.y_test):
        _check_enough(raw, y_test, kept + " from the test files", minimum=1)
    train, val = _stratified(y, [VALIDATION_SHARE], order=[0, 1])
    return Dataset(raw.name, raw.labels, x[train], y[train], x[val], y[val],
                   _reshape(x_test, size, channels), y_test, raw.invert, True, raw.mirror)


MIN_IMAGES_PER_CLASS = 5  # fewer and the split leaves a class out of validation or test


def check_trainable(raw: _Raw) -> None:
    """A dataset a classifier can learn from and be tested on: finite values, two classes or more,
    enough images of each (a one-class model scores 100 % and means nothing)."""
    if not np.isfinite(raw.x).all():
        bad = int(np.count_nonzero(~np.isfinite(raw.x)))
        raise DatasetError(f"{raw.name}: {bad} pixel values are NaN or infinite")
    classes, counts = np.unique(raw.y, return_counts=True)
    if len(classes) < 2:
        raise DatasetError(f"{raw.name}: only one class ({raw.labels[int(classes[0])] if len(classes) else 'none'}); "
                           f"a classifier needs two or more")
    if raw.x_test is None:
        _check_enough(raw, raw.y, " in all")


def _check_enough(raw: _Raw, y: np.ndarray, which: str, minimum: int = MIN_IMAGES_PER_CLASS) -> None:
    """Every class has `minimum` images in `y` (all of them, or what a limit keeps): enough to be
    split into train, validation and test, or (minimum 1) to be tested at all."""
    classes, counts = np.unique(y, return_counts=True)
    present = {int(c): int(n) for c, n in zip(classes, counts)}
    few = [raw.labels[c] if c < len(raw.labels) else str(c) for c in np.unique(raw.y).tolist()
           if present.get(c, 0) < minimum]
    if few:
        raise DatasetError(f"{raw.name}: classes {few} have fewer than {minimum} images "
                           f"({len(y)} images{which}): too few to train, validate and test")


def _load_raw(source: str, data_dir) -> _Raw:
    if source == "digits":
        from sklearn.datasets import load_digits
        d = load_digits()
        return _Raw("digits", [str(i) for i in range(10)], d.images / 16.0, d.target.astype(np.int64),
                    invert=True)
    if source == "faces":
        from skimage.data import lfw_subset
        x = lfw_subset()  # 100 faces then 100 non-faces, 25x25 grey
        return _Raw("faces", ["non-face", "face"], x.astype(np.float32),
                    np.array([1] * 100 + [0] * 100, dtype=np.int64), mirror=True)
    if source == idx.FASHION_MNIST:
        raw = _idx_folder(idx.find_fashion_mnist(data_dir))
        raw.name, raw.labels, raw.invert, raw.mirror = idx.FASHION_MNIST, list(idx.FASHION_MNIST_LABELS), True, True
        return raw
    path = Path(source)
    if not path.exists():
        raise DatasetError(f"dataset {source!r} is neither {', '.join(BUILTIN)} nor an existing path")
    if path.is_dir() and idx.idx_pairs(path):
        return _idx_folder(path)
    if path.is_dir() or path.suffix == ".npz":
        x, y, labels = read_folder(path) if path.is_dir() else read_npz(path)
        return _Raw(path.name, labels, x, y)
    raise DatasetError(f"{path}: expected a folder of class folders, an IDX folder or an .npz")


def _idx_folder(folder: Path) -> _Raw:
    """train-* and t10k-* as an own split; a folder with only one of them is pooled."""
    pairs = {prefix: idx.read_pair(*files) for prefix, files in idx.idx_pairs(folder).items()}
    classes = int(max(y.max() for _, y in pairs.values())) + 1
    labels = [str(c) for c in range(classes)]
    scaled = {p: (x.astype(np.float32) / 255.0, y) for p, (x, y) in pairs.items()}
    if len(scaled) == 2:
        return _Raw(folder.name, labels, *scaled["train"], *scaled["t10k"])
    x, y = next(iter(scaled.values()))
    return _Raw(folder.name, labels, x, y)


def _limited(x, y, limit: int | None, keep_order: bool = False):
    if not limit or limit >= len(x):
        return x, y
    keep = np.random.default_rng(SPLIT_SEED).permutation(len(x))[:limit]
    if keep_order:
        keep = np.sort(keep)
    return x[keep], y[keep]


def _stratified(y: np.ndarray, shares: list[float], order: list[int]) -> list[np.ndarray]:
    """Parts [rest, part 1, part 2, ...], each taking its share of every class (>= 1), fixed seed.

    Each part is shuffled, in `order` (the random draws in the order earlier releases made them,
    so a split never changes under a trained model).
    """
    rng = np.random.default_rng(SPLIT_SEED)
    rest: list[int] = []
    parts: list[list[int]] = [[] for _ in shares]
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        start = 0
        for part, share in zip(parts, shares):
            n = max(1, round(share * len(members)))
            part.extend(members[start:start + n])
            start += n
        rest.extend(members[start:])
    split = [rest, *parts]
    shuffled = {i: rng.permutation(np.array(split[i], dtype=int)) for i in order}
    return [shuffled[i] for i in range(len(split))]


def _split(raw: _Raw, x: np.ndarray, y: np.ndarray) -> Dataset:
    """70 / 15 / 15, stratified, with a fixed seed so every run sees the same test split."""
    train, test, val = _stratified(y, [0.15, 0.15], order=[0, 2, 1])
    if not len(train):
        raise DatasetError(f"{raw.name}: too few images to split into train / validation / test")
    return Dataset(raw.name, raw.labels, x[train], y[train], x[val], y[val], x[test], y[test],
                   raw.invert, False, raw.mirror)


def read_idx(path: Path) -> np.ndarray:
    """Reads an IDX file (raw or gzip) of unsigned bytes; errors are this package's."""
    try:
        return idx.read_idx(path)
    except EdgeDatasetError as exc:
        raise DatasetError(str(exc)) from None


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
