"""Reads still images safely: a corrupt, truncated, empty or enormous file is a FrameError."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # a decompression bomb declares far more than any camera frame


def load_image(path: Path | str, mode: str = "RGB") -> np.ndarray:
    """(H, W, C) float32 in [0, 1]; mode 'RGB' or 'L'."""
    return read_image(path, mode).astype(np.float32) / 255.0


def read_image(path: Path | str, mode: str = "RGB") -> np.ndarray:
    """(H, W, C) uint8 as stored; mode 'RGB' or 'L'."""
    from edge_service.errors import FrameError
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise FrameError(f"{path}: empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise FrameError(f"{path}: {im.width}x{im.height} is too large "
                                     f"(limit {MAX_PIXELS} pixels)")
                im.load()
                arr = np.asarray(im.convert(mode), dtype=np.uint8)
    except FrameError:
        raise
    except FileNotFoundError:
        raise FrameError(f"{path}: no such file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise FrameError(f"{path}: not a readable image ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise FrameError(f"{path}: corrupt or truncated image ({exc})") from None
    return arr if arr.ndim == 3 else arr[:, :, None]
