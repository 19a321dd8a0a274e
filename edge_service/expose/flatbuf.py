"""Reads and writes a .tflite through TensorFlow Lite's own schema object API (no TensorFlow needed).

The schema module ships in the `ai-edge-litert` and `tflite-micro` wheels; the first found is used.
"""

from __future__ import annotations

import importlib

import flatbuffers
import numpy as np

from edge_service.expose.errors import ExposeError

SCHEMA_MODULES = ("ai_edge_litert.schema_py_generated",
                  "tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
FILE_IDENTIFIER = b"TFL3"
BUFFER_ALIGNMENT = 16  # what the converter gives constant buffers; int32 biases need at least 4 on an MCU


def schema():
    """The generated schema module with its object API (ModelT, TensorMapT, ...)."""
    for name in SCHEMA_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ExposeError("unseen expose needs TensorFlow Lite's schema module: "
                      "pip install ai-edge-litert (or tflite-micro)")


def read_model(data: bytes):
    """The model as mutable ModelT objects; a file that is not a TFLite flatbuffer is an ExposeError."""
    data = bytes(data)
    if len(data) < 16 or data[4:8] != FILE_IDENTIFIER:
        raise ExposeError("not a TFLite model: the file identifier is not 'TFL3'")
    fb = schema()
    try:
        model = fb.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as exc:  # any slip of the decoder means a corrupt file
        raise ExposeError(f"corrupt TFLite flatbuffer ({type(exc).__name__}: {exc})") from None
    if not model.subgraphs:
        raise ExposeError("the model has no subgraph")
    for buffer in model.buffers or []:
        if buffer.offset > 1:  # data kept after the flatbuffer (models over 2 GB): bring it inside
            if buffer.offset + buffer.size > len(data):
                raise ExposeError("corrupt TFLite flatbuffer: a buffer lies beyond the end of the file")
            buffer.data = np.frombuffer(data, np.uint8, buffer.size, buffer.offset).copy()
            buffer.offset = buffer.size = 0
    buffers, model.buffers = model.buffers, None
    _lists(model)  # index vectors become lists: mutable, and `if not x` means empty
    model.buffers = buffers
    return model


def _lists(value):
    if isinstance(value, np.ndarray):
        return value.tolist() if value.dtype.kind in "iu" and value.dtype.itemsize >= 4 else value
    if isinstance(value, list):
        return [_lists(v) for v in value]
    if hasattr(value, "__dict__"):
        for key, item in vars(value).items():
            if item is not None:
                setattr(value, key, _lists(item))
    return value


def write_model(model) -> bytes:
    """Packs ModelT objects into .tflite bytes, constant buffers aligned as the converter aligns them."""
    fb = schema()
    for buffer in model.buffers or []:
        if buffer.data is not None and type(buffer) is fb.BufferT:
            buffer.__class__ = _aligned_buffer_class(fb)
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


_ALIGNED: dict[str, type] = {}


def _aligned_buffer_class(fb) -> type:
    """A BufferT whose data vector starts on a BUFFER_ALIGNMENT boundary (the schema's force_align)."""
    if fb.__name__ not in _ALIGNED:
        class AlignedBufferT(fb.BufferT):
            def Pack(self, builder):
                self.data = np.asarray(self.data, np.uint8).reshape(-1)
                # Pad so that the vector about to be written ends, and so starts, on the boundary.
                builder.Prep(BUFFER_ALIGNMENT, self.data.size)
                return super().Pack(builder)
        _ALIGNED[fb.__name__] = AlignedBufferT
    return _ALIGNED[fb.__name__]
