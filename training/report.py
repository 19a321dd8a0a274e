"""The picture of a trained model's test metrics: confusion matrix and per-class accuracy, float and int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from edge_service.manifest import Manifest
from edge_service.pictures import colormap_table

CELL = 34
LEFT = 96
BG, FG, DIM = (24, 24, 24), (230, 230, 230), (150, 150, 150)


def metrics_picture(manifest: Manifest) -> Image.Image:
    """The int8 confusion matrix (rows true, columns predicted) and per-class float / int8 accuracy."""
    metrics = manifest.training["metrics"]
    labels = manifest.labels
    confusion = np.array(metrics["int8"]["confusion"])
    n = len(labels)
    top, right = 64, 150
    width, height = LEFT + n * CELL + right, top + n * CELL + 78
    sheet = Image.new("RGB", (width, height), BG)
    draw = ImageDraw.Draw(sheet)
    f, q = metrics["float"]["accuracy"], metrics["int8"]["accuracy"]
    draw.text((6, 4), f"{manifest.name}: test accuracy float {f:.2%}, int8 {q:.2%} "
                      f"on {confusion.sum()} test images", fill=FG)
    draw.text((6, 20), "int8 confusion matrix: rows true class, columns predicted; share of the row", fill=DIM)
    colours = colormap_table("viridis")
    rows = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    for i in range(n):
        y = top + i * CELL
        draw.text((4, y + CELL // 2 - 6), labels[i][:14], fill=FG)
        for j in range(n):
            x = LEFT + j * CELL
            share = rows[i, j]
            colour = tuple(int(c) for c in colours[int(round(share ** 0.5 * 255))])  # sqrt: small confusions show
            draw.rectangle([x, y, x + CELL - 2, y + CELL - 2], fill=colour)
            if confusion[i, j]:
                text = str(confusion[i, j])
                draw.text((x + 3, y + CELL // 2 - 6), text, fill=(0, 0, 0) if share > 0.5 else FG)
    for j in range(n):
        draw.text((LEFT + j * CELL + 2, top - 14), str(j), fill=DIM)
    for i, label in enumerate(labels):
        draw.text((LEFT + i * CELL + 2, top + n * CELL + 2), str(i), fill=DIM)
    x0 = LEFT + n * CELL + 10
    draw.text((x0, top - 28), "per class", fill=FG)
    draw.text((x0, top - 14), "float   int8", fill=DIM)
    for i, label in enumerate(labels):
        y = top + i * CELL + CELL // 2 - 6
        pf, pq = metrics["float"]["per_class"][label], metrics["int8"]["per_class"][label]
        draw.text((x0, y), f"{pf:6.1%}  {pq:6.1%}", fill=FG)
    lines, line = [], ""
    for i, label in enumerate(labels):
        item = f"{i} {label}"
        if line and len(line) + len(item) > 76:
            lines.append(line)
            line = ""
        line = f"{line}, {item}" if line else item
    for k, text in enumerate(lines + [line]):
        draw.text((6, top + n * CELL + 22 + 14 * k), text, fill=DIM)
    return sheet


def save_metrics_picture(manifest: Manifest, path: Path) -> Path:
    metrics_picture(manifest).save(path)
    return Path(path)
