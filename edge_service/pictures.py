"""Feature-map and filter grids drawn with Pillow (no matplotlib on the device).

Normalisation rule, stated once: each map is stretched on its own between its 1st and
99th percentile (robust to a few hot pixels), then coloured with a viridis-like map.
A flat map (all one value) is drawn in the colormap's lowest colour.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Anchor colours of matplotlib's viridis, interpolated into a 256-entry table.
_VIRIDIS = np.array([[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
                     [31, 158, 137], [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37]])
# matplotlib's inferno (seed 003's activation colours), at the same ten stops.
_INFERNO = np.array([[0, 0, 4], [27, 12, 65], [74, 12, 107], [120, 28, 109], [165, 44, 96],
                     [207, 68, 70], [237, 105, 37], [251, 155, 6], [247, 209, 61], [252, 255, 164]])
_GRAY = np.array([[0, 0, 0], [255, 255, 255]])
LABEL_HEIGHT = 14
COLORMAPS = ("viridis", "inferno", "gray")


@functools.lru_cache(maxsize=4)
def colormap_table(name: str = "viridis") -> np.ndarray:
    anchors = {"viridis": _VIRIDIS, "inferno": _INFERNO, "gray": _GRAY}[name]
    pos = np.linspace(0, 1, len(anchors))
    t = np.linspace(0, 1, 256)
    return np.stack([np.interp(t, pos, anchors[:, c]) for c in range(3)], axis=1).astype(np.uint8)


def percentile_range(channel: np.ndarray) -> tuple[float, float]:
    """The 1st and 99th percentile of one map (its min and max when those are equal)."""
    lo, hi = (float(v) for v in np.percentile(channel, [1, 99]))
    if hi <= lo:
        lo, hi = float(np.min(channel)), float(np.max(channel))
    return lo, hi


def normalise(channel: np.ndarray, bounds: tuple[float, float] | None = None) -> np.ndarray:
    """0..1 between `bounds` (default: the 1st and 99th percentile of this one map)."""
    lo, hi = bounds or percentile_range(channel)
    if hi <= lo:
        return np.zeros_like(channel, dtype=np.float64)
    return np.clip((np.asarray(channel, np.float64) - lo) / (hi - lo), 0.0, 1.0)


def render_map(channel: np.ndarray, scale: int = 1, cmap: str = "viridis",
               bounds: tuple[float, float] | None = None) -> Image.Image:
    """One 2-D map as an RGB image, upscaled by `scale` with nearest neighbour (pixels stay pixels)."""
    idx = (normalise(np.asarray(channel, np.float64), bounds) * 255).astype(np.uint8)
    img = Image.fromarray(colormap_table(cmap)[idx], "RGB")
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, columns) near square, columns >= rows."""
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def upscale_for(shape: tuple[int, int], target: int = 96) -> int:
    """An integer zoom that brings a small map to about `target` pixels across."""
    return max(1, target // max(shape))


def normalise_channels(maps: np.ndarray) -> np.ndarray:
    """normalise() of each channel of (H, W, C) at once: one percentile call for every map."""
    flat = maps.reshape(-1, maps.shape[-1])
    lo, hi = np.percentile(flat, [1, 99], axis=0)
    flat_lo, flat_hi = flat.min(axis=0), flat.max(axis=0)
    narrow = hi <= lo
    lo, hi = np.where(narrow, flat_lo, lo), np.where(narrow, flat_hi, hi)
    span = hi - lo
    flat_map = span <= 0
    out = np.clip((maps - lo) / np.where(flat_map, 1.0, span), 0.0, 1.0)
    out[..., flat_map] = 0.0
    return out


# Grids are palette images: LEVELS colours of the map, then GREYS for the background and the text.
# A palette PNG is a third of an RGB one and encodes about three times faster.
LEVELS, GREYS = 240, 16
BACKGROUND = 24


@functools.lru_cache(maxsize=4)
def grid_palette(cmap: str = "viridis") -> list[int]:
    table = colormap_table(cmap)[np.linspace(0, 255, LEVELS).round().astype(int)]
    greys = np.linspace(BACKGROUND, 255, GREYS).round().astype(np.uint8)
    return np.concatenate([table, np.repeat(greys[:, None], 3, axis=1)]).ravel().tolist()


def _grey_indices(picture: Image.Image) -> np.ndarray:
    """An L-mode picture (text on the background) as palette indices of the nearest grey."""
    grey = np.asarray(picture, np.float32)
    return (LEVELS + np.clip((grey - BACKGROUND) / (255 - BACKGROUND) * (GREYS - 1), 0, GREYS - 1).round()
            ).astype(np.uint8)


@functools.lru_cache(maxsize=256)
def _text_strip(labels: tuple[str, ...], cell_w: int, pad: int, cols: int, width: int, fill: int) -> np.ndarray:
    """The text above each cell (or a title), drawn once per layout: a live stream redraws the same labels."""
    rows = math.ceil(len(labels) / cols)
    strip = Image.new("L", (width, rows * LABEL_HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default()
    for i, label in enumerate(labels):
        r, c = divmod(i, cols)
        draw.text((pad + c * (cell_w + pad), r * LABEL_HEIGHT), label, fill=fill, font=font)
    return _grey_indices(strip)


def feature_grid(maps: np.ndarray, labels: list[str] | None = None, title: str = "",
                 cmap: str = "viridis", target: int = 96) -> Image.Image:
    """A labelled grid of the channels of `maps` (H, W, C) or a vector (C,) drawn as bars.

    Drawn as one array (all channels normalised, coloured and upscaled together), then one image.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim == 1:
        return vector_chart(maps, labels, title)
    if maps.ndim == 2:
        maps = maps[:, :, None]
    h, w, count = maps.shape
    zoom = upscale_for((h, w), target)
    cell_w, map_h = w * zoom, h * zoom
    cell_h = map_h + LABEL_HEIGHT
    labels = tuple(label[: max(4, cell_w // 6)] for label in (labels or [str(i) for i in range(count)]))
    rows, cols = grid_shape(count)
    top = LABEL_HEIGHT + 4 if title else 0
    pad = 4
    width, height = cols * (cell_w + pad) + pad, top + rows * (cell_h + pad) + pad
    levels = (normalise_channels(maps) * (LEVELS - 1)).round().astype(np.uint8)
    levels = levels.repeat(zoom, axis=0).repeat(zoom, axis=1)
    canvas = np.full((height, width), LEVELS, np.uint8)
    strip = _text_strip(labels, cell_w, pad, cols, width, 200)
    for r in range(rows):
        y = top + pad + r * (cell_h + pad)
        canvas[y:y + LABEL_HEIGHT] = strip[r * LABEL_HEIGHT:(r + 1) * LABEL_HEIGHT]
    for i in range(count):
        r, c = divmod(i, cols)
        x0, y0 = pad + c * (cell_w + pad), top + pad + r * (cell_h + pad) + LABEL_HEIGHT
        canvas[y0:y0 + map_h, x0:x0 + cell_w] = levels[:, :, i]
    if title:
        canvas[2:2 + LABEL_HEIGHT] = _text_strip((title,), width, pad, 1, width, 230)[:, :width]
    sheet = Image.fromarray(canvas, "P")
    sheet.putpalette(grid_palette(cmap))
    return sheet


def vector_chart(values: np.ndarray, labels: list[str] | None = None, title: str = "",
                 width: int = 360) -> Image.Image:
    """A horizontal bar chart of a 1-D layer (dense outputs, class scores)."""
    values = np.asarray(values, np.float64).ravel()
    if len(values) > 64:  # a long flatten vector reads better as a strip image
        side = math.ceil(math.sqrt(len(values)))
        padded = np.zeros(side * side)
        padded[: len(values)] = values
        return feature_grid(padded.reshape(side, side, 1), [title or "values"], title)
    labels = labels or [str(i) for i in range(len(values))]
    bar_h, left, top = 14, 70, LABEL_HEIGHT + 4 if title else 4
    img = Image.new("RGB", (width, top + bar_h * len(values) + 4), (24, 24, 24))
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((4, 2), title, fill=(230, 230, 230))
    lo, hi = min(0.0, values.min()), max(0.0, values.max())
    span = hi - lo or 1.0
    zero_x = left + (0 - lo) / span * (width - left - 8)
    colours = colormap_table()
    for i, v in enumerate(values):
        y = top + i * bar_h
        x = left + (v - lo) / span * (width - left - 8)
        draw.text((4, y + 1), labels[i][:10], fill=(200, 200, 200))
        colour = tuple(int(c) for c in colours[int((v - lo) / span * 255)])
        draw.rectangle([min(zero_x, x), y + 2, max(zero_x, x), y + bar_h - 2], fill=colour)
    return img


def filter_grid(kernel: np.ndarray, title: str = "") -> Image.Image:
    """Conv weights (out, kh, kw, in) as a grid: one row per output filter, one cell per input channel.

    Diverging grey: mid-grey is zero, white positive, black negative, scaled per filter.
    """
    kernel = np.asarray(kernel, np.float64)
    out_ch, kh, kw, in_ch = kernel.shape
    zoom = max(4, 24 // max(kh, kw))
    cols = min(in_ch, 16)
    pad = 2
    cell = (kw * zoom + pad, kh * zoom + pad)
    top = LABEL_HEIGHT + 4 if title else 0
    sheet = Image.new("RGB", (40 + cols * cell[0] + pad, top + out_ch * cell[1] + pad), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((4, 2), title, fill=(230, 230, 230))
    for o in range(out_ch):
        limit = np.abs(kernel[o]).max() or 1.0
        y = top + pad + o * cell[1]
        draw.text((2, y), str(o), fill=(200, 200, 200))
        for i in range(cols):
            grey = ((kernel[o, :, :, i] / limit + 1) * 127.5).astype(np.uint8)
            tile = Image.fromarray(grey, "L").resize((kw * zoom, kh * zoom), Image.NEAREST)
            sheet.paste(tile.convert("RGB"), (40 + i * cell[0], y))
    return sheet


# Pictures are drawn at their final size (nearest-neighbour upscaling in feature_grid); the page
# never shrinks them, since a shrunk grid garbles its channel numbers and titles.
STYLE = """body{background:#181818;color:#ddd;font:14px sans-serif;margin:1em}
section{border-top:1px solid #444;padding:.6em 0}h2{font-size:16px;margin:.2em 0}
.row{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}figure{margin:0;max-width:100%;overflow-x:auto}
figcaption{font-size:12px;color:#aaa}img{max-width:none}
.top{font-size:15px;color:#fd5}table{font-size:12px;border-collapse:collapse}td{padding:0 .6em 0 0}"""


def html_page(title: str, body: str) -> str:
    """The one page shell of every HTML file unseen writes."""
    import html
    return (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><style>{STYLE}</style>"
            f"<h1>{html.escape(title)}</h1>{body}")


def layer_picture(name: str, values: np.ndarray, labels: list[str] | None = None) -> Image.Image:
    """A feature-map grid for a spatial layer (maps named by `labels` if given), a bar chart for a vector."""
    if values.ndim >= 3:
        maps = values.reshape(values.shape[-3:])
        names = labels if labels and len(labels) == maps.shape[-1] else None
        return feature_grid(maps, names, title=f"{name} {list(values.shape)}")
    flat = values.ravel()
    return vector_chart(flat, labels if labels and len(labels) == len(flat) else None, f"{name} ({len(flat)})")
