"""Fashion-MNIST read from the files Debian's ``dataset-fashion-mnist`` package installs.

Source: Xiao, Rasul & Vollgraf 2017, "Fashion-MNIST: a Novel Image Dataset for Benchmarking
Machine Learning Algorithms" (https://github.com/zalandoresearch/fashion-mnist). 70,000
grayscale 28×28 images of Zalando articles in 10 classes (:data:`CLASS_NAMES`), with the
official split of 60,000 training and 10,000 test images (6,000 / 1,000 per class).

License: MIT (Expat), Copyright 2017 Zalando SE; the Debian packaging is Expat as well
(``/usr/share/doc/dataset-fashion-mnist/copyright``).

Where the files come from: selfsup never downloads. ``apt-get install dataset-fashion-mnist``
puts the four original gzipped IDX files under ``/usr/share/datasets/fashion-mnist/``::

    train-images-idx3-ubyte.gz   train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz    t10k-labels-idx1-ubyte.gz

This module parses the IDX format itself with numpy (no torchvision, no network), accepts the
files gzipped or not, and checks every header against the data. It is a pure reader: pixels
stay ``uint8`` (4× smaller in memory than float32; conversion to float happens later, on the
device).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from selfsup.errors import SelfsupError

__all__ = ["CLASS_NAMES", "DEFAULT_ROOT", "INSTALL_HINT", "read_fashion_mnist", "read_idx"]

#: where ``dataset-fashion-mnist`` installs the files
DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
INSTALL_HINT = "apt-get install dataset-fashion-mnist"

#: label ``i`` is ``CLASS_NAMES[i]`` (the order of the dataset's README)
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

IMAGE_SIDE = 28

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"); big-endian data.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_fashion_mnist(
    root: str | Path = DEFAULT_ROOT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The official Fashion-MNIST split, read from the IDX files in ``root``.

    Each file is looked up by its original name, plain or with ``.gz``
    (``train-images-idx3-ubyte(.gz)``, ``train-labels-idx1-ubyte(.gz)``, ``t10k-…``).

    Returns:
        ``(x_train [60000, 28, 28] uint8, y_train [60000] int64,
        x_test [10000, 28, 28] uint8, y_test [10000] int64)``; labels index
        :data:`CLASS_NAMES`. The counts are whatever the files hold (the installed package
        holds 60,000 / 10,000); images and labels of a split must agree.

    Raises:
        SelfsupError: the package is not installed or a file is missing (the message names
            the path and ``apt-get install dataset-fashion-mnist``), or a file is corrupt
            (the message names the file and what is wrong).
    """
    root = Path(root)
    if not root.is_dir():
        raise SelfsupError(
            f"Fashion-MNIST is not installed: {root} does not exist. "
            f"Install it with `{INSTALL_HINT}` (Debian/Ubuntu), or pass the folder that holds "
            "the four IDX files."
        )
    x_train, y_train = _read_split(root, "train")
    x_test, y_test = _read_split(root, "t10k")
    return x_train, y_train, x_test, y_test


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (gzipped if its name ends in ``.gz``) as a numpy array of its stored type.

    The header is a magic number ``0x0000 <type> <ndim>`` followed by ``ndim`` big-endian
    int32 sizes; the data that follows must hold exactly their product of elements.

    Raises:
        SelfsupError: naming ``path`` and what is wrong (bad gzip stream, bad magic number,
            unknown type code, size mismatch).
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                raw = stream.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise SelfsupError(
            f"Fashion-MNIST file {path} is missing. Reinstall it with `{INSTALL_HINT}`."
        ) from None
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise SelfsupError(f"Cannot read {path}: not a valid gzip file ({err}).") from None

    if len(raw) < 4:
        raise SelfsupError(f"{path} is not an IDX file: it holds only {len(raw)} bytes.")
    zero, type_code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise SelfsupError(
            f"{path} is not an IDX file: bad magic number 0x{raw[:4].hex()} "
            "(expected 0x0000 then a type code such as 08 for uint8 and the number of dimensions)."
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise SelfsupError(f"{path} is truncated: its header announces {ndim} dimensions.")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise SelfsupError(
            f"{path} is corrupt: its header announces shape {list(shape)} ({expected} bytes of "
            f"data) but it holds {len(raw) - header} bytes after the header."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _read_split(root: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find(root, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(root, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise SelfsupError(
            f"{images_path} holds {images.dtype} data of shape {list(images.shape)}; "
            f"Fashion-MNIST images are uint8 [N, {IMAGE_SIDE}, {IMAGE_SIDE}]."
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise SelfsupError(
            f"{labels_path} holds {labels.dtype} data of shape {list(labels.shape)}; "
            "Fashion-MNIST labels are uint8 [N]."
        )
    if labels.shape[0] != images.shape[0]:
        raise SelfsupError(
            f"{labels_path} holds {labels.shape[0]} labels but {images_path} holds "
            f"{images.shape[0]} images; the files come from different releases or are damaged."
        )
    if labels.size and int(labels.max()) >= len(CLASS_NAMES):
        raise SelfsupError(
            f"{labels_path} holds label {int(labels.max())}; Fashion-MNIST labels are "
            f"0..{len(CLASS_NAMES) - 1}."
        )
    # np.frombuffer gives read-only views of the file's bytes: copy into owned arrays.
    return images.copy(), labels.astype(np.int64)


def _find(root: Path, name: str) -> Path:
    for candidate in (root / f"{name}.gz", root / name):
        if candidate.is_file():
            return candidate
    raise SelfsupError(
        f"Fashion-MNIST file {root / name}.gz is missing (nor is there an uncompressed "
        f"{name}). Install or reinstall it with `{INSTALL_HINT}`."
    )


# --------------------------------------------------------------------------- the built-in


def _register() -> None:
    import torch

    from selfsup.data.base import DataBundle, DataSource
    from selfsup.modalities.image.data.source import image_source
    from selfsup.registry import DATASETS

    @DATASETS.register(
        "fashion_mnist",
        modality="image",
        description="Fashion-MNIST: 70,000 28x28 grayscale articles, 10 classes, official "
        "60k/10k split (Debian: apt-get install dataset-fashion-mnist)",
        n=70_000,
        # articles are left-right symmetric enough for flips (as in the SimCLR CIFAR recipe);
        # crops keep at least 20 % of the 28x28 frame
        view_defaults={"crop_scale": (0.2, 1.0)},
    )
    def fashion_mnist(seed: int = 0, test_fraction: float = 0.2, root: str = str(DEFAULT_ROOT)) -> DataSource:
        """The official split, ``uint8`` ``[N, 1, 28, 28]`` in memory (float on the device);
        ``seed`` and ``test_fraction`` are accepted for the uniform signature and do not change it."""
        x_train, y_train, x_test, y_test = read_fashion_mnist(root)
        bundle = DataBundle(
            "fashion_mnist", "image",
            torch.from_numpy(x_train).unsqueeze(1), torch.from_numpy(y_train),
            torch.from_numpy(x_test).unsqueeze(1), torch.from_numpy(y_test),
            class_names=list(CLASS_NAMES), notes=[],
        )
        return image_source(bundle)


_register()
