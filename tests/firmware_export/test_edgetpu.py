"""The Edge TPU check names each problem by layer."""

import pytest

from edge_service.manifest import load_artefact
from edge_service.tflite_graph import read_graph
from firmware_export.edgetpu import edgetpu_problems


def test_the_shipped_model_meets_the_requirements(shipped_model):
    assert edgetpu_problems(read_graph(load_artefact(shipped_model).model_bytes)) == []


def test_float_outputs_and_unsupported_ops_are_named():
    pytest.importorskip("tensorflow")
    from tests.edge_service.model_zoo import build_zoo_model
    problems = edgetpu_problems(read_graph(build_zoo_model("float_io")))
    assert any("layer c1 (DEQUANTIZE): runs on the CPU" in p for p in problems)
