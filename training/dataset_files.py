"""Datasets a user brings as files: an .npz of x and y, or a folder of class folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_service.sources.files import IMAGE_SUFFIXES
from training.errors import DatasetError


def read_npz(path: Path):
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


def read_folder(path: Path):
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
