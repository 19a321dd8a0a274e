"""Inference backends behind one interface: Edge TPU, LiteRT, tflite-runtime, numpy kernels."""

from edge_service.backends.base import Backend, BackendUnavailable, Inference
from edge_service.backends.select import BACKENDS, select_backend

__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "Inference", "select_backend"]
