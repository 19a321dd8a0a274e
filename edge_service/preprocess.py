"""Turns a camera frame into the model's input, as the manifest says."""

from __future__ import annotations

import numpy as np
from PIL import Image

from edge_service.errors import ModelError
from edge_service.manifest import Manifest

FITS = ("letterbox", "crop", "stretch")


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
        """The resized picture the model sees, before scaling (for galleries)."""
        img = Image.fromarray(rgb).convert("L" if self.gray else "RGB")
        w, h = img.size
        target = self.width / self.height
        if self.fit == "crop":
            if w / h > target:
                new_w = round(h * target)
                img = img.crop(((w - new_w) // 2, 0, (w - new_w) // 2 + new_w, h))
            else:
                new_h = round(w / target)
                img = img.crop((0, (h - new_h) // 2, w, (h - new_h) // 2 + new_h))
        elif self.fit == "letterbox":
            side_w, side_h = (w, round(w / target)) if w / h > target else (round(h * target), h)
            canvas = Image.new(img.mode, (side_w, side_h), 0)
            canvas.paste(img, ((side_w - w) // 2, (side_h - h) // 2))
            img = canvas
        return img.resize((self.width, self.height), Image.BILINEAR)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """One table lookup per value: every step after the resize is a function of one pixel of
        one channel, so `table` (convert() of 0..255, per channel) is exact."""
        pixels = np.asarray(self.image(rgb))
        if self.bgr:
            pixels = pixels[..., ::-1]
        channels = self.table.shape[1]
        values = self.table[pixels, 0] if channels == 1 else self.table[pixels, np.arange(channels)]
        return values.reshape(self.shape)

    def picture(self, x: np.ndarray) -> np.ndarray:
        """What the model saw, as uint8 pixels (H, W) or (H, W, 3) RGB: the mapping above undone."""
        values = np.asarray(x[0], np.float32)
        if self.dtype != np.float32:
            values = (values - self.input_zero_point) * np.float32(self.input_scale)
        pixels = values / self.scale + self.mean
        if self.bgr:
            pixels = pixels[..., ::-1]
        pixels = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
        return pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels
