"""Turns a camera frame into the model's input, as the manifest says."""

from __future__ import annotations

import numpy as np
from PIL import Image

from edge_service.errors import ModelError
from edge_service.manifest import Manifest

FITS = ("letterbox", "crop", "stretch")
# Shrinking by a large factor, Pillow first box-averages by a whole factor until the frame is at
# most twice the target, then resamples bilinearly: three times quicker on a 256x256 frame
# shrunk to 28x28, and no less antialiased (every source pixel still counts).
REDUCING_GAP = 2.0


def quantize_input(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32 model-input values to the input's int8, as the device does it (training evaluates the same way)."""
    q = np.round(np.asarray(values, np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def _per_channel(value, name: str) -> np.ndarray:
    """A number, or one number per channel, as float32."""
    try:
        return np.asarray(value, np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise ModelError(f"manifest: preprocessing {name} {value!r} is not a number or a list of numbers") from None


class Preprocessor:
    """fit (letterbox | crop | stretch) -> resize -> grey, RGB or BGR -> (pixel - mean) * scale -> invert
    -> the input's type (int8 or uint8 quantized, or float32)."""

    def __init__(self, manifest: Manifest) -> None:
        p = manifest.preprocessing
        self.height, self.width = (int(v) for v in p["size"])
        self.gray = p.get("color", "rgb") == "gray"
        self.bgr = p.get("color", "rgb") == "bgr"
        self.fit = p.get("fit", "letterbox")
        if self.fit not in FITS:
            raise ModelError(f"manifest: preprocessing fit {self.fit!r} is not one of {', '.join(FITS)}")
        self.scale = _per_channel(p.get("scale", 1 / 255), "scale")
        self.mean = _per_channel(p.get("mean", 0.0), "mean")
        self.invert = bool(p.get("invert", False))
        self.input_scale = float(manifest.input["scale"])
        self.input_zero_point = int(manifest.input["zero_point"])
        self.shape = tuple(manifest.input["shape"])
        self.dtype = np.dtype(manifest.input.get("dtype", "int8"))
        if self.dtype not in (np.int8, np.uint8, np.float32):
            raise ModelError(f"manifest: input type {self.dtype} is not int8, uint8 or float32")
        self.table = self.convert(np.arange(256, dtype=np.float32)[:, None])
        self.inverse = self._inverse_table()

    def convert(self, pixels: np.ndarray) -> np.ndarray:
        """The model's input values for float32 pixels (channels last, already in the model's order)."""
        values = (pixels - self.mean) * self.scale
        if self.invert:
            values = np.float32(1.0) - values
        if self.dtype == np.float32:
            return values.astype(np.float32)
        if self.dtype == np.uint8:
            q = np.round(values / np.float32(self.input_scale)) + self.input_zero_point
            return np.clip(q, 0, 255).astype(np.uint8)
        return quantize_input(values, self.input_scale, self.input_zero_point)

    def image(self, rgb: np.ndarray) -> Image.Image:
        """The resized picture the model sees, before scaling (for galleries).

        The frame is resized once, straight to the part of the model's input it fills: a crop is
        the resize's source box, a letterbox pastes the small result on a black input-sized canvas
        rather than padding the whole frame."""
        img = Image.fromarray(rgb).convert("L" if self.gray else "RGB")
        w, h = img.size
        size, box, offset = (self.width, self.height), None, None
        target = self.width / self.height
        if self.fit == "crop":
            if w / h > target:
                new_w = round(h * target)
                box = ((w - new_w) // 2, 0, (w - new_w) // 2 + new_w, h)
            else:
                new_h = round(w / target)
                box = (0, (h - new_h) // 2, w, (h - new_h) // 2 + new_h)
        elif self.fit == "letterbox" and w * self.height != h * self.width:
            if w / h > target:
                size = (self.width, max(1, round(self.width * h / w)))
            else:
                size = (max(1, round(self.height * w / h)), self.height)
            offset = ((self.width - size[0]) // 2, (self.height - size[1]) // 2)
        resized = img.resize(size, Image.BILINEAR, box=box, reducing_gap=REDUCING_GAP)
        if offset is None:
            return resized
        canvas = Image.new(img.mode, (self.width, self.height), 0)
        canvas.paste(resized, offset)
        return canvas

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """One table lookup per value: every step after the resize is a function of one pixel of
        one channel, so `table` (convert() of 0..255, per channel) is exact."""
        return self.lookup(np.asarray(self.image(rgb))).reshape(self.shape)

    def lookup(self, pixels: np.ndarray) -> np.ndarray:
        """The model's input values (H, W, C) of uint8 pixels, (H, W) grey or (H, W, C) RGB, by the table."""
        if self.bgr:
            pixels = pixels[..., ::-1]
        channels = self.table.shape[1]
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        return self.table[pixels, 0] if channels == 1 else self.table[pixels, np.arange(channels)]

    def _unconvert(self, x: np.ndarray) -> np.ndarray:
        """Pixels (uint8, the model's channel order) that give the model-input values x: convert() undone."""
        values = np.asarray(x, np.float32)
        if self.dtype != np.float32:
            values = (values - self.input_zero_point) * np.float32(self.input_scale)
        if self.invert:
            values = np.float32(1.0) - values
        return np.clip(np.round(values / self.scale + self.mean), 0, 255).astype(np.uint8)

    def _inverse_table(self) -> np.ndarray | None:
        """_unconvert of every int8 or uint8 value, per channel; None for a float input."""
        if self.dtype == np.float32:
            return None
        info = np.iinfo(self.dtype)
        return self._unconvert(np.arange(info.min, info.max + 1, dtype=np.float32)[:, None])

    def picture(self, x: np.ndarray) -> np.ndarray:
        """What the model saw, as uint8 pixels (H, W) or (H, W, 3) RGB: the mapping above undone."""
        q = x[0]
        if self.inverse is None:
            pixels = self._unconvert(q)
        else:  # one lookup per value: the inverse is a function of one value of one channel
            index = q.astype(np.intp) - np.iinfo(self.dtype).min
            channels = self.inverse.shape[1]
            pixels = self.inverse[index, 0] if channels == 1 else self.inverse[index, np.arange(channels)]
        if self.bgr:
            pixels = pixels[..., ::-1]
        return pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels
