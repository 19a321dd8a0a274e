"""Frame sources behind one small interface; `open_source` turns a spec string into one.

Specs: `samples` (bundled frames), `synthetic`, a still image, a folder or glob of images,
`camera:N` / a video file / `rtsp://...` (OpenCV, when installed), `picamera` (picamera2).
"""

from edge_service.sources.base import Frame, FrameSource, SourceError
from edge_service.sources.open import open_source

__all__ = ["Frame", "FrameSource", "SourceError", "open_source"]
