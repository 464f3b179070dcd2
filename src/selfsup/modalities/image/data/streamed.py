"""Image arrays larger than memory: a ``uint8`` ``.npy`` read batch by batch from disk.

The file is never loaded whole. Each batch's rows are read with ``os.pread`` at their offsets
(sorted, so a batch reads forward through the file) into a fresh buffer; the pages go to the
kernel's file cache, which the kernel reclaims under pressure, and the process keeps only the
batch. (A ``np.memmap`` would do the same reads, but the mapped pages it touches count in the
process's resident memory until unmapped, so one epoch over a 4 GB file shows a 4 GB RSS.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from selfsup.data.base import DataSource
from selfsup.errors import SelfsupError
from selfsup.modalities.image.data.source import ImageSpec, PixelsToFloat

# A uint8 .npy larger than this is streamed from disk instead of loaded.
STREAM_BYTES = 1 << 30


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """``(shape, dtype, fortran_order, data offset)`` of a ``.npy`` file, read from its header."""
    try:
        with open(path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(f)
            return tuple(shape), dtype, fortran, f.tell()
    except (OSError, ValueError) as error:
        raise SelfsupError(f"Could not read {path} as a NumPy .npy file: {error}") from None


def large_uint8_npy(path: Path, limit: int = STREAM_BYTES) -> bool:
    """Whether ``path`` is a C-ordered ``uint8`` ``.npy`` of more than ``limit`` bytes."""
    shape, dtype, fortran, _ = npy_header(path)
    return dtype == np.uint8 and not fortran and int(np.prod(shape, dtype=np.int64)) > limit


class NpyImageRows(Dataset):
    """Map-style dataset over the rows of a ``uint8`` ``.npy`` of images ``[N, H, W(, C)]``.

    ``__getitems__`` reads a whole batch (one ``pread`` per row, in file order) and returns the
    batch dict with ``x`` ``uint8`` ``[B, C, H, W]``."""

    def __init__(self, path: Path) -> None:
        shape, _, _, offset = npy_header(path)
        if len(shape) == 3:
            shape = (*shape, 1)
        if len(shape) != 4 or shape[-1] not in (1, 3):
            raise SelfsupError(
                f"{path} has shape {list(shape)}; images must be [N, H, W] or [N, H, W, C] with C "
                "in 1 or 3 (channels last)."
            )
        if shape[0] == 0:
            raise SelfsupError(f"{path} holds no samples (shape {list(shape)}).")
        self.path, self.shape, self.offset = Path(path), shape, offset
        self.row_bytes = int(np.prod(shape[1:]))
        expected = offset + shape[0] * self.row_bytes
        if os.path.getsize(path) < expected:
            raise SelfsupError(f"{path} is truncated: its header promises {expected} bytes, the file has "
                               f"{os.path.getsize(path)}.")
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return self.shape[0]

    def _file(self) -> int:
        # one descriptor per process (DataLoader workers fork)
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        return self._fd

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        index = torch.as_tensor(indices, dtype=torch.long)
        order = torch.argsort(index)
        out = np.empty((len(indices), self.row_bytes), dtype=np.uint8)
        fd = self._file()
        for slot in order.tolist():
            row = int(index[slot])
            data = os.pread(fd, self.row_bytes, self.offset + row * self.row_bytes)
            out[slot] = np.frombuffer(data, dtype=np.uint8)
        x = torch.from_numpy(out.reshape(len(indices), *self.shape[1:])).permute(0, 3, 1, 2).contiguous()
        return {"x": x, "index": index}

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {k: v[0] for k, v in self.__getitems__([i]).items()}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fd": None, "_pid": -1}


def streamed_npy_source(path: Path) -> DataSource:
    """An unlabeled image DataSource over a large ``uint8`` ``.npy``, read from disk per batch."""
    rows = NpyImageRows(path)
    _, h, w, c = rows.shape
    return DataSource(
        name=Path(path).stem,
        modality="image",
        train=rows,
        input_spec=ImageSpec(c, h, w),
        notes=[f"{Path(path).name} is larger than {STREAM_BYTES >> 20} MiB: batches are read from the file, "
               "not loaded into memory."],
        on_device=PixelsToFloat(255.0),
    )
