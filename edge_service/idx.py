"""IDX datasets (MNIST, Fashion-MNIST) read without TensorFlow, with their own train / t10k split.

Debian's `dataset-fashion-mnist` package puts the four `.gz` files in
/usr/share/datasets/fashion-mnist/; the device side reads the test images from there too.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from edge_service.errors import DatasetError

FASHION_MNIST = "fashion-mnist"
FASHION_MNIST_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
FASHION_MNIST_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
INSTALL_HINT = "install it with `sudo apt-get install dataset-fashion-mnist`"
PREFIXES = ("train", "t10k")


def read_idx(path: Path) -> np.ndarray:
    """Reads an IDX file (raw or gzip) of unsigned bytes."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read IDX file: {exc}") from None
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


def idx_pairs(folder: Path) -> dict[str, tuple[Path, Path]]:
    """{'train': (images, labels), 't10k': ...} for the pairs present in `folder`."""
    names = sorted(p for p in Path(folder).iterdir() if p.is_file())
    pairs = {}
    for prefix in PREFIXES:
        imgs = [p for p in names if p.name.startswith(prefix) and "idx3" in p.name]
        labs = [p for p in names if p.name.startswith(prefix) and "idx1" in p.name]
        if imgs and labs:
            pairs[prefix] = (imgs[0], labs[0])
    return pairs


def read_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, H, W) and int64 labels (N,) of one IDX pair, checked to match."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1:
        raise DatasetError(f"{images}: expected (N, H, W) images and (N,) labels, got {x.shape} and {y.shape}")
    if len(x) != len(y):
        raise DatasetError(f"{images} has {len(x)} images but {labels} has {len(y)} labels")
    return x, y.astype(np.int64)


def find_fashion_mnist(data_dir: Path | str | None = None) -> Path:
    """The folder holding Fashion-MNIST's four IDX files: `data_dir`, or where Debian puts them."""
    candidates = [Path(data_dir)] if data_dir else list(FASHION_MNIST_DIRS)
    for folder in candidates:
        if folder.is_dir() and set(idx_pairs(folder)) == set(PREFIXES):
            return folder
    where = " or ".join(str(c) for c in candidates)
    raise DatasetError(f"Fashion-MNIST is not in {where}: {INSTALL_HINT}, "
                       f"or give the folder holding its four IDX files")


def fashion_mnist_test(data_dir: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 t10k test images (uint8, N x 28 x 28) and labels, in file order."""
    return read_pair(*idx_pairs(find_fashion_mnist(data_dir))["t10k"])
