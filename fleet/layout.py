"""Where each channel sits in a layer PNG a device published (edge_service.pictures.feature_grid).

The fleet page gets pictures, not arrays, so a click on a channel is found from the
layer's shape and the grid's fixed geometry; tests check this against feature_grid itself.
"""

from __future__ import annotations

import io

from PIL import Image

from edge_service.pictures import LABEL_HEIGHT, grid_shape, upscale_for

PAD = 4  # feature_grid's gap between cells


def published_layout(shape: list[int] | None) -> dict:
    """The layout of `gallery.layer_picture`'s grid for a layer of this shape (batch removed)."""
    if not shape or len(shape) < 3:
        return {"kind": "whole", "count": 1}  # a vector is a bar chart: the whole picture is the view
    h, w, count = shape[-3], shape[-2], shape[-1]
    zoom = upscale_for((h, w))
    rows, cols = grid_shape(count)
    cell_w, cell_h = w * zoom, h * zoom + LABEL_HEIGHT
    top = LABEL_HEIGHT + 4  # the title line
    return {"kind": "grid", "count": count, "rows": rows, "cols": cols, "x0": PAD, "y0": top + PAD + LABEL_HEIGHT,
            "cell_w": w * zoom, "cell_h": h * zoom, "step_x": cell_w + PAD, "step_y": cell_h + PAD}


def crop_channel(png: bytes, layout: dict, channel: int) -> bytes:
    """One channel's cell of a published grid (or the whole picture), as PNG."""
    picture = Image.open(io.BytesIO(png))
    if layout.get("kind") == "grid":
        channel = min(max(channel, 0), layout["count"] - 1)
        r, c = divmod(channel, layout["cols"])
        x, y = layout["x0"] + c * layout["step_x"], layout["y0"] + r * layout["step_y"]
        picture = picture.crop((x, y, x + layout["cell_w"], y + layout["cell_h"]))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
