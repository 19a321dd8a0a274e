"""Live cameras: OpenCV VideoCapture (device, file, RTSP) and picamera2, each only when installed."""

from __future__ import annotations

import importlib.util

import numpy as np

from edge_service.errors import EdgeError
from edge_service.sources.base import FrameSource, SourceError


def require_module(module: str, hint: str) -> None:
    """A missing library is a configuration error, not a camera to retry forever."""
    if importlib.util.find_spec(module) is None:
        raise EdgeError(f"{module} is not installed ({hint})")


class OpenCVSource(FrameSource):
    live = True

    def __init__(self, target: str | int, loop: bool = False) -> None:
        require_module("cv2", "pip install opencv-python-headless")
        self.target, self.loop = target, loop
        self.name = f"opencv:{target}"
        self.capture = None
        # A device or a stream is live (drop frames, retry); a video file is read like a file.
        self.live = isinstance(target, int) or str(target).startswith(("rtsp:", "http:", "https:"))

    def open(self) -> None:
        import cv2
        self.capture = cv2.VideoCapture(self.target)
        if not self.capture.isOpened():
            raise SourceError(f"cannot open {self.target}")

    def read(self) -> tuple[np.ndarray, str] | None:
        import cv2
        ok, bgr = self.capture.read()
        if not ok:
            if not self.live and not self.loop:
                return None
            if not self.live:
                self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, bgr = self.capture.read()
            if not ok:
                raise SourceError(f"{self.target}: no frame (camera gone or stream stalled)")
        return bgr[:, :, ::-1].copy(), str(self.target)

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None


class PiCameraSource(FrameSource):
    name = "picamera"
    live = True

    def __init__(self, width: int = 640, height: int = 480) -> None:
        require_module("picamera2", "apt install python3-picamera2")
        self.size = (width, height)
        self.camera = None

    def open(self) -> None:
        from picamera2 import Picamera2
        try:
            self.camera = Picamera2()
            self.camera.configure(self.camera.create_still_configuration(main={"size": self.size, "format": "RGB888"}))
            self.camera.start()
        except Exception as exc:  # the library raises many kinds for a missing camera
            raise SourceError(f"picamera: {exc}") from None

    def read(self) -> tuple[np.ndarray, str] | None:
        try:
            return self.camera.capture_array(), "picamera"
        except Exception as exc:
            raise SourceError(f"picamera: {exc}") from None

    def close(self) -> None:
        if self.camera is not None:
            try:
                self.camera.stop()
                self.camera.close()
            finally:
                self.camera = None
