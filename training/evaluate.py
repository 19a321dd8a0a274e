"""Accuracy of the int8 artefact as a device would run it (LiteRT interpreter)."""

from __future__ import annotations

import numpy as np

from edge_service.preprocess import quantize_input


def int8_accuracy(flat: bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of the last output of an int8 model on (x, y)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flat)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()
    last = out[-1]["index"]
    scale, zero_point = inp["quantization"]
    correct = 0
    for image, label in zip(x, y):
        interpreter.set_tensor(inp["index"], quantize_input(image[None], scale, zero_point))
        interpreter.invoke()
        correct += int(np.argmax(interpreter.get_tensor(last)[0]) == label)
    return correct / len(x)
