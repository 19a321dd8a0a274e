"""Accuracy of the int8 artefact as a device would run it (LiteRT interpreter), and per-class reports."""

from __future__ import annotations

import numpy as np

from edge_service.preprocess import quantize_input


def int8_predictions(flat: bytes, x: np.ndarray) -> np.ndarray:
    """The top-1 class of the last output of an int8 model for each image of x."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flat)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    last = interpreter.get_output_details()[-1]["index"]
    scale, zero_point = inp["quantization"]
    predictions = np.empty(len(x), np.int64)
    for i, image in enumerate(x):
        interpreter.set_tensor(inp["index"], quantize_input(image[None], scale, zero_point))
        interpreter.invoke()
        predictions[i] = int(np.argmax(interpreter.get_tensor(last)[0]))
    return predictions


def int8_accuracy(flat: bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of the last output of an int8 model on (x, y)."""
    return float(np.mean(int8_predictions(flat, x) == y))


def class_report(y: np.ndarray, predictions: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, accuracy per class (by label) and the confusion matrix (rows: true, columns: predicted)."""
    n = len(labels)
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (np.asarray(y), np.asarray(predictions)), 1)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.zeros(n), where=totals > 0)
    return {"accuracy": round(float(np.trace(confusion) / max(1, confusion.sum())), 5),
            "per_class": {label: round(float(a), 4) for label, a in zip(labels, per_class)},
            "confusion": confusion.tolist()}
