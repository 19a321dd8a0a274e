"""Frame sources: bad frames are counted and skipped; a vanishing source is retried, never fatal."""

from __future__ import annotations

import importlib.util
import struct
import threading
import zlib

import numpy as np
import pytest
from PIL import Image

from edge_service.errors import EdgeError
from edge_service.sources import open_source
from edge_service.sources.base import FrameSource, SourceError
from edge_service.sources.files import ImageFilesSource
from edge_service.sources.reader import FrameReader
from edge_service.sources.synthetic import SyntheticSource


def _good(path, value=100):
    Image.fromarray(np.full((20, 30, 3), value, np.uint8)).save(path)


def png_header_only(width: int, height: int) -> bytes:
    """A decompression bomb: a few bytes that declare width x height pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def test_bad_frames_are_counted_and_skipped(tmp_path):
    _good(tmp_path / "a_good.png")
    (tmp_path / "b_empty.png").write_bytes(b"")
    _good(tmp_path / "c_cut.jpg")
    data = (tmp_path / "c_cut.jpg").read_bytes()
    (tmp_path / "c_cut.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "d_garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    (tmp_path / "e_bomb.png").write_bytes(png_header_only(100_000, 100_000))
    _good(tmp_path / "f_good.png", 200)
    reader = FrameReader(ImageFilesSource(str(tmp_path)))
    frames = list(reader)
    assert [f.label for f in frames] == ["a_good.png", "f_good.png"]
    assert [f.seq for f in frames] == [1, 2]
    assert reader.counters.bad_frames == 4
    assert frames[1].image.shape == (20, 30, 3) and frames[1].image.dtype == np.uint8


def test_a_file_that_vanishes_mid_stream_is_a_skipped_frame(tmp_path):
    for i in range(3):
        _good(tmp_path / f"{i}.png")
    source = ImageFilesSource(str(tmp_path))
    reader = FrameReader(source, backoff_initial=0.01, backoff_max=0.02)
    frames = []
    for frame in reader:
        frames.append(frame)
        if len(frames) == 1:
            (tmp_path / "1.png").unlink()
    assert reader.counters.bad_frames == 1 and reader.counters.source_errors == 0
    assert [f.label for f in frames] == ["0.png", "2.png"] and "vanished" in reader.counters.last_error


@pytest.mark.parametrize("spec", ["missing.png", "empty_folder", "*.nomatch.png"])
def test_a_file_source_that_cannot_be_opened_raises_at_once_instead_of_retrying(tmp_path, spec):
    (tmp_path / "empty_folder").mkdir()
    reader = FrameReader(open_source(str(tmp_path / spec)), backoff_initial=60)
    with pytest.raises(SourceError, match="no images found"):
        list(reader)


class FlakyCamera(FrameSource):
    """A camera that is unplugged twice and then comes back (a fault a real camera gives)."""

    name = "flaky"
    live = True

    def __init__(self) -> None:
        self.opens = 0
        self.reads = 0

    def open(self) -> None:
        self.opens += 1
        if self.opens in (2, 3):
            raise SourceError("camera not found")

    def read(self):
        self.reads += 1
        if self.reads == 3:
            raise SourceError("camera unplugged")
        if self.reads > 6:
            return None
        return np.zeros((8, 8, 3), np.uint8), "cam"


def test_a_camera_that_disappears_is_retried_with_backoff():
    reader = FrameReader(FlakyCamera(), backoff_initial=0.01, backoff_max=0.05)
    frames = list(reader)
    assert len(frames) == 5
    assert reader.counters.source_errors == 3 and reader.counters.reconnects == 3
    assert "camera" in reader.counters.last_error


def test_a_source_that_never_comes_back_gives_up_when_told():
    class Dead(FrameSource):
        name = "dead"
        live = True

        def open(self):
            raise SourceError("no such device")

    reader = FrameReader(Dead(), backoff_initial=0.01, max_retries=3)
    assert list(reader) == [] and reader.counters.source_errors == 4
    assert "failed 4 times in a row" in reader.gave_up


def test_stop_interrupts_a_backoff_wait():
    class Dead(FrameSource):
        live = True

        def open(self):
            raise SourceError("gone")

    stop = threading.Event()
    reader = FrameReader(Dead(), stop=stop, backoff_initial=60)
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    assert list(reader) == []
    timer.cancel()


def test_synthetic_pattern_is_live_and_moves():
    source = SyntheticSource(64, 48, fps=1000, frames=3)
    frames = list(FrameReader(source))
    assert source.live and len(frames) == 3
    assert frames[0].image.shape == (48, 64, 3)
    assert not np.array_equal(frames[0].image, frames[2].image)


def test_source_specs():
    assert open_source("samples").name == "samples"
    assert open_source("synthetic").live
    with pytest.raises(EdgeError, match="camera:<index>"):
        open_source("camera:front")
    with pytest.raises(EdgeError, match="not samples"):
        open_source("nonsense")


def test_a_missing_camera_library_is_one_clear_error_at_start(monkeypatch):
    from edge_service.sources import cameras
    real = importlib.util.find_spec
    # As on a device without OpenCV (picamera2 is missing here for real).
    monkeypatch.setattr(cameras.importlib.util, "find_spec", lambda name: None if name == "cv2" else real(name))
    with pytest.raises(EdgeError, match="cv2 is not installed"):
        open_source("camera:0")
    with pytest.raises(EdgeError, match="picamera2 is not installed"):
        open_source("picamera")


def _write_clip(path, frames: int) -> None:
    cv2 = pytest.importorskip("cv2")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), (i * 30, 0, 255 - i * 30), np.uint8))  # BGR
    writer.release()


def test_a_video_file_through_opencv(tmp_path):
    _write_clip(tmp_path / "clip.avi", 7)
    frames = list(FrameReader(open_source(str(tmp_path / "clip.avi"))))
    assert len(frames) == 7 and frames[0].image.shape == (48, 64, 3)
    assert frames[0].image[0, 0, 0] > 200 and frames[0].image[0, 0, 2] < 50  # converted to RGB


def test_a_looping_video_starts_again(tmp_path):
    _write_clip(tmp_path / "clip.avi", 3)
    reader = FrameReader(open_source(str(tmp_path / "clip.avi"), loop=True))
    frames = []
    for frame in reader:
        frames.append(frame)
        if len(frames) == 8:
            reader.stop.set()
    assert len(frames) == 8 and reader.counters.source_errors == 0


def test_a_camera_that_is_not_there_is_retried_not_fatal():
    pytest.importorskip("cv2")
    reader = FrameReader(open_source("camera:63"), backoff_initial=0.01, max_retries=2)
    assert list(reader) == [] and reader.counters.source_errors == 3
    assert "cannot open 63" in reader.counters.last_error


@pytest.mark.parametrize("spec", ["camera:-1", "camera:x", "camera:9999"])
def test_a_camera_index_opencv_would_crash_on_is_refused_before_opencv_sees_it(spec):
    with pytest.raises(EdgeError, match="index from 0 to 63"):
        open_source(spec)
