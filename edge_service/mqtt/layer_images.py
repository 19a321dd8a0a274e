"""A layer's feature maps as the PNG published on layers/<layer>."""

from __future__ import annotations

import io

import numpy as np

from edge_service.pictures import layer_picture


def layer_png(name: str, values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    layer_picture(name, values).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
