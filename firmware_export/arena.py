"""Measures the tensor arena a model needs by running it in the TFLite Micro Python interpreter.

The figure is the smallest arena with which the interpreter allocates and runs one frame,
found by bisection. It is a host-build figure (64-bit pointers): a Cortex-M build needs a
little less. A stated margin is added for the device's own allocations.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os

import numpy as np

from firmware_export.errors import ExportError

MARGIN = 0.10          # on top of the measured figure
ROUND_TO = 1024        # then rounded up to whole KiB
STEP = 16              # the bisection stops within this many bytes


@contextlib.contextmanager
def quiet_stderr():
    """TFLM's C++ side prints every failed allocation; the bisection causes many on purpose."""
    fd = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


def _runs(model: bytes, arena: int, sample: np.ndarray) -> bool:
    from tflite_micro.python.tflite_micro import runtime
    try:
        interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena)
        interpreter.set_input(sample, 0)
        interpreter.invoke()
        return True
    except (RuntimeError, ValueError):
        return False


def measure_arena(model: bytes, input_shape, input_dtype, limit: int = 64 << 20) -> int:
    """The smallest arena (bytes) that works, within STEP bytes."""
    if importlib.util.find_spec("tflite_micro") is None:
        raise ExportError("measuring the arena needs the tflite-micro package (pip install tflite-micro)")
    sample = np.zeros(input_shape, input_dtype)
    with quiet_stderr():
        if not _runs(model, limit, sample):
            raise ExportError(f"TFLite Micro cannot run the model even with a {limit >> 20} MiB arena")
        low, high = 0, limit
        while high - low > STEP:
            middle = (low + high) // 2
            if _runs(model, middle, sample):
                high = middle
            else:
                low = middle
    return high


def with_margin(measured: int) -> int:
    return -(-int(measured * (1 + MARGIN)) // ROUND_TO) * ROUND_TO
