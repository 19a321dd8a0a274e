"""Pictures for the live page, made fast: every channel of a layer at its own size in one mosaic.

The page scales them up (pixels stay pixels), so the device never draws big images. Each
channel is stretched between its 1st and 99th percentile, as in edge_service.pictures, in
one vectorised pass. A layout goes with each mosaic so a click can find its channel.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw

from edge_service.pictures import colormap_table, grid_shape, vector_chart

LEVELS = 255          # colour levels; palette index 255 is the gutter between cells
GUTTER_INDEX = 255
PALETTE = np.vstack([colormap_table("viridis")[np.linspace(0, 255, LEVELS).round().astype(int)],
                     [[24, 24, 24]]]).astype(np.uint8)
GUTTER = 1
MAX_CELL = 128        # a bigger map (a full-resolution conversion layer) is subsampled in the mosaic
MAX_FOCUS = 1024      # and in the large view
MAX_VALUES = 16384    # the large view gets the raw values (for the hover readout) up to this many


def indexed_png(indices: np.ndarray) -> bytes:
    """A palette PNG of colour indices: a tenth of the time of an RGB one, and smaller."""
    picture = Image.fromarray(np.ascontiguousarray(indices, np.uint8), "P")
    picture.putpalette(PALETTE.ravel().tolist())
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def encode(image: Image.Image | np.ndarray, fmt: str = "PNG") -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=1)  # speed over size: it goes over a LAN
    else:
        image.convert("RGB").save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def maps_of(values: np.ndarray) -> np.ndarray | None:
    """(H, W, C) for a spatial layer, None for a vector."""
    if values.ndim >= 3:
        return values.reshape(values.shape[-3:])
    if values.ndim == 2 and values.shape[0] > 1:
        return values[:, :, None]
    return None


def percentiles(flat: np.ndarray, low: float = 1, high: float = 99) -> tuple[np.ndarray, np.ndarray]:
    """np.percentile(flat, [low, high], axis=0) ('linear'), through one partition: it is hot."""
    n = flat.shape[0]
    pos = np.array([low, high]) / 100 * (n - 1)
    below = np.floor(pos).astype(int)
    above = np.minimum(below + 1, n - 1)
    part = np.partition(flat, sorted({*below.tolist(), *above.tolist()}), axis=0)
    q = part[below] + (pos - below)[:, None] * (part[above] - part[below])
    return q[0], q[1]


def stretch(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(colour indices, lo, hi): each channel scaled to 0..LEVELS-1 between its 1st and 99th percentile."""
    flat = maps.reshape(-1, maps.shape[-1]).astype(np.float32)
    lo, hi = percentiles(flat)
    same = hi <= lo
    lo = np.where(same, flat.min(axis=0), lo)
    hi = np.where(same, flat.max(axis=0), hi)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = np.clip((maps - lo) / span, 0.0, 1.0) * (LEVELS - 1)
    scaled[..., hi <= lo] = 0  # a flat map is the colormap's lowest colour
    return scaled.astype(np.uint8), lo, hi


def step_for(shape: tuple[int, ...], limit: int) -> int:
    return max(1, math.ceil(max(shape[:2]) / limit))


def layer_mosaic(values: np.ndarray, names: list[str] | None = None) -> tuple[np.ndarray, dict]:
    """Colour indices of every channel (or of a vector's units) in one grid, and the layout that places them."""
    maps = maps_of(values)
    if maps is None:  # a vector: one cell per unit, stretched over the whole vector
        flat = values.ravel().astype(np.float32)
        rows, cols = grid_shape(len(flat))
        lo, hi = (float(q[0]) for q in percentiles(flat[:, None]))
        idx = np.full(rows * cols, GUTTER_INDEX, np.uint8)
        idx[: len(flat)] = (np.clip((flat - lo) / ((hi - lo) or 1.0), 0, 1) * (LEVELS - 1)).astype(np.uint8)
        layout = {"kind": "vector", "count": len(flat), "rows": rows, "cols": cols, "x0": 0, "y0": 0,
                  "cell_w": 1, "cell_h": 1, "step_x": 1, "step_y": 1}
        return idx.reshape(rows, cols), layout
    step = step_for(maps.shape, MAX_CELL)
    scaled, _, _ = stretch(maps[::step, ::step])
    h, w, count = scaled.shape
    rows, cols = grid_shape(count)
    # one vectorised pass: cells (rows, cols, h, w) with a gutter right and below, then a frame left and above
    cells = np.full((rows * cols, h + GUTTER, w + GUTTER), GUTTER_INDEX, np.uint8)
    cells[:count, :h, :w] = np.moveaxis(scaled, -1, 0)
    grid = cells.reshape(rows, cols, h + GUTTER, w + GUTTER).transpose(0, 2, 1, 3)
    picture = np.full((rows * (h + GUTTER) + GUTTER, cols * (w + GUTTER) + GUTTER), GUTTER_INDEX, np.uint8)
    picture[GUTTER:, GUTTER:] = grid.reshape(rows * (h + GUTTER), cols * (w + GUTTER))
    layout = {"kind": "grid", "count": count, "rows": rows, "cols": cols, "x0": GUTTER, "y0": GUTTER,
              "cell_w": w, "cell_h": h, "step_x": w + GUTTER, "step_y": h + GUTTER, "subsampled": step}
    if names and len(names) == count:
        layout["names"] = names
    return picture, layout


def rgb(indices: np.ndarray) -> Image.Image:
    return Image.fromarray(PALETTE[indices], "RGB")


def channel_view(values: np.ndarray, channel: int, labels: list[str] | None = None) -> tuple[bytes, dict]:
    """The large view: one channel as PNG with its value scale, or a vector as a labelled bar chart."""
    maps = maps_of(values)
    if maps is None:
        flat = values.ravel()
        channel = min(max(channel, 0), len(flat) - 1)
        chart = vector_chart(flat, labels if labels and len(labels) == len(flat) else None)
        return encode(chart), {"kind": "chart", "channel": channel, "value": round(float(flat[channel]), 5),
                               "min": round(float(flat.min()), 5), "max": round(float(flat.max()), 5)}
    channel = min(max(channel, 0), maps.shape[-1] - 1)
    one = maps[:, :, channel:channel + 1]
    step = step_for(one.shape, MAX_FOCUS)
    one = one[::step, ::step]
    scaled, lo, hi = stretch(one)
    meta = {"kind": "map", "channel": channel, "width": one.shape[1], "height": one.shape[0],
            "lo": round(float(lo[0]), 5), "hi": round(float(hi[0]), 5), "min": round(float(one.min()), 5),
            "max": round(float(one.max()), 5), "mean": round(float(one.mean()), 5), "subsampled": step}
    if one.size <= MAX_VALUES:
        meta["values"] = np.round(one[:, :, 0].astype(np.float64), 4).ravel().tolist()
    return indexed_png(scaled[:, :, 0]), meta


def model_input_png(model_input: np.ndarray) -> bytes:
    return encode(np.ascontiguousarray(model_input))


def camera_jpeg(image: np.ndarray, longest: int = 640) -> bytes:
    picture = Image.fromarray(np.ascontiguousarray(image))
    if max(picture.size) > longest:
        picture.thumbnail((longest, longest))
    return encode(picture, "JPEG")


def sheet(pictures: list[tuple[str, Image.Image]], width: int = 960, target: int = 240) -> Image.Image:
    """Labelled pictures side by side, wrapping at `width` (the MJPEG stream and /snapshot.jpg)."""
    sized = []
    for title, picture in pictures:
        zoom = max(1, round(target / max(picture.size)))
        if zoom > 1:
            picture = picture.resize((picture.width * zoom, picture.height * zoom), Image.NEAREST)
        elif max(picture.size) > 2 * target:
            picture = picture.copy()
            picture.thumbnail((2 * target, 2 * target))
        sized.append((title, picture))
    x = y = row_h = 0
    places = []
    for title, picture in sized:
        if x and x + picture.width > width:
            x, y, row_h = 0, y + row_h, 0
        places.append((x, y))
        x += picture.width + 6
        row_h = max(row_h, picture.height + 18)
    out = Image.new("RGB", (max(width, 1), max(y + row_h, 1)), (24, 24, 24))
    draw = ImageDraw.Draw(out)
    for (title, picture), (px, py) in zip(sized, places):
        draw.text((px + 2, py + 2), title, fill=(220, 220, 220))
        out.paste(picture.convert("RGB"), (px, py + 16))
    return out
