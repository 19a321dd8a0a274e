"""A loader refuses a model whose hash does not match its manifest."""

import shutil

import pytest

from edge_service.errors import ModelError
from edge_service.manifest import load_artefact


def test_shipped_model_loads(shipped_model):
    artefact = load_artefact(shipped_model)
    assert artefact.manifest.layers[0].name == "conversion"


def test_tampered_model_is_refused(shipped_model, tmp_path):
    shutil.copytree(shipped_model, tmp_path / "m")
    data = bytearray((tmp_path / "m" / "model.tflite").read_bytes())
    data[-100] ^= 0x01
    (tmp_path / "m" / "model.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match"):
        load_artefact(tmp_path / "m")


def test_missing_or_corrupt_manifest(shipped_model, tmp_path):
    shutil.copytree(shipped_model, tmp_path / "m")
    (tmp_path / "m" / "manifest.json").write_text("{")
    with pytest.raises(ModelError, match="unreadable manifest"):
        load_artefact(tmp_path / "m")
    (tmp_path / "m" / "manifest.json").unlink()
    with pytest.raises(ModelError, match="no manifest.json"):
        load_artefact(tmp_path / "m")
