"""Turns a camera frame into the model's int8 input, as the manifest says."""

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


class Preprocessor:
    """fit (letterbox | crop | stretch) -> resize -> grey or RGB -> scale -> invert -> int8."""

    def __init__(self, manifest: Manifest) -> None:
        p = manifest.preprocessing
        self.height, self.width = (int(v) for v in p["size"])
        self.gray = p.get("color", "rgb") == "gray"
        self.fit = p.get("fit", "letterbox")
        if self.fit not in FITS:
            raise ModelError(f"manifest: preprocessing fit {self.fit!r} is not one of {', '.join(FITS)}")
        self.scale = float(p.get("scale", 1 / 255))
        self.invert = bool(p.get("invert", False))
        self.input_scale = float(manifest.input["scale"])
        self.input_zero_point = int(manifest.input["zero_point"])
        self.shape = tuple(manifest.input["shape"])
        self.table = self._pixel_table()

    def _pixel_table(self) -> np.ndarray:
        """int8 input for each uint8 pixel value: the float path below applied once to 0..255.

        Every step after the resize is a function of one pixel, so a table is exact and a frame
        costs one lookup instead of four float passes.
        """
        values = np.arange(256, dtype=np.float32) * np.float32(self.scale)
        if self.invert:
            values = np.float32(1.0) - values
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
        return self.table[np.asarray(self.image(rgb))].reshape(self.shape)
