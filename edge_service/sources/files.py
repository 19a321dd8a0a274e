"""Still images: one file, a folder, a glob, or the frames bundled with the package."""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

from edge_service.errors import FrameError
from edge_service.images import read_image
from edge_service.sources.base import FrameSource, SourceError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


class ImageFilesSource(FrameSource):
    """Reads a list of image files in order, optionally looping forever."""

    def __init__(self, pattern: str, loop: bool = False, name: str | None = None) -> None:
        self.pattern, self.loop = pattern, loop
        self.name = name or f"files:{pattern}"
        self.files: list[Path] = []
        self.position = 0

    def open(self) -> None:
        path = Path(self.pattern)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files = [path]
        else:
            files = sorted(Path(p) for p in glob.glob(self.pattern) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(f"{self.pattern}: no images found")
        self.files, self.position = files, 0

    def read(self) -> tuple[np.ndarray, str] | None:
        if self.position >= len(self.files):
            if not self.loop:
                return None
            self.position = 0
        path = self.files[self.position]
        self.position += 1
        if not path.exists():
            raise FrameError(f"{path}: the file vanished")
        return read_image(path, "RGB"), path.name  # FrameError on a bad file: counted and skipped


def samples_source(loop: bool = False) -> ImageFilesSource:
    return ImageFilesSource(str(SAMPLES_DIR), loop, name="samples")
