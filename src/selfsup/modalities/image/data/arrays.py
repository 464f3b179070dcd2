"""Image data sources: a folder of image files, a ``.npy``/``.npz`` array, built-in ``digits``.

Every source returns a :class:`~selfsup.data.base.DataSource` of images ``[N, C, H, W]``,
decoded once and kept compact: ``uint8`` stays ``uint8`` in memory and becomes float in [0, 1]
on the device (:class:`~selfsup.modalities.image.data.source.PixelsToFloat`). A ``uint8``
``.npy`` larger than :data:`~selfsup.modalities.image.data.streamed.STREAM_BYTES` is not loaded
at all: batches are read from the file as training asks for them.

Decisions (what a user can rely on):

- **Folders.** Class sub-folders give labels (the folder name; images are searched
  recursively inside each class folder); images directly in the folder give an unlabeled
  set. Mixing both is an error. A folder whose sub-folders are ``train`` and ``test`` (or
  ``val``/``valid``/``validation``) is an explicit split. Hidden files and other extensions
  are ignored. Animated images contribute their first frame.
- **Channels.** 1 channel when every image is grayscale, else RGB. Alpha is dropped (not
  composited): flatten transparency yourself if it carries meaning. 16-bit images are
  scaled to 8 bits.
- **Size.** ``image_size`` (an int or ``(H, W)``) resizes by scaling the shorter side and
  cropping the centre (no distortion). Without it, a common size is kept; mixed sizes go to
  64×64 with a note.
- **Arrays.** ``[N, H, W]`` or ``[N, H, W, C]`` with C in 1, 3, 4 (alpha dropped), channels
  last. ``uint8`` is divided by 255 (on the device), ``uint16`` by 65535, ``bool`` becomes 0/1, floats must
  already lie in [0, 1] (error otherwise, since colour jitter and solarisation assume it);
  other integer types are rejected rather than scaled by a guess.
- **Splits.** ``.npz`` keys ``x_test``/``y_test`` (or ``train``/``test`` folders) are used
  as given; otherwise labeled data gets a seeded stratified split of ``test_fraction``
  (classes with a single sample stay in training, with a note); unlabeled data gets none.
- **Labels** of any dtype (ints, strings, floats) map to ``0..K-1`` in sorted order of
  their values, and ``class_names`` keeps the original values as strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from selfsup.data.base import DataBundle, DataSource, np_load
from selfsup.data.splits import check_fraction, encode_labels, split_bundle
from selfsup.errors import SelfsupError
from selfsup.modalities.image.data.folder import IMAGE_EXTENSIONS, read_folder
from selfsup.modalities.image.data.source import image_source
from selfsup.modalities.image.data.streamed import large_uint8_npy, streamed_npy_source
from selfsup.registry import DATASETS

__all__ = ["IMAGE_EXTENSIONS", "digits", "read_images"]


def read_images(
    path: str | Path,
    seed: int = 0,
    test_fraction: float = 0.2,
    image_size: int | Sequence[int] | None = None,
) -> DataSource:
    """Read images from a folder, a ``.npy`` array or a ``.npz`` archive (see module doc)."""
    path = Path(path)
    check_fraction(test_fraction)
    size = _parse_size(image_size)
    if path.is_dir():
        return image_source(read_folder(path, seed, test_fraction, size))
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if size is None and large_uint8_npy(path):
            return streamed_npy_source(path)
        x = _array_to_images(np_load(path), path.name, "x", size)
        return image_source(DataBundle(path.stem, "image", x, notes=[]))
    if suffix == ".npz":
        return image_source(_read_npz(path, seed, test_fraction, size))
    raise SelfsupError(
        f"Cannot read {path} as image data: the image modality reads a folder of images, "
        "a .npy array [N, H, W(, C)] or a .npz archive with key 'x'. Pass the folder that "
        "holds the image, or convert the file."
    )


@DATASETS.register(
    "digits",
    description="scikit-learn's 1,797 handwritten 8x8 digits, 10 classes, fixed 1437/360 split",
    n=1797,
    modality="image",
    # digits are not mirror-invariant, and an 8x8 crop below half the area often loses the
    # digit (a supervised small_cnn recognises ~89 % of (0.5, 1) crops, ~77 % of (0.2, 1) ones)
    view_defaults={"hflip": 0.0, "crop_scale": (0.5, 1.0)},
)
def digits(
    seed: int = 0, test_fraction: float = 0.2, image_size: int | Sequence[int] | None = None
) -> DataSource:
    """scikit-learn's ``load_digits``: ``x`` ``uint8`` ``[N, 1, 8, 8]`` with pixel values 0..16,
    made float ``/ 16`` on the device (float32 when ``image_size`` resizes them).

    The train/test split is FIXED (stratified, 20 % test, ``random_state=0``: 1437/360) so
    results are comparable across runs; ``seed`` and ``test_fraction`` are accepted for a
    uniform call signature and do not change it. ``image_size`` upsamples (e.g. 32 for ResNet).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    raw = load_digits()
    x = torch.from_numpy(raw.images.astype(np.uint8)).unsqueeze(1)
    y = torch.from_numpy(raw.target.astype(np.int64))
    train, test = train_test_split(
        np.arange(len(y)), test_size=0.2, stratify=raw.target, random_state=0
    )
    size = _parse_size(image_size)
    if size is not None:
        x = _resize_tensor(x.float() / 16.0, size)
    train, test = torch.from_numpy(np.sort(train)), torch.from_numpy(np.sort(test))
    bundle = DataBundle(
        "digits", "image", x[train], y[train], x[test], y[test],
        class_names=[str(d) for d in range(10)], notes=[],
    )
    return image_source(bundle, max_value=16.0)


# --------------------------------------------------------------------------- options


def _parse_size(image_size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        size = (image_size, image_size)
    elif isinstance(image_size, Sequence) and len(image_size) == 2:
        size = tuple(image_size)
    else:
        size = None
    if size is None or not all(isinstance(s, int) and s > 0 for s in size):
        raise SelfsupError(
            f"Option image_size must be a positive int or a pair [height, width]; "
            f"got {image_size!r}."
        )
    return size  # type: ignore[return-value]


# --------------------------------------------------------------------------- arrays


def _read_npz(
    path: Path, seed: int, test_fraction: float, size: tuple[int, int] | None
) -> DataBundle:
    archive = np_load(path)
    with archive:
        keys = list(archive.files)
        if "x" not in keys:
            raise SelfsupError(
                f"{path} has no key 'x' (keys found: {', '.join(keys) or 'none'}). Save the "
                "images as x (and optionally y, x_test, y_test): "
                "np.savez(file, x=images, y=labels)."
            )
        try:
            arrays = {k: archive[k] for k in ("x", "y", "x_test", "y_test") if k in keys}
        except ValueError:
            raise SelfsupError(
                f"{path} holds Python objects, which are not loaded for safety. Save plain "
                "numeric arrays (labels as ints or np.array(labels, dtype=str))."
            ) from None
    notes = [f"Ignored keys in {path.name}: {', '.join(sorted(set(keys) - set(arrays)))}."] if (
        set(keys) - set(arrays)) else []
    if "y_test" in arrays and "x_test" not in arrays:
        raise SelfsupError(f"{path} has y_test but no x_test; add x_test or remove y_test.")
    if "x_test" in arrays and ("y" in arrays) != ("y_test" in arrays):
        raise SelfsupError(
            f"{path} has x_test and only one of y / y_test; give labels for both splits or neither."
        )
    x = _array_to_images(arrays["x"], path.name, "x", size)
    x_test = None
    if "x_test" in arrays:
        x_test = _array_to_images(arrays["x_test"], path.name, "x_test", size)
        if x_test.shape[1:] != x.shape[1:]:
            raise SelfsupError(
                f"In {path}, x_test samples have shape {list(x_test.shape[1:])} but x samples "
                f"{list(x.shape[1:])} (as [C, H, W]); they must match (or pass image_size)."
            )
    if "y" not in arrays:
        return DataBundle(path.stem, "image", x, None, x_test, None, None, notes)
    named = [("y", arrays["y"], len(x))]
    if x_test is not None:
        named.append(("y_test", arrays["y_test"], len(x_test)))
    labels, class_names = encode_labels(named, path.name)
    if x_test is not None:
        return DataBundle(path.stem, "image", x, labels[0], x_test, labels[1], class_names, notes)
    return split_bundle(path.stem, "image", x, labels[0], class_names, seed, test_fraction, notes)


def _array_to_images(
    array: np.ndarray, file: str, key: str, size: tuple[int, int] | None
) -> torch.Tensor:
    """Validate an array ``[N, H, W]`` / ``[N, H, W, C]`` and return ``[N, C, H, W]``: ``uint8``
    as it is (unless resized), other dtypes as float32 in [0, 1]."""
    where = f"{file} (key {key!r})" if file.endswith(".npz") else file
    shape = list(array.shape)
    if array.ndim == 3:
        array = array[..., None]
    elif array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
        hint = (" It looks channels-first; transpose it: np.transpose(x, (0, 2, 3, 1))."
                if array.ndim == 4 and array.shape[1] in (1, 3, 4) else "")
        raise SelfsupError(
            f"{where} has shape {shape}; images must be [N, H, W] or [N, H, W, C] with C in "
            f"1, 3 or 4 (channels last).{hint}"
        )
    if array.shape[0] == 0:
        raise SelfsupError(f"{where} holds no samples (shape {shape}).")
    if array.shape[-1] == 4:
        array = array[..., :3]  # alpha dropped, see module doc
    if array.dtype == np.uint8 and size is None:
        # kept compact: made float / 255 on the device (PixelsToFloat)
        return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).contiguous()
    if array.dtype == np.uint8:
        scaled = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        scaled = array.astype(np.float32) / 65535.0
    elif array.dtype == np.bool_:
        scaled = array.astype(np.float32)
    elif np.issubdtype(array.dtype, np.floating):
        scaled = array.astype(np.float32)
        finite = np.isfinite(scaled).reshape(len(scaled), -1).all(axis=1)
        if not finite.all():
            raise SelfsupError(
                f"{where} contains NaN or infinite values (first in sample "
                f"{int(np.argmin(finite))}). Remove or fix those samples."
            )
        per_sample = scaled.reshape(len(scaled), -1)
        outside = (per_sample.min(axis=1) < -1e-3) | (per_sample.max(axis=1) > 1 + 1e-3)
        if outside.any():
            raise SelfsupError(
                f"{where} holds float values in [{scaled.min():.4g}, {scaled.max():.4g}] "
                f"(first outside [0, 1]: sample {int(np.argmax(outside))}); float images must "
                "lie in [0, 1]. Divide 0-255 data by 255 (or save as uint8), and undo any "
                "normalisation."
            )
        np.clip(scaled, 0.0, 1.0, out=scaled)
    else:
        raise SelfsupError(
            f"{where} has dtype {array.dtype}; images must be uint8 (0-255), uint16, bool or "
            "float in [0, 1]. Convert it, e.g. x.astype(np.uint8) or x / x.max()."
        )
    x = torch.from_numpy(np.ascontiguousarray(scaled)).permute(0, 3, 1, 2).contiguous()
    return _resize_tensor(x, size) if size is not None else x


def _resize_tensor(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Scale ``[N, C, H, W]`` so it covers ``size``, then crop the centre (no distortion)."""
    h, w = x.shape[-2:]
    if (h, w) == tuple(size):
        return x
    scale = max(size[0] / h, size[1] / w)
    covered = (max(size[0], round(h * scale)), max(size[1], round(w * scale)))
    x = F.interpolate(x, size=covered, mode="bilinear", antialias=True, align_corners=False)
    top, left = (covered[0] - size[0]) // 2, (covered[1] - size[1]) // 2
    return x[..., top : top + size[0], left : left + size[1]].clamp(0, 1).contiguous()
