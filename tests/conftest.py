"""Shared fixtures: a small model trained by the real training code, once per session; a mosquitto."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """A `seed` model trained for two epochs on a subset of digits (fast, real artefact)."""
    pytest.importorskip("tensorflow")
    from training.train import TrainOptions, train
    out = tmp_path_factory.mktemp("small_model")
    train(TrainOptions(dataset="digits", preset="seed", output=out, size=(16, 16), epochs=2, limit=400,
                       calibration_samples=50, seed=1))
    return out


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    from edge_service.manifest import default_model_dir
    return default_model_dir()


@pytest.fixture
def broker(tmp_path):
    """A real mosquitto on a free loopback port, with persistence, for one test."""
    from tests.edge_service.mqtt_helpers import Mosquitto
    server = Mosquitto(tmp_path / "broker").start()
    yield server
    server.stop()
