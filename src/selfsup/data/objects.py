"""Data passed in memory through the API: arrays, tensors and DataFrames -> a DataSource.

``selfsup.pretrain(data=x)`` takes, besides a built-in name, a path or a
:class:`~selfsup.data.DataSource`:

- a NumPy array or torch tensor ``x``; a pair ``(x, y)``; a dict with key ``x`` and optionally
  ``y``, ``x_test``, ``y_test`` (the ``.npz`` convention of every array reader). Images from torch
  (tensors, a Dataset's items) may be channels-first ``[N, C, H, W]``, torch's convention; NumPy
  images are channels-last, as in files; audio is waveforms ``[N, T]`` (NaN after a shorter clip's
  end) at ``data.options.sample_rate`` (16 kHz unless set), as in an ``.npz`` without a rate;
- a pandas DataFrame (tables, interactions, event sequences), with ``data.options`` naming its
  columns as for a file (``target``, ``user``, ``entity`` …);
- a torch map-style ``Dataset`` whose items are an input, ``(input, label)`` or a dict with ``x``
  (and ``y``): its items are stacked into arrays (inputs may be tensors, arrays or PIL images);
- a Hugging Face ``datasets.Dataset`` (or, on the CLI, a folder written by ``save_to_disk``):
  ``data.options.column`` names the input column (default: an ``Image`` column, else ``x``, else
  the only column besides the label) and
  ``data.options.target`` the label (default ``label`` where there is one); images decode to
  arrays. Images are decoded batch by batch from the memory-mapped Arrow files (the image
  modality's ``read_object``), so a set larger than memory trains; series are read
  into memory, and for tables, events and interactions the whole dataset becomes a DataFrame;
- a list of strings, or a pair ``(texts, labels)`` (text: the text modality reads it, with
  ``data.options`` as for a text file);
- a PyTorch Geometric ``Data`` graph: its tensors (``x``, ``edge_index``, ``y``, masks) as the keys
  of the graph reader's ``.npz``.

**The same data, the same result as from a file.** The object is handed to the modality's own
reader exactly as if it had been saved (arrays as an ``.npz`` archive, a DataFrame as Parquet) in
a private temporary folder that is removed once the data is read — so every check, split and note
is the file path's, and an error names ``in_memory.npz`` (key ``x``, …) or the DataFrame's row.
The cost is one copy on disk while reading; data larger than memory belongs in a ``.npy`` file
(memory-mapped).

**Which modality.** ``modality=`` when given; else the modality the method is written for (``ts2vec``
-> timeseries, ``scarf`` -> tabular); else unambiguous shapes only: ``uint8`` arrays are images,
a list of strings is text, and a DataFrame is a table. Anything else (a float array ``[N, 8, 8]``
could be 8×8 images or series of 8 steps × 8 channels) is one error asking for ``modality=``.

**What the run records.** There is no path to write into ``config.yaml``: ``data.name`` says what
was passed (type, shape, dtype and a content hash), e.g. ``in-memory uint8 array [1797, 8, 8]
sha1:3f2a…``, so two runs on the same array can be told apart from two on different ones.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from selfsup.data.hf import hf_columns, hf_image_columns, is_hf
from selfsup.errors import SelfsupError

#: keys of an in-memory array dict (the ``.npz`` convention)
ARRAY_KEYS = ("x", "y", "x_test", "y_test")
#: modalities whose readers take array archives / tables
ARRAY_MODALITIES = ("image", "timeseries", "audio")
FRAME_MODALITIES = ("tabular", "interactions", "events")


def is_data_object(data: Any) -> bool:
    """True for what this module reads: not a name or path, not a DataSource."""
    from selfsup.data.base import DataSource

    return data is not None and not isinstance(data, (str, Path, DataSource))


def _to_numpy(value: Any, key: str) -> np.ndarray:
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)) and key in ("y", "y_test"):
        return np.asarray(value)
    raise SelfsupError(
        f"data[{key!r}] is a {type(value).__name__}; selfsup takes NumPy arrays or torch tensors there "
        "(labels may also be a list)."
    )


def as_arrays(data: Any) -> dict[str, np.ndarray] | None:
    """``data`` as ``{"x", "y"?, "x_test"?, "y_test"?}`` of NumPy arrays, or None for a DataFrame."""
    if _is_frame(data) or is_hf(data):
        return None
    if _is_torch_dataset(data):
        return _torch_dataset_arrays(data)
    if isinstance(data, Mapping):
        unknown = sorted(set(map(str, data)) - set(ARRAY_KEYS))
        if unknown or "x" not in data:
            raise SelfsupError(
                f"A dict passed as data needs key 'x' and may hold {', '.join(ARRAY_KEYS[1:])}; got keys "
                f"{', '.join(map(repr, data)) or 'none'}" + (f" ({', '.join(unknown)} unknown)." if unknown else ".")
            )
        return {k: _to_numpy(v, k) for k, v in data.items() if v is not None}
    if isinstance(data, tuple):
        if len(data) != 2:
            raise SelfsupError(f"A tuple passed as data is (x, y); got {len(data)} items.")
        return {"x": _to_numpy(data[0], "x"), "y": _to_numpy(data[1], "y")}
    try:
        return {"x": _to_numpy(data, "x")}
    except SelfsupError:
        raise SelfsupError(
            f"selfsup cannot read a {type(data).__name__} as data. Pass a NumPy array or torch tensor, (x, y), "
            "a dict with x / y / x_test / y_test, a pandas DataFrame, a DataSource, a built-in name or a path."
        ) from None


def _is_pyg(data: Any) -> bool:
    return type(data).__module__.startswith("torch_geometric") and hasattr(data, "edge_index")


def _pyg_arrays(data: Any) -> dict[str, np.ndarray]:
    """A PyG ``Data`` as the graph reader's ``.npz`` keys (its tensors: x, edge_index, y, masks, …)."""
    import torch

    return {key: value.detach().cpu().numpy() for key, value in data.items() if isinstance(value, torch.Tensor)}


def _is_torch_dataset(data: Any) -> bool:
    from torch.utils.data import Dataset

    return isinstance(data, Dataset) and not isinstance(data, (np.ndarray,))


def _stack(values: list[Any], what: str) -> np.ndarray:
    try:
        return np.stack([v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v) for v in values])
    except (ValueError, TypeError) as error:
        shapes = sorted({str(np.shape(v)) for v in values[:1000]})[:4]
        raise SelfsupError(f"The {what} cannot be stacked into one array (shapes {', '.join(shapes)}): {error}") from None


def materialize(data: Any) -> Any:
    """A torch Dataset's items stacked once into ``{"x", "y"?}`` tensors (the layout stays torch's:
    images channels-first), so inferring, describing and reading it do not iterate it again;
    anything else as it is."""
    import torch

    if not _is_torch_dataset(data):
        return data
    return {key: torch.from_numpy(value) for key, value in _torch_dataset_arrays(data).items()}


def _torch_dataset_arrays(data: Any) -> dict[str, np.ndarray]:
    """A map-style Dataset's items stacked: an input, ``(input, label)`` or ``{"x": …, "y": …}``."""
    try:
        n = len(data)
    except TypeError:
        raise SelfsupError("A torch Dataset passed as data must be map-style (have a length); "
                           f"{type(data).__name__} has none.") from None
    xs, ys = [], []
    for i in range(n):
        item = data[i]
        if isinstance(item, Mapping):
            if "x" not in item:
                raise SelfsupError(f"Item {i} of the {type(data).__name__} is a dict without key 'x' "
                                   f"(keys {', '.join(map(str, item))}); give the input as x, the label as y.")
            x, y = item["x"], item.get("y")
        elif isinstance(item, (tuple, list)):
            if len(item) != 2:
                raise SelfsupError(f"Item {i} of the {type(data).__name__} has {len(item)} parts; selfsup reads "
                                   "an input, (input, label) or a dict with x and y.")
            x, y = item
        else:
            x, y = item, None
        xs.append(x)
        ys.append(y)
    labeled = [y is not None for y in ys]
    if any(labeled) and not all(labeled):
        raise SelfsupError(f"Item {labeled.index(not labeled[0])} of the {type(data).__name__} has "
                           f"{'no ' if labeled[0] else 'a '}label, unlike item 0; give every item a label or none.")
    arrays = {"x": _stack(xs, f"inputs of the {type(data).__name__}")}
    if all(labeled) and ys:
        arrays["y"] = _stack(ys, f"labels of the {type(data).__name__}")
    return arrays


def _hf_arrays(data: Any, options: dict[str, Any]) -> dict[str, np.ndarray]:
    """A Hugging Face dataset's input column (``column``) and label (``target``) as arrays."""
    column, target = hf_columns(data, options)
    arrays = {"x": _stack(list(data[column]), f"values of column {column!r}")}
    if target is not None:
        arrays["y"] = np.asarray(data[target])
    return arrays


def _is_frame(data: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with scikit-learn's users
        return False
    return isinstance(data, pd.DataFrame)


def is_texts(data: Any) -> bool:
    """A non-empty list, tuple or pandas Series of strings, or a pair ``(texts, labels)`` of one:
    text, read by the text modality's ``read_object``."""
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], str):
        data = data[0]
    if not isinstance(data, (list, tuple)) and type(data).__name__ != "Series":
        return False
    return len(data) > 0 and all(isinstance(t, str) for t in data)


def infer_modality(data: Any, method: str | None) -> str:
    """The modality of in-memory ``data`` (see the module doc), or one SelfsupError asking for it."""
    from selfsup.registry import METHODS

    own = METHODS.info(method).modality if method and method in METHODS else None
    if own is not None:
        return own
    if _is_pyg(data):
        return "graph"
    if is_texts(data):
        return "text"
    if is_hf(data):
        return "image" if hf_image_columns(data) else "tabular"
    if _is_frame(data):
        return "tabular"
    x = as_arrays(data)["x"]
    if x.dtype == np.uint8 and x.ndim in (3, 4):
        return "image"
    raise SelfsupError(
        f"Which modality does a {x.dtype} array of shape {list(x.shape)} hold? Say it with modality=: "
        "'image' ([N, H, W] or [N, H, W, C]), 'timeseries' ([N, T, C] or [N, T]), 'audio' (waveforms [N, T]) "
        "or 'tabular' ([N, F])."
    )


def describe(data: Any) -> str:
    """What was passed, for ``config.yaml``: type, shape, dtype and a content hash."""
    if _is_frame(data):
        import pandas as pd

        digest = hashlib.sha1(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes()).hexdigest()[:12]
        return f"in-memory DataFrame [{len(data)} rows x {data.shape[1]} columns] sha1:{digest}"
    if is_texts(data):
        texts, labels = (data if isinstance(data, tuple) and not isinstance(data[0], str) else (data, None))
        content = "\0".join(texts) + ("\1" + "\0".join(map(str, labels)) if labels is not None else "")
        digest = hashlib.sha1(content.encode()).hexdigest()[:12]
        labeled = " with labels" if labels is not None else ""
        return f"in-memory texts [{len(texts)}]{labeled} sha1:{digest}"
    if _is_pyg(data):
        arrays = _pyg_arrays(data)
        digest = hashlib.sha1(b"".join(np.ascontiguousarray(arrays[k]).tobytes() for k in sorted(arrays))).hexdigest()
        return f"in-memory PyG graph [{data.num_nodes} nodes, {data.num_edges} edges: {', '.join(sorted(arrays))}] " \
               f"sha1:{digest[:12]}"
    if is_hf(data):
        return f"in-memory Hugging Face dataset [{data.num_rows} rows: {', '.join(data.column_names)}] " \
               f"fingerprint:{getattr(data, '_fingerprint', '?')}"
    arrays = as_arrays(data)
    digest = hashlib.sha1()
    for key in sorted(arrays):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    x = arrays["x"]
    more = f" with {', '.join(k for k in arrays if k != 'x')}" if len(arrays) > 1 else ""
    return f"in-memory {x.dtype} array {list(x.shape)}{more} sha1:{digest.hexdigest()[:12]}"


def source_from_object(data: Any, modality: str, seed: int = 0, test_fraction: float = 0.2,
                       **options: Any) -> Any:
    """A DataSource of ``modality`` from in-memory ``data``, read by the modality's own reader."""
    from selfsup.data import load_data
    from selfsup.modality import get_modality

    native = get_modality(modality).read_object  # e.g. images streamed from a Hugging Face dataset
    if native is not None:
        source = native(data, seed=seed, test_fraction=test_fraction, **options)
        if source is not None:
            return source
    if is_hf(data):
        data = data.to_pandas() if modality in FRAME_MODALITIES else _hf_arrays(data, options)
    with tempfile.TemporaryDirectory(prefix="selfsup-data-") as folder:
        if _is_frame(data):
            if modality not in FRAME_MODALITIES:
                raise SelfsupError(
                    f"A DataFrame holds {' / '.join(FRAME_MODALITIES)} data, not {modality}; pass arrays for "
                    f"{modality} data, or modality= one of {', '.join(FRAME_MODALITIES)}."
                )
            path = Path(folder) / "in_memory.parquet"
            try:
                data.to_parquet(path, index=False)
            except ImportError:
                raise SelfsupError("A DataFrame is read through Parquet: pip install pyarrow "
                                   "(pip install selfsup[tabular]).") from None
            except Exception as error:  # noqa: BLE001 - a column pyarrow cannot store: say which
                raise SelfsupError(f"The DataFrame passed as data cannot be read: {error}") from None
        elif _is_pyg(data):
            if modality != "graph":
                raise SelfsupError(f"A PyG Data object holds a graph, not {modality} data; drop modality= or set 'graph'.")
            path = Path(folder) / "in_memory.npz"
            np.savez(path, **_pyg_arrays(data))
        else:
            if modality not in ARRAY_MODALITIES and modality != "tabular":
                raise SelfsupError(
                    f"The {modality} modality does not take arrays; pass a DataFrame, a DataSource or a path."
                )
            arrays = as_arrays(data)
            if modality == "image" and _torch_layout(data):
                arrays = {k: _channels_last(v) if k in ("x", "x_test") else v for k, v in arrays.items()}
            if modality == "tabular":
                path = _arrays_as_table(arrays, Path(folder), options)
            else:
                path = Path(folder) / "in_memory.npz"
                np.savez(path, **arrays)
        source = load_data(str(path), modality=modality, seed=seed, test_fraction=test_fraction, **options)
        # the reader may keep the data lazily (a memory-mapped file): load it while the file exists
        len(source.train)
    return source


def _torch_layout(data: Any) -> bool:
    """Images from torch (a tensor, or a Dataset's items) are channels-first by convention."""
    import torch

    x = data.get("x") if isinstance(data, Mapping) else data[0] if isinstance(data, tuple) else data
    return isinstance(x, torch.Tensor) or _is_torch_dataset(data)


def _channels_last(x: np.ndarray) -> np.ndarray:
    """``[N, C, H, W]`` with C in 1, 3, 4 -> ``[N, H, W, C]`` (what the image reader takes)."""
    if x.ndim == 4 and x.shape[1] in (1, 3, 4) and x.shape[-1] not in (1, 3, 4):
        return np.ascontiguousarray(np.moveaxis(x, 1, -1))
    return x


def _arrays_as_table(arrays: dict[str, np.ndarray], folder: Path, options: dict[str, Any]) -> Path:
    """A 2-D array ``[N, F]`` (and labels) as a table with columns ``x0 … x{F-1}`` (and ``y``)."""
    import pandas as pd

    frames = []
    for x_key, y_key in (("x", "y"), ("x_test", "y_test")):
        if x_key not in arrays:
            continue
        x = arrays[x_key]
        if x.ndim != 2:
            raise SelfsupError(f"Tabular data is a 2-D array [rows, columns]; data[{x_key!r}] has shape {list(x.shape)}.")
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
        if y_key in arrays:
            frame["y"] = arrays[y_key]
        frames.append(frame)
    if len(frames) > 1:
        raise SelfsupError("Tabular data in memory takes x and y; pass the held-out rows as their own run "
                           "or let data.test_fraction split them.")
    if "y" in frames[0]:
        options.setdefault("target", "y")
    path = folder / "in_memory.parquet"
    frames[0].to_parquet(path, index=False)
    return path
