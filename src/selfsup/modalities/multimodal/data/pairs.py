"""``--data pairs.yaml``: paired data made of per-modality files, aligned by sample id.

```yaml
parts:
  image:  {data: images.npz, modality: image}
  series: {data: series.csv, modality: timeseries, options: {...}}   # the part's reader options
id: id                 # the key (.npz) / column (table) naming each sample in every part; default id
allow_missing: false   # true: keep samples that lack a part (a mask per part; losses use the pairs that exist)
```

Paths are relative to the YAML file. Parts are aligned by their ``id`` arrays; when no part has
one, by position (then the parts must have equal sample counts). A label ``y`` in any part is the
sample's label (the first part that has one). A part must not carry its own test split: the pairs
are split, seeded and stratified, so no sample is in both splits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from selfsup.config import read_yaml
from selfsup.data.base import DataSource, np_load
from selfsup.errors import SelfsupError
from selfsup.modalities.multimodal.data.source import PairedSource, paired_source

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def _read_part(folder: Path, yaml_path: Path, name: str, description: Any, id_key: str) -> tuple[DataSource, np.ndarray | None]:
    from selfsup.data import load_data
    from selfsup.data.objects import source_from_object

    where = f"part {name!r} of {yaml_path}"
    if not isinstance(description, dict) or "data" not in description or "modality" not in description:
        raise SelfsupError(f"{where} must be a mapping with 'data' (a file) and 'modality'; got {description!r}.")
    unknown = sorted(set(description) - {"data", "modality", "options"})
    if unknown:
        raise SelfsupError(f"{where} has unknown keys {', '.join(unknown)}; a part has data, modality and options.")
    path = (folder / str(description["data"])).expanduser()
    modality, options = str(description["modality"]), dict(description.get("options") or {})
    if not path.exists():
        raise SelfsupError(f"{where}: {path} does not exist.")
    ids = None
    try:
        if path.suffix == ".npz":
            archive = np_load(path)
            arrays = {key: archive[key] for key in archive.files}
            if "x_test" in arrays:
                raise SelfsupError(f"{path} has its own test split (x_test); in paired data the pairs are split. "
                                   "Put every sample in x.")
            ids = arrays.pop(id_key, None)
            source = source_from_object(arrays, modality, seed=0, test_fraction=0.0, **options)
        elif path.suffix in TABLE_SUFFIXES and modality == "tabular":
            import pandas as pd

            frame = pd.read_parquet(path) if path.suffix in (".parquet", ".pq") else pd.read_csv(
                path, sep="\t" if path.suffix == ".tsv" else ",")
            if id_key in frame.columns:
                ids = frame.pop(id_key).to_numpy()
            source = source_from_object(frame, modality, seed=0, test_fraction=0.0, **options)
        else:
            source = load_data(str(path), modality=modality, seed=0, test_fraction=0.0, **options)
    except SelfsupError as error:
        raise SelfsupError(f"Could not read {where}: {error}") from None
    source.name = f"{yaml_path.name}:{name}"
    if ids is not None:
        ids = np.asarray([str(i) for i in np.asarray(ids).reshape(-1)]) if np.asarray(ids).ndim == 1 else np.asarray(ids)
        if ids.ndim != 1 or len(ids) != source.n_train + source.n_test:
            raise SelfsupError(f"{where}: its {id_key!r} array has {ids.size} entries for "
                               f"{source.n_train + source.n_test} samples; give one id per sample.")
        values, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise SelfsupError(f"{where}: id {values[counts > 1][0]!r} names {counts.max()} samples; ids must be unique.")
    return source, ids


def align(ids: dict[str, np.ndarray], allow_missing: bool, yaml_path: Path) -> dict[str, np.ndarray]:
    """part -> row of each sample in that part (-1: absent); samples in the first part's order, then
    the samples only other parts have."""
    names = list(ids)
    ids = {name: [str(i) for i in values] for name, values in ids.items()}
    order: list[str] = list(ids[names[0]])
    seen = set(order)
    for name in names[1:]:
        extra = [i for i in ids[name] if i not in seen]
        if extra and not allow_missing:
            raise SelfsupError(
                f"{len(extra):,} id(s) of part {name!r} are not in part {names[0]!r} (first: {extra[0]!r}) in "
                f"{yaml_path}. Fix the ids, or set allow_missing: true to keep samples that lack a part.")
        order += extra
        seen.update(extra)
    rows = {}
    for name in names:
        position = {i: r for r, i in enumerate(ids[name])}
        rows[name] = np.asarray([position.get(i, -1) for i in order], dtype=np.int64)
        missing = int((rows[name] < 0).sum())
        if missing and not allow_missing:
            first = order[int(np.argmax(rows[name] < 0))]
            raise SelfsupError(
                f"{missing:,} id(s) of part {names[0]!r} are not in part {name!r} (first: {first!r}) in {yaml_path}. "
                "Fix the ids, or set allow_missing: true to keep samples that lack a part.")
    return rows


def read_pairs(path: str | Path, seed: int = 0, test_fraction: float = 0.2) -> PairedSource:
    """The PairedSource of a ``pairs.yaml`` (module doc)."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml"):
        raise SelfsupError(f"Paired data is a pairs.yaml naming its parts (see the README); got {path}.")
    spec = read_yaml(path)
    unknown = sorted(set(spec) - {"parts", "id", "allow_missing"})
    if unknown:
        raise SelfsupError(f"{path} has unknown keys {', '.join(unknown)}; it holds parts, id and allow_missing.")
    parts = spec.get("parts")
    if not isinstance(parts, dict) or len(parts) < 2:
        count = len(parts) if isinstance(parts, dict) else 0
        raise SelfsupError(f"{path} names {count} part(s) under 'parts'; paired data needs at least two.")
    id_key = str(spec.get("id", "id"))
    allow_missing = spec.get("allow_missing", False)
    if not isinstance(allow_missing, bool):
        raise SelfsupError(f"{path}: allow_missing is true or false; got {allow_missing!r}.")
    read = {name: _read_part(path.parent, path, str(name), description, id_key)
            for name, description in parts.items()}
    with_ids = [name for name, (_, ids) in read.items() if ids is not None]
    rows = None
    if with_ids:
        without = [name for name in read if name not in with_ids]
        if without:
            raise SelfsupError(f"In {path}, part(s) {', '.join(with_ids)} have an {id_key!r} array and "
                               f"{', '.join(without)} do not; give every part ids, or none (pairs by position).")
        rows = align({name: ids for name, (_, ids) in read.items()}, allow_missing, path)
    return paired_source(path.name, {name: source for name, (source, _) in read.items()}, rows=rows, seed=seed,
                         test_fraction=test_fraction)
