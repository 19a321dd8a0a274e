"""The bundled frames: the shipped model gets every Fashion-MNIST sample right, as the service sees it."""

import re
from pathlib import Path

import numpy as np
import pytest

from edge_service.backends.numpy_backend import NumpyBackend
from edge_service.images import read_image
from edge_service.manifest import load_artefact
from edge_service.preprocess import Preprocessor

SAMPLES = Path(__file__).resolve().parents[2] / "edge_service" / "samples"
FASHION = sorted(SAMPLES.glob("fashion_*.png"))
ITEM = 232  # scripts/make_samples draws each item in the central 232 x 232 of its frame


def test_one_sample_per_class_and_the_hubble_deep_field():
    assert [int(re.match(r"fashion_(\d+)_", p.name).group(1)) for p in FASHION] == list(range(10))
    assert (SAMPLES / "hubble_deep_field.jpg").exists()
    assert not list(SAMPLES.glob("digit_*"))


@pytest.mark.parametrize("path", FASHION, ids=[p.stem for p in FASHION])
def test_the_shipped_model_classifies_every_bundled_sample(shipped_model, path):
    artefact = load_artefact(shipped_model)
    expected = int(re.match(r"fashion_(\d+)_", path.name).group(1))
    frame = read_image(path, "RGB")
    assert frame.shape[0] >= 200 and frame.std() > 10  # a camera-sized frame, not a 28x28 dataset image
    scores = list(NumpyBackend(artefact).infer(Preprocessor(artefact.manifest)(frame)).outputs.values())[-1]
    assert int(np.argmax(scores)) == expected, f"{path.name}: {artefact.manifest.labels[int(np.argmax(scores))]}"


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="apt-get install dataset-fashion-mnist")
def test_each_sample_is_drawn_from_the_test_image_it_names():
    import json
    from PIL import Image
    from edge_service import idx
    x_test, y_test = idx.fashion_mnist_test()
    sources = json.loads((SAMPLES / "sources.json").read_text())
    assert sorted(sources) == [p.name for p in FASHION]

    def correlations(small, images):
        a = (small - small.mean()) / small.std()
        b = images.reshape(len(images), -1).astype(float)
        b = (b - b.mean(axis=1, keepdims=True)) / (b.std(axis=1, keepdims=True) + 1e-9)
        return b @ a.ravel() / a.size

    for name, source in sources.items():
        i, cls = source["t10k_index"], int(re.match(r"fashion_(\d+)_", name).group(1))
        assert y_test[i] == cls
        frame = Image.open(SAMPLES / name).convert("L")
        box = (frame.width - ITEM) // 2
        item = frame.crop((box, box, box + ITEM, box + ITEM))
        small = np.asarray(item.resize((28, 28), Image.BILINEAR), float)
        # The frame is that t10k image, turned a little and lit: still close to it at 28 x 28.
        assert correlations(small, x_test[i:i + 1])[0] > 0.8, name
