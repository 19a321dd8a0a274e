"""Every dataset loader gives the same split; bad input names the file."""

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from training.datasets import load_dataset, read_idx
from training.errors import DatasetError


def test_digits_default_split_is_fixed_and_disjoint():
    pytest.importorskip("sklearn")
    a = load_dataset("digits")
    b = load_dataset("digits")
    assert a.input_shape == (8, 8, 1) and a.labels == [str(i) for i in range(10)]
    total = len(a.x_train) + len(a.x_val) + len(a.x_test)
    assert total == 1797 and 0.13 < len(a.x_test) / total < 0.17
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    assert set(a.y_test) == set(range(10))


def test_resize_and_channels():
    pytest.importorskip("sklearn")
    d = load_dataset("digits", size=(16, 16), channels=3, limit=200)
    assert d.input_shape == (16, 16, 3)


def test_faces_subset():
    pytest.importorskip("skimage")
    d = load_dataset("faces")
    assert d.labels == ["non-face", "face"] and d.input_shape == (25, 25, 1)


def _write_idx(path, array, opener=open):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with opener(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_like_fashion_mnist(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (60, 28, 28))
    labels = np.arange(60) % 3
    suffix, opener = (".gz", gzip.open) if gz else ("", open)
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, opener)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, opener)
    d = load_dataset(str(tmp_path))
    assert d.input_shape == (28, 28, 1) and len(d.labels) == 3
    np.testing.assert_array_equal(read_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}"), labels)


def test_idx_with_mismatched_counts_names_the_files(tmp_path):
    _write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((10, 4, 4)))
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(9))
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.*10 images.*9 labels"):
        load_dataset(str(tmp_path))


def test_truncated_idx_is_refused(tmp_path):
    _write_idx(tmp_path / "x-idx3-ubyte", np.zeros((10, 4, 4)))
    data = (tmp_path / "x-idx3-ubyte").read_bytes()
    (tmp_path / "x-idx3-ubyte").write_bytes(data[:-5])
    with pytest.raises(DatasetError, match="x-idx3-ubyte"):
        read_idx(tmp_path / "x-idx3-ubyte")


def _image_folder(root, per_class=6):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")


def test_folder_of_class_folders(tmp_path):
    _image_folder(tmp_path)
    d = load_dataset(str(tmp_path))
    assert d.labels == ["cats", "dogs"] and d.input_shape == (12, 12, 3)


def test_corrupt_image_in_folder_names_the_file(tmp_path):
    _image_folder(tmp_path)
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DatasetError, match="broken.png"):
        load_dataset(str(tmp_path))


def test_empty_folder_and_wrong_path(tmp_path):
    with pytest.raises(DatasetError, match="no class sub-folders"):
        load_dataset(str(tmp_path))
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DatasetError, match="empty_class"):
        load_dataset(str(tmp_path))
    with pytest.raises(DatasetError, match="nor an existing path"):
        load_dataset(str(tmp_path / "missing"))


def test_npz(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (40, 10, 10)), y=np.arange(40) % 2)
    d = load_dataset(str(tmp_path / "d.npz"))
    assert d.input_shape == (10, 10, 1) and d.x_train.max() <= 1.0
    np.savez(tmp_path / "bad.npz", x=np.zeros((4, 3, 3)))
    with pytest.raises(DatasetError, match="bad.npz"):
        load_dataset(str(tmp_path / "bad.npz"))
