"""Every dataset loader gives the same split; bad input names the file."""

import gzip
from pathlib import Path
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


def test_idx_folder_with_train_and_t10k_keeps_its_own_split(tmp_path):
    rng = np.random.default_rng(1)
    train_x, test_x = rng.integers(0, 256, (100, 6, 6)), rng.integers(0, 256, (30, 6, 6))
    _write_idx(tmp_path / "train-images-idx3-ubyte", train_x)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(100) % 2)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", test_x)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(30) % 2)
    d = load_dataset(str(tmp_path))
    assert d.own_split and (len(d.x_train), len(d.x_val), len(d.x_test)) == (90, 10, 30)
    np.testing.assert_array_equal((d.x_test[..., 0] * 255).round(), test_x)  # the test files, in file order
    seen = {im.tobytes() for im in np.concatenate([d.x_train, d.x_val])}
    assert not seen & {im.tobytes() for im in d.x_test}


FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(not FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist")


@needs_fashion
def test_fashion_mnist_from_the_debian_files_keeps_train_and_t10k_apart():
    from edge_service.idx import read_idx as raw_idx
    d = load_dataset("fashion-mnist")
    assert d.labels[0] == "T-shirt/top" and d.labels[9] == "Ankle boot" and len(d.labels) == 10
    assert d.input_shape == (28, 28, 1) and d.own_split and d.mirror
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (54_000, 6_000, 10_000)
    t10k = raw_idx(FASHION / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal((d.x_test[..., 0] * 255).round().astype(np.uint8), t10k)
    np.testing.assert_array_equal(d.y_test, raw_idx(FASHION / "t10k-labels-idx1-ubyte.gz"))
    assert np.bincount(d.y_val).tolist() == [600] * 10  # validation is stratified out of train-* only
    train_labels = raw_idx(FASHION / "train-labels-idx1-ubyte.gz")
    assert sorted(np.concatenate([d.y_train, d.y_val])) == sorted(train_labels)


@needs_fashion
def test_fashion_mnist_limit_cuts_each_of_its_files():
    d = load_dataset("fashion-mnist", limit=500, size=(14, 14))
    assert len(d.x_train) + len(d.x_val) == 500 and len(d.x_test) == 500 and d.input_shape == (14, 14, 1)


def test_missing_fashion_mnist_says_in_one_line_how_to_install(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist") as info:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_nan_values_are_refused_with_their_count(tmp_path):
    x = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    x[3, 2, 2] = np.nan
    x[7, 0, 0] = np.inf
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(40) % 2)
    with pytest.raises(DatasetError, match="2 pixel values are NaN or infinite"):
        load_dataset(str(tmp_path / "d.npz"))


def test_a_one_class_dataset_is_refused(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((30, 8, 8), np.float32), y=np.zeros(30, np.int64))
    with pytest.raises(DatasetError, match="only one class"):
        load_dataset(str(tmp_path / "d.npz"))


def test_a_five_image_dataset_is_too_small_to_train_validate_and_test(tmp_path):
    _image_folder(tmp_path, per_class=2)
    (tmp_path / "dogs" / "1.png").unlink()
    with pytest.raises(DatasetError, match="fewer than 5 images"):
        load_dataset(str(tmp_path))


def test_a_limit_that_leaves_too_few_of_a_class_is_refused_before_training(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (400, 8, 8)), y=np.arange(400) % 10)
    with pytest.raises(DatasetError, match=r"fewer than 5 images \(10 images kept by --limit 10\)"):
        load_dataset(str(tmp_path / "d.npz"), limit=10)
    assert len(load_dataset(str(tmp_path / "d.npz"), limit=200).y_train) > 100


def test_a_limit_on_a_dataset_with_its_own_test_files_checks_both_parts(tmp_path):
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (1000, 8, 8)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.arange(1000) // 100)  # test files in class order
    with pytest.raises(DatasetError, match=r"fewer than 5 images \(12 images kept by --limit 12\)"):
        load_dataset(str(tmp_path), limit=12)
    assert len(load_dataset(str(tmp_path), limit=500).y_test) == 500


def test_train_without_tensorflow_says_which_extra_to_install(tmp_path):
    import importlib.util
    from click.testing import CliRunner
    from unseen.cli import main
    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is installed here (the device environment runs this test)")
    result = CliRunner().invoke(main, ["train", "--dataset", "/no/such/data", "-o", str(tmp_path / "m")])
    assert result.exit_code == 2 and "pip install 'unseen[train]'" in result.output
    assert result.output.strip().count("\n") == 0 and not (tmp_path / "m").exists()
