"""Seed 003's figure from the device: a test image, then one channel of every convolution and pooling layer.

The int8 model runs through the numpy kernels, as on a device; each map is dequantized to
real units. The float model (model_float.tflite, run by LiteRT) adds its maps beside.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from edge_service.backends.numpy_backend import NumpyBackend
from edge_service.errors import EdgeError
from edge_service.manifest import ModelArtefact, read_checked
from edge_service.unit_pictures import layer_with_colour_bar
from edge_service.preprocess import Preprocessor

SPATIAL_KINDS = ("Conv2D", "MaxPooling2D", "DepthwiseConv2D", "AveragePooling2D")
PANEL = 112  # pixels across each map: small maps are enlarged by whole pixels
BG, FG = (24, 24, 24), (230, 230, 230)


def spatial_layers(artefact: ModelArtefact) -> list:
    """The manifest's convolution and pooling layers, in order."""
    return [layer for layer in artefact.manifest.layers if layer.kind in SPATIAL_KINDS]


def int8_maps(artefact: ModelArtefact, image: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the int8 model input, {layer: real-valued (H, W, C) map}) for one grey uint8 image."""
    backend = NumpyBackend(artefact)  # checks the manifest against the model first
    rgb = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
    x = Preprocessor(artefact.manifest)(rgb)
    outputs = backend.infer(x).outputs
    maps = {}
    for layer in spatial_layers(artefact):
        q = outputs[layer.name][0]
        maps[layer.name] = (q.astype(np.float32) - layer.zero_point) * np.float32(layer.scale)
    return x, maps


def float_maps(artefact: ModelArtefact, x_int8: np.ndarray) -> dict[str, np.ndarray]:
    """The float model's maps for the same input (its real values), through LiteRT."""
    data = read_checked(artefact.folder, artefact.manifest.float_model,
                        "model_float.tflite (a float model beside the int8 one; `unseen train` writes it)")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise EdgeError("the float comparison needs LiteRT: pip install ai-edge-litert") from None
    inp = artefact.manifest.input
    real = (x_int8.astype(np.float32) - inp["zero_point"]) * np.float32(inp["scale"])
    interpreter = Interpreter(model_content=data)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], real)
    interpreter.invoke()
    by_name = {d["name"]: d["index"] for d in interpreter.get_output_details()}
    return {layer.name: interpreter.get_tensor(by_name[layer.name])[0] for layer in spatial_layers(artefact)}


def activation_figure(artefact: ModelArtefact, images: list[np.ndarray], channel: int, title: str,
                      compare_float: bool = False, cmap: str = "inferno") -> Image.Image:
    """Rows: each image and `channel` of every convolution / pooling layer (int8, then float if asked).

    One colour scale per layer column (shared by the rows, int8 and float), in real units.
    """
    layers = spatial_layers(artefact)
    if not layers:
        raise EdgeError(f"{artefact.manifest.name} has no convolution or pooling layers to show")
    narrow = [f"{l.name} ({l.shape[-1]})" for l in layers if channel >= l.shape[-1]]
    if narrow:
        raise EdgeError(f"channel {channel} is beyond the channels of {', '.join(narrow)}")
    rows = []
    for image in images:
        x, maps = int8_maps(artefact, image)
        rows.append(("int8", image, {k: v[:, :, channel] for k, v in maps.items()}))
        if compare_float:
            rows.append(("float", image, {k: v[:, :, channel] for k, v in float_maps(artefact, x).items()}))
    bounds = {l.name: (min(float(r[2][l.name].min()) for r in rows), max(float(r[2][l.name].max()) for r in rows))
              for l in layers}
    panels = [[_image_panel(image, kind)] +
              [layer_with_colour_bar(maps[l.name], f"{l.name} {l.shape[1]}x{l.shape[2]}", cmap,
                                     max(1, PANEL // max(l.shape[1:3])), bounds[l.name]) for l in layers]
              for kind, image, maps in rows]
    widths = [max(row[c].width for row in panels) for c in range(len(panels[0]))]
    height = max(p.height for row in panels for p in row)
    top, pad = 22, 8
    sheet = Image.new("RGB", (sum(widths) + pad * (len(widths) + 1), top + len(panels) * (height + pad) + pad), BG)
    ImageDraw.Draw(sheet).text((pad, 5), title, fill=FG)
    for r, row in enumerate(panels):
        x = pad
        for c, panel in enumerate(row):
            sheet.paste(panel, (x, top + r * (height + pad)))
            x += widths[c] + pad
    return sheet


def _image_panel(image: np.ndarray, kind: str) -> Image.Image:
    zoom = max(1, PANEL // max(image.shape[:2]))
    picture = Image.fromarray(image).convert("RGB")
    picture = picture.resize((picture.width * zoom, picture.height * zoom), Image.NEAREST)
    sheet = Image.new("RGB", (picture.width, picture.height + 16), BG)
    ImageDraw.Draw(sheet).text((2, 1), f"image ({kind})", fill=FG)
    sheet.paste(picture, (0, 16))
    return sheet
