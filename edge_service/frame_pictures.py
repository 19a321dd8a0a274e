"""The pictures one processed frame gives, by name: each layer's grid, and at the frame's own
resolution each conversion layer with its colour bar and a false-colour composite of three."""

from __future__ import annotations

from PIL import Image

from edge_service.pictures import layer_picture
from edge_service.unit_pictures import false_colour, layer_with_colour_bar
from edge_service.results import FrameResult

FULL = "conversion/"          # conversion/<k> and conversion/composite: the full-resolution layers
COMPOSITE = FULL + "composite"


def picture_names(result: FrameResult) -> list[str]:
    names = list(result.outputs)
    if result.fullres is not None:
        names += [f"{FULL}{k}" for k in range(result.fullres.layers.shape[-1])] + [COMPOSITE]
    return names


def draw(result: FrameResult, name: str, labels: list[str] | None = None,
         composite: tuple[int, int, int] = (0, 1, 2)) -> Image.Image:
    """The picture `name` of `result`; KeyError for a name it does not have."""
    if not name.startswith(FULL) or name in result.outputs:
        return layer_picture(name, result.values[name], labels)
    if result.fullres is None:
        raise KeyError(name)
    real = result.fullres.real()
    if name == COMPOSITE:
        if real.shape[-1] < 3:
            raise KeyError(name)
        return false_colour(real, composite)
    k = int(name[len(FULL):])
    title = f"{result.fullres.names[k]} at {real.shape[1]}x{real.shape[0]} (1st-99th percentile)"
    return layer_with_colour_bar(real[:, :, k], title)
