"""Turns a source spec string into a FrameSource."""

from __future__ import annotations

from pathlib import Path

from edge_service.errors import EdgeError
from edge_service.sources.base import FrameSource
from edge_service.sources.cameras import OpenCVSource, PiCameraSource
from edge_service.sources.files import IMAGE_SUFFIXES, ImageFilesSource, samples_source
from edge_service.sources.synthetic import SyntheticSource

VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".mjpeg"}


def open_source(spec: str, loop: bool = False) -> FrameSource:
    """samples | synthetic | picamera | camera:N | rtsp://... | video file | image | folder | glob."""
    if spec == "samples":
        return samples_source(loop)
    if spec == "synthetic":
        return SyntheticSource()
    if spec == "picamera":
        return PiCameraSource()
    if spec.startswith("camera:"):
        index = spec.split(":", 1)[1]
        # OpenCV crashes the process on some negative indices: only a plain number reaches it.
        if not index.isdigit() or int(index) > 63:
            raise EdgeError(f"source {spec!r}: expected camera:<index> with an index from 0 to 63, e.g. camera:0")
        return OpenCVSource(int(index))
    if spec.startswith(("rtsp://", "http://", "https://")):
        return OpenCVSource(spec)
    path = Path(spec)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return OpenCVSource(spec, loop)
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES or any(c in spec for c in "*?["):
        return ImageFilesSource(spec, loop)
    raise EdgeError(f"source {spec!r}: not samples, synthetic, picamera, camera:N, a stream URL, "
                    f"a video, an image, a folder or a glob")
