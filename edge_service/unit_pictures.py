"""Pictures in real units: a map with its colour bar, a false-colour composite of three layers,
and the full-resolution conversion layers saved as files (seed 000's pictures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from edge_service.pictures import (LABEL_HEIGHT, colormap_table, feature_grid, normalise, percentile_range,
                                   render_map)


def colour_bar(bounds: tuple[float, float], height: int, cmap: str = "viridis", width: int = 12) -> Image.Image:
    """A vertical colour bar, high at the top, labelled with its real values (bottom, middle, top)."""
    lo, hi = bounds
    ramp = np.repeat(np.linspace(255, 0, max(height, 2)).astype(np.uint8)[:, None], width, axis=1)
    bar = Image.fromarray(colormap_table(cmap)[ramp], "RGB")
    sheet = Image.new("RGB", (width + 52, max(height, 2)), (24, 24, 24))
    sheet.paste(bar, (0, 0))
    draw = ImageDraw.Draw(sheet)
    for frac, value in ((0.0, hi), (0.5, (lo + hi) / 2), (1.0, lo)):
        y = min(max(0, int(frac * (height - 1)) - 5), max(0, height - 11))
        draw.text((width + 3, y), f"{value:.3g}", fill=(220, 220, 220))
    return sheet


def layer_with_colour_bar(channel: np.ndarray, title: str = "", cmap: str = "viridis", scale: int = 1,
                          bounds: tuple[float, float] | None = None) -> Image.Image:
    """One map in real units, stretched between its 1st and 99th percentile, with its colour bar."""
    bounds = bounds or percentile_range(channel)
    picture = render_map(channel, scale, cmap, bounds)
    top = LABEL_HEIGHT + 2 if title else 0
    bar = colour_bar(bounds, picture.height, cmap)
    sheet = Image.new("RGB", (picture.width + 4 + bar.width, top + picture.height), (24, 24, 24))
    if title:
        ImageDraw.Draw(sheet).text((2, 1), title, fill=(230, 230, 230))
    sheet.paste(picture, (0, top))
    sheet.paste(bar, (picture.width + 4, top))
    return sheet


def false_colour(layers: np.ndarray, channels: tuple[int, int, int] = (0, 1, 2)) -> Image.Image:
    """Three layers of (H, W, K) as red, green and blue, each stretched between its 1st and 99th percentile."""
    layers = np.asarray(layers)
    if layers.ndim != 3 or max(channels) >= layers.shape[2] or min(channels) < 0:
        from edge_service.errors import EdgeError
        raise EdgeError(f"a composite needs three of the {layers.shape[-1]} layers, got {list(channels)}")
    rgb = np.stack([normalise(layers[:, :, c].astype(np.float64)) for c in channels], axis=-1)
    return Image.fromarray((rgb * 255).astype(np.uint8), "RGB")


def save_conversion_pictures(layers: np.ndarray, names: list[str], folder: Path,
                             composite: tuple[int, int, int] = (0, 1, 2)) -> list[Path]:
    """Full-resolution conversion layers: one PNG each with its colour bar, and a false-colour composite."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, name in enumerate(names):
        path = folder / f"{i:02d}_{name}.png"
        layer_with_colour_bar(layers[:, :, i], f"{name} (1st-99th percentile)").save(path)
        written.append(path)
    if layers.shape[2] >= 3:
        path = folder / f"composite_{'_'.join(map(str, composite))}.png"
        false_colour(layers, composite).save(path)
        written.append(path)
    return written


def save_layer_pictures(layers: np.ndarray, names: list[str], folder: Path, title: str) -> list[Path]:
    """One PNG per map plus `grid.png`; returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, name in enumerate(names):
        path = folder / f"{i:02d}_{name}.png"
        render_map(layers[:, :, i]).save(path)
        written.append(path)
    grid = folder / "grid.png"
    feature_grid(layers, names, title, target=256).save(grid)
    written.append(grid)
    return written
