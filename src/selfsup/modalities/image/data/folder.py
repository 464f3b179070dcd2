"""Reading a folder of image files into uint8 pixels (see :mod:`selfsup.modalities.image.data.arrays`)."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from selfsup.data.base import DataBundle
from selfsup.data.splits import split_bundle
from selfsup.errors import SelfsupError

IMAGE_EXTENSIONS = (
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm",
)
MIXED_SIZE_DEFAULT = 64
_GRAY_MODES = {"1", "L", "LA", "La", "I", "F"} | {"I;16", "I;16B", "I;16L", "I;16N"}
_TEST_DIR_NAMES = ("test", "val", "valid", "validation")
_MAX_NAMED_FILES = 10  # per-file notes beyond this are summarised in one line


def read_folder(
    root: Path, seed: int, test_fraction: float, size: tuple[int, int] | None
) -> DataBundle:
    """Decode every image under ``root`` once; labels from class sub-folders (module doc of
    :mod:`selfsup.modalities.image.data.arrays`). ``size`` is (H, W), or None to keep a common size."""
    notes: list[str] = []
    subdirs = {p.name.lower(): p for p in _visible(root) if p.is_dir()}
    test_dir = next((subdirs[n] for n in _TEST_DIR_NAMES if n in subdirs), None)
    if "train" in subdirs and test_dir is not None and not _image_files(root, recursive=False):
        parts = [_list_images(subdirs["train"]), _list_images(test_dir)]
        if (parts[0][1] is None) != (parts[1][1] is None):
            raise SelfsupError(
                f"In {root}, one of train/ and {test_dir.name}/ has class sub-folders and the "
                "other has not; give both the same layout."
            )
        notes.append(
            f"Used {root.name}/train for training, {root.name}/{test_dir.name} as the test split."
        )
    else:
        parts = [_list_images(root)]
    files = [f for p in parts for f in p[0]]
    owner = np.concatenate([np.full(len(p[0]), i) for i, p in enumerate(parts)])
    labeled = parts[0][1] is not None
    class_names = sorted({n for p in parts for n in p[1]}) if labeled else None
    label_of = np.array([n for p in parts for n in p[1]]) if labeled else None
    for p in parts:
        notes += p[2]

    pixels, kept, decode_notes = _decode_images(root, files, size)
    notes += decode_notes
    # kept uint8: made float / 255 on the device (PixelsToFloat)
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
    owner = owner[kept]
    y = None
    if labeled:
        y = torch.from_numpy(np.searchsorted(class_names, label_of[kept]).astype(np.int64))
    if len(parts) == 2:
        train, test = torch.from_numpy(owner == 0), torch.from_numpy(owner == 1)
        if not bool(test.any()) or not bool(train.any()):
            raise SelfsupError(f"No readable images in the train or test folder of {root}.")
        return DataBundle(
            root.name, "image", x[train], None if y is None else y[train],
            x[test], None if y is None else y[test], class_names, notes,
        )
    return split_bundle(root.name, "image", x, y, class_names, seed, test_fraction, notes)


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _image_files(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p for p in found
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _list_images(folder: Path) -> tuple[list[Path], list[str] | None, list[str]]:
    """Image files under ``folder`` and their class names (None when flat), plus notes."""
    flat = _image_files(folder, recursive=False)
    class_dirs = [p for p in _visible(folder) if p.is_dir()]
    per_class = {d.name: _image_files(d, recursive=True) for d in class_dirs}
    nonempty = {name: fs for name, fs in per_class.items() if fs}
    if flat and nonempty:
        raise SelfsupError(
            f"{folder} holds images both directly ({flat[0].name}, …) and in sub-folders "
            f"({', '.join(sorted(nonempty))}). Put every image in a class sub-folder "
            "(labeled), or all of them directly in the folder (unlabeled)."
        )
    if flat:
        return flat, None, []
    if not nonempty:
        others = sorted({p.suffix.lower() or p.name for p in folder.rglob("*") if p.is_file()})
        found = f" Found only: {', '.join(others[:10])}." if others else " The folder is empty."
        hint = " To read an array, pass the .npy/.npz file itself." if (
            ".npy" in others or ".npz" in others) else ""
        raise SelfsupError(
            f"No images found in {folder}. Image files are read by extension: "
            f"{', '.join(IMAGE_EXTENSIONS)}.{found}{hint}"
        )
    notes = [f"Sub-folder {folder.name}/{n} holds no images; ignored."
             for n in sorted(set(per_class) - set(nonempty))]
    files = [f for name in sorted(nonempty) for f in nonempty[name]]
    labels = [name for name in sorted(nonempty) for _ in nonempty[name]]
    return files, labels, notes


def _probe(file: Path) -> tuple[tuple[int, int], str] | Exception:
    """(width, height), mode from the header alone, or the error that opening raised."""
    from PIL import Image

    try:
        with Image.open(file) as im:
            return im.size, im.mode
    except Exception as error:  # any decoder failure means "unreadable file": skip it
        return error


def _decode(file: Path, channels: int, size: tuple[int, int]) -> np.ndarray | Exception:
    """Fully decode one file to uint8 ``[H, W, C]`` at ``size`` (H, W)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(file) as im:
            im.load()  # truncated files only fail here, not in the header probe
            if im.mode.startswith("I") or im.mode == "F":
                wide = np.asarray(im, dtype=np.float32)
                scale = 1 / 257 if (im.mode.startswith("I;16") or wide.max() > 255) else 1.0
                scale = 255.0 if im.mode == "F" and wide.max() <= 1.0 else scale
                im = Image.fromarray(np.clip(wide * scale, 0, 255).astype(np.uint8), "L")
            elif im.mode == "P":
                im = im.convert("RGBA")  # palette transparency needs RGBA before dropping it
            im = im.convert("L" if channels == 1 else "RGB")
            if im.size != (size[1], size[0]):
                im = ImageOps.fit(im, (size[1], size[0]), method=Image.Resampling.BICUBIC)
            array = np.asarray(im, dtype=np.uint8)
    except Exception as error:
        return error
    return array[..., None] if array.ndim == 2 else array


def _decode_images(
    root: Path, files: list[Path], size: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode ``files`` into uint8 ``[N, H, W, C]``; unreadable ones are skipped with a note."""
    workers = min(8, os.cpu_count() or 1)  # PIL releases the GIL while decoding
    with ThreadPoolExecutor(workers) as pool:
        headers = list(pool.map(_probe, files))
        ok = [i for i, h in enumerate(headers) if not isinstance(h, Exception)]
        notes: list[str] = []
        if ok:
            channels = 1 if all(headers[i][1] in _GRAY_MODES for i in ok) else 3
            sizes = {(headers[i][0][1], headers[i][0][0]) for i in ok}
            if size is None and len(sizes) == 1:
                size = sizes.pop()
            elif size is None:
                size = (MIXED_SIZE_DEFAULT, MIXED_SIZE_DEFAULT)
                notes.append(
                    f"Images in {root} have {len(sizes)} different sizes; all were resized "
                    f"(shorter side, centre crop) to {size[0]}x{size[1]}. "
                    "Pass image_size to choose."
                )
            decoded = list(pool.map(lambda i: _decode(files[i], channels, size), ok))
        else:
            decoded = []
    failures = {i: h for i, h in enumerate(headers) if isinstance(h, Exception)}
    failures.update({i: d for i, d in zip(ok, decoded) if isinstance(d, Exception)})
    kept = np.array([i for i, d in zip(ok, decoded) if not isinstance(d, Exception)], dtype=int)
    if len(kept) == 0:
        first = min(failures)
        raise SelfsupError(
            f"None of the {len(files)} image files in {root} could be read (first: "
            f"{files[first]}: {failures[first]}). Check that they are valid image files."
        )
    if failures:
        named = sorted(failures)[:_MAX_NAMED_FILES]
        skipped = [f"Skipped unreadable image {files[i]} ({type(failures[i]).__name__})"
                   for i in named]
        if len(failures) > len(named):
            skipped.append(f"… and {len(failures) - len(named)} more unreadable images skipped.")
        notes += skipped
        warnings.warn(
            f"Skipped {len(failures)} unreadable image file(s) in {root}, e.g. {files[named[0]]}.",
            stacklevel=3,
        )
    pixels = np.stack([d for d in decoded if not isinstance(d, Exception)])
    return pixels, kept, notes

