"""Seed 000's layers at the frame's own resolution: conversion.tflite run on the whole frame.

The conversion layer is a stride-1 SAME Conv2D, so it runs at any size: the numpy kernels
take any input H x W, LiteRT resizes its input, and TFLite Micro (fixed shapes) runs
tiles that overlap by the filter's halo, which gives the same values as the whole image.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from edge_service.errors import FrameError, ModelError
from edge_service.manifest import ModelArtefact, read_checked
from edge_service.preprocess import Preprocessor
from edge_service.results import FullResolution

DEFAULT_MAX_PIXELS = 2_000_000
BACKENDS = ("numpy", "litert", "litert-ref", "tflm")
# The package each backend needs beyond numpy, and how to install it.
_PACKAGES = {"litert": ("ai_edge_litert", "ai-edge-litert"), "litert-ref": ("ai_edge_litert", "ai-edge-litert"),
             "tflm": ("tflite_micro", "tflite-micro")}


def conversion_model(artefact: ModelArtefact) -> tuple[bytes, dict]:
    """conversion.tflite's bytes (hash checked) and its manifest entry."""
    entry = artefact.manifest.conversion_model
    what = "conversion.tflite (a model trained before full-resolution layers; retrain it with `unseen train`)"
    return read_checked(artefact.folder, entry, what), entry


def fit_max_pixels(height: int, width: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(H, W) kept, or scaled down with its aspect ratio to at most `max_pixels`."""
    if max_pixels < 1:
        raise FrameError(f"max pixels must be positive, got {max_pixels}")
    if height * width <= max_pixels:
        return height, width
    factor = math.sqrt(max_pixels / (height * width))
    return max(1, int(height * factor)), max(1, int(width * factor))


def run_in_tiles(run_tile, x: np.ndarray, tile: tuple[int, int], halo: int, fill: int) -> np.ndarray:
    """A SAME, stride-1 k x k op (halo = k // 2) on x (H, W, C) through `run_tile` (tile H x W x C -> same x K).

    The image is padded with `fill` (the input's zero point: what SAME padding adds) and cut
    into tiles that overlap by 2 * halo; each tile keeps only the outputs its halo covers.
    """
    th, tw = tile
    step_h, step_w = th - 2 * halo, tw - 2 * halo
    if step_h < 1 or step_w < 1:
        raise ModelError(f"a {th}x{tw} tile leaves nothing inside a halo of {halo}")
    h, w, c = x.shape
    rows, cols = math.ceil(h / step_h), math.ceil(w / step_w)
    padded = np.full((rows * step_h + 2 * halo, cols * step_w + 2 * halo, c), fill, x.dtype)
    padded[halo:halo + h, halo:halo + w] = x
    out = None
    for r in range(rows):
        for q in range(cols):
            y0, x0 = r * step_h, q * step_w
            result = run_tile(padded[y0:y0 + th, x0:x0 + tw])
            if out is None:
                out = np.empty((rows * step_h, cols * step_w, result.shape[-1]), result.dtype)
            out[y0:y0 + step_h, x0:x0 + step_w] = result[halo:halo + step_h, halo:halo + step_w]
    return out[:h, :w]


class ConversionLayers:
    """Runs an artefact's conversion.tflite on whole frames with one backend; interpreters kept per size."""

    def __init__(self, artefact: ModelArtefact, backend: str = "numpy",
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r} for the conversion layers; choose from {', '.join(BACKENDS)}")
        if backend in _PACKAGES:
            import importlib.util
            module, package = _PACKAGES[backend]
            if importlib.util.find_spec(module) is None:
                from edge_service.backends.base import BackendUnavailable
                raise BackendUnavailable(f"the {backend} backend needs {package} (pip install {package})")
        self.data, self.entry = conversion_model(artefact)
        self.names = list((artefact.manifest.conversion or {}).get("layer_names") or []) \
            or [str(k) for k in range(self.channels)]
        self.backend, self.max_pixels = backend, max_pixels
        self.gray = int(self.entry["channels"]) == 1
        self.input_zero_point = int(self.entry["input"]["zero_point"])
        # The classifier's own pixel table (mean, scale, invert, colour order): the conversion
        # model is its first op cut out, so it shares the input's quantization.
        self.preprocessor = Preprocessor(artefact.manifest)
        wanted = (float(self.entry["input"]["scale"]), self.input_zero_point)
        if not np.isclose(wanted[0], self.preprocessor.input_scale) or wanted[1] != self.preprocessor.input_zero_point:
            raise ModelError(f"conversion.tflite's input quantization {wanted} differs from the model's "
                             f"({self.preprocessor.input_scale}, {self.preprocessor.input_zero_point})")
        self._runners: dict[tuple[int, int], object] = {}

    def quantized_input(self, image: np.ndarray) -> np.ndarray:
        """The frame as the conversion model's int8 input (H, W, C), scaled down to max_pixels first."""
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
            raise FrameError(f"a frame must be uint8 (H, W) or (H, W, C), got {image.dtype} {list(image.shape)}")
        pil = Image.fromarray(image if image.ndim == 2 or image.shape[2] != 1 else image[:, :, 0])
        pil = pil.convert("L" if self.gray else "RGB")
        h, w = fit_max_pixels(pil.height, pil.width, self.max_pixels)
        if (h, w) != (pil.height, pil.width):
            pil = pil.resize((w, h), Image.BILINEAR)
        pixels = np.asarray(pil)
        return self.preprocessor.lookup(pixels if pixels.ndim == 3 else pixels[:, :, None])

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """int8 layers (H, W, K) of a uint8 frame at its own resolution (capped by max_pixels)."""
        return self.run_quantized(self.quantized_input(image))

    @property
    def channels(self) -> int:
        return int(self.entry["layers"])

    def result(self, image: np.ndarray) -> FullResolution:
        """A frame's layers with their quantization and names, as a FrameResult carries them."""
        out = self.entry["output"]
        return FullResolution(self(image), float(out["scale"]), int(out["zero_point"]), self.names)

    def run_quantized(self, x: np.ndarray) -> np.ndarray:
        if self.backend == "tflm":
            tile = tuple(self.entry["tile"])
            return run_in_tiles(self._runner(tile), x, tile, int(self.entry["halo"]), self.input_zero_point)
        return self._runner(x.shape[:2])(x)

    def dequantize(self, layers: np.ndarray) -> np.ndarray:
        """Real values of the int8 layers."""
        out = self.entry["output"]
        return (layers.astype(np.float32) - out["zero_point"]) * np.float32(out["scale"])

    def _runner(self, size: tuple[int, int]):
        if size not in self._runners:
            if len(self._runners) > 4:  # a source whose size keeps changing must not grow this forever
                self._runners.clear()
            self._runners[size] = _make_runner(self.data, self.backend, size)
        return self._runners[size]


def _make_runner(data: bytes, backend: str, size: tuple[int, int]):
    """A function (H, W, C) int8 -> (H, W, K) int8 for one backend at one input size."""
    if backend == "numpy":
        from edge_service.numpy_interpreter import NumpyInterpreter
        interpreter = NumpyInterpreter(data, input_size=size)
        name = interpreter.names[interpreter.graph.outputs[0]]
        return lambda x: interpreter.run(x[None])[name][0]
    if backend == "tflm":
        from edge_service.oracles import tflm_interpreter
        interpreter = tflm_interpreter(data)

        def run_tile(x):
            interpreter.set_input(np.ascontiguousarray(x[None]), 0)
            interpreter.invoke()
            return interpreter.get_output(0)[0]
        return run_tile
    from edge_service.oracles import litert_interpreter
    interpreter = litert_interpreter(data, reference=backend == "litert-ref")
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], [1, *size, inp["shape"][3]])
    interpreter.allocate_tensors()
    out = interpreter.get_output_details()[0]["index"]

    def run(x):
        interpreter.set_tensor(inp["index"], x[None])
        interpreter.invoke()
        return interpreter.get_tensor(out)[0]
    return run


def conversion_layers(image_uint8: np.ndarray, artefact: ModelArtefact, backend: str = "numpy",
                      max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """int8 conversion layers (H, W, K) of one frame; keep a ConversionLayers for a stream of frames."""
    return ConversionLayers(artefact, backend, max_pixels)(image_uint8)
