"""The Fashion-MNIST reader: IDX parsing (plain and gzipped), its errors, and the installed files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from selfsup.errors import SelfsupError
from selfsup.modalities.image.data.fashion_mnist import (
    CLASS_NAMES,
    DEFAULT_ROOT,
    read_fashion_mnist,
    read_idx,
)


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8) in the IDX format: magic 0x0000 08 <ndim>, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    data = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def small_release(root: Path, gz: bool, n_train: int = 12, n_test: int = 5, seed: int = 0):
    """Write a miniature Fashion-MNIST under ``root``; return the arrays written."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte", images, gz)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, gz)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_reader_round_trips_idx_files(tmp_path, gz):
    written = small_release(tmp_path, gz=gz)
    x_train, y_train, x_test, y_test = read_fashion_mnist(tmp_path)
    assert x_train.dtype == np.uint8 and x_train.shape == (12, 28, 28)
    assert y_train.dtype == np.int64 and y_train.shape == (12,)
    np.testing.assert_array_equal(x_train, written["train"][0])
    np.testing.assert_array_equal(y_train, written["train"][1])
    np.testing.assert_array_equal(x_test, written["t10k"][0])
    np.testing.assert_array_equal(y_test, written["t10k"][1])
    assert x_train.flags.writeable  # owned arrays, not read-only views of the file bytes


def test_class_names_follow_the_dataset_order():
    assert len(CLASS_NAMES) == 10
    assert CLASS_NAMES[0] == "T-shirt/top" and CLASS_NAMES[9] == "Ankle boot"


def test_missing_root_names_the_apt_command_and_the_path(tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(SelfsupError, match="apt-get install dataset-fashion-mnist") as err:
        read_fashion_mnist(root)
    assert str(root) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_names_it_and_the_apt_command(tmp_path):
    small_release(tmp_path, gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(SelfsupError, match="apt-get install dataset-fashion-mnist") as err:
        read_fashion_mnist(tmp_path)
    assert "t10k-labels-idx1-ubyte" in str(err.value)


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_wrong_magic_number_names_the_file(tmp_path, gz):
    small_release(tmp_path, gz=gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    data = bytearray(idx_bytes(np.zeros((12, 28, 28), np.uint8)))
    data[:4] = b"\x1f\x00\x08\x03"
    (tmp_path / name).write_bytes(gzip.compress(bytes(data)) if gz else bytes(data))
    with pytest.raises(SelfsupError, match="magic number") as err:
        read_fashion_mnist(tmp_path)
    assert name in str(err.value)


def test_truncated_data_names_the_file_and_the_sizes(tmp_path):
    path = tmp_path / "t.idx"
    path.write_bytes(idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-10])
    with pytest.raises(SelfsupError, match=r"shape \[3, 28, 28\]") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_a_damaged_gzip_stream_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"this is not gzip")
    with pytest.raises(SelfsupError, match="gzip") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_images_and_labels_of_different_lengths_are_refused(tmp_path):
    small_release(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(7, np.uint8), gz=False)
    with pytest.raises(SelfsupError, match="7 labels"):
        read_fashion_mnist(tmp_path)


def test_images_that_are_not_28x28_are_refused(tmp_path):
    small_release(tmp_path, gz=False)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 32, 32), np.uint8), gz=False)
    with pytest.raises(SelfsupError, match="t10k-images-idx3-ubyte.*28, 28"):
        read_fashion_mnist(tmp_path)


@pytest.mark.skipif(not DEFAULT_ROOT.is_dir(), reason=f"{DEFAULT_ROOT} absent (dataset-fashion-mnist)")
def test_installed_release_holds_the_official_split():
    x_train, y_train, x_test, y_test = read_fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
