"""User and item feature tables as the tensors a feature encoder (``two_tower``) embeds.

A feature table (one row per user or item, re-indexed by remapped id; RecBole's ``.user`` /
``.item`` or any table given as ``user_features`` / ``item_features``) becomes an
:class:`EntityFeatures`. Each column is read as one of three kinds, in this order:

- **numeric** — at least ``NUMERIC_SHARE`` (99 %) of the present values numbers, more than
  ``NUMERIC_MIN_DISTINCT`` (20) distinct (ml-100k's ``age``, and ``release_year``, where two
  items say ``unkonwn`` and ``V``): standardised, a missing or non-numeric value is 0 (the mean);
- **multi-valued** — space-separated tokens (RecBole's ``token_seq``; ml-100k's genres ``class``):
  a row's tokens, padded with 0;
- **categorical** — anything else (``gender``, ``occupation``): a code per category, 0 for
  unknown or missing.

A categorical column with more distinct values than half its present rows (a zip code), or a
multi-valued one with more distinct tokens (the words of movie titles), is an id in disguise: it
is left out; the feature encoder says so (``EntityFeatures.left_out``). Numbers stay
out of the catalogue: a feature table is small next to its interactions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

NUMERIC_MIN_DISTINCT = 20
NUMERIC_SHARE = 0.99
NUMERIC_BINS = 8  # quantile bins of a numeric feature when it is counted as categories (CFM's MI)


@dataclass
class EntityFeatures:
    """Features of ``rows`` users or items, rows by remapped id.

    Attributes:
        categorical: ``[rows, C]`` int64 codes, 0 = unknown; ``cardinalities[c]`` counts the
            codes of column ``c`` including 0.
        tokens: one ``[rows, L_k]`` int64 tensor per multi-valued column (0 pads);
            ``vocabularies[k]`` counts its tokens including 0.
        numeric: ``[rows, M]`` float32, standardised.
        names: the feature names in the order categorical, multi-valued, numeric.
        left_out: what was not made a feature and why, for the encoder to say.
    """

    categorical: torch.Tensor
    cardinalities: list[int]
    tokens: list[torch.Tensor]
    vocabularies: list[int]
    numeric: torch.Tensor
    names: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return int(self.categorical.shape[0])

    def __len__(self) -> int:
        """The number of features."""
        return len(self.names)

    def schema(self) -> dict[str, Any]:
        """What rebuilds these features' shapes (``encoder.json``); the values come with the weights."""
        return {"names": self.names, "cardinalities": self.cardinalities, "vocabularies": self.vocabularies,
                "token_lengths": [int(t.shape[1]) for t in self.tokens], "numeric": int(self.numeric.shape[1])}

    @classmethod
    def empty_like(cls, schema: dict[str, Any], rows: int) -> EntityFeatures:
        """Zero features of ``schema``'s shapes (filled later from a saved encoder's weights)."""
        return cls(
            categorical=torch.zeros(rows, len(schema["cardinalities"]), dtype=torch.long),
            cardinalities=[int(c) for c in schema["cardinalities"]],
            tokens=[torch.zeros(rows, int(n), dtype=torch.long) for n in schema["token_lengths"]],
            vocabularies=[int(v) for v in schema["vocabularies"]],
            numeric=torch.zeros(rows, int(schema["numeric"])), names=list(schema["names"]),
        )

    def codes(self) -> torch.Tensor:
        """``[rows, F]`` int64: every feature as categories, for counting (mutual information).
        A multi-valued feature's category is its whole set of tokens; a numeric one's is its
        quantile bin (``NUMERIC_BINS``)."""
        return feature_codes(self.categorical, self.tokens, self.numeric)


def feature_codes(categorical: torch.Tensor, tokens: list[torch.Tensor], numeric: torch.Tensor) -> torch.Tensor:
    """:meth:`EntityFeatures.codes` from the three parts (an encoder keeps them as buffers)."""
    columns = [categorical[:, c] for c in range(categorical.shape[1])]
    columns += [torch.unique(t, dim=0, return_inverse=True)[1] for t in tokens]
    for m in range(numeric.shape[1]):
        values = numeric[:, m].float()
        edges = torch.quantile(values, torch.linspace(0, 1, NUMERIC_BINS + 1)[1:-1])
        columns.append(torch.bucketize(values, torch.unique(edges)))
    if not columns:
        return torch.zeros(categorical.shape[0], 0, dtype=torch.long)
    return torch.stack(columns, 1).long()


def entity_features(table: pd.DataFrame | None, where: str) -> EntityFeatures | None:
    """The features of a feature table already re-indexed by remapped id (its id column removed);
    None without a table or without a usable column. ``where`` names the table in messages."""
    if table is None or table.shape[1] == 0:
        return None
    categorical, cardinalities, tokens, vocabularies, numeric = [], [], [], [], []
    names: dict[str, list[str]] = {"categorical": [], "tokens": [], "numeric": []}
    dropped = []
    for column in table.columns:
        text = table[column].astype("string").str.strip()
        present = text.notna() & (text != "")
        if not present.any():
            continue
        values = text[present]
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().mean() >= NUMERIC_SHARE and numbers.nunique() > NUMERIC_MIN_DISTINCT:
            column_values = np.zeros(len(table), dtype=np.float32)
            spread = float(numbers.std()) or 1.0
            standard = ((numbers - numbers.mean()) / spread).fillna(0.0)
            column_values[present.to_numpy()] = standard.to_numpy(dtype=np.float32)
            numeric.append(column_values)
            names["numeric"].append(str(column))
            continue
        multi = bool(values.str.contains(" ").any())
        lists = text.fillna("").str.split() if multi else None
        distinct = len({t for row in lists for t in row}) if multi else values.nunique()
        if distinct > max(1, len(values) // 2) and len(values) > NUMERIC_MIN_DISTINCT:
            dropped.append(f"{column} ({distinct:,} distinct {'tokens' if multi else 'values'} in {len(values):,} rows)")
            continue
        if multi:
            vocabulary = {token: i + 1 for i, token in enumerate(sorted({t for row in lists for t in row}))}
            width = max(1, max(len(row) for row in lists))
            padded = np.zeros((len(table), width), dtype=np.int64)
            for r, row in enumerate(lists):
                padded[r, :len(row)] = [vocabulary[t] for t in row]
            tokens.append(torch.from_numpy(padded))
            vocabularies.append(len(vocabulary) + 1)
            names["tokens"].append(str(column))
            continue
        categories = {value: i + 1 for i, value in enumerate(sorted(set(values.tolist())))}
        categorical.append(np.array([categories.get(v, 0) if ok else 0 for v, ok in
                                     zip(text.fillna("").tolist(), present.tolist())], dtype=np.int64))
        cardinalities.append(len(categories) + 1)
        names["categorical"].append(str(column))
    left_out = []
    if dropped:
        left_out.append(f"{where}: left out of the features (more distinct values than half the rows: an id, not a "
                        f"feature): {', '.join(dropped)}.")
    if not (categorical or tokens or numeric):
        return None
    rows = len(table)
    return EntityFeatures(
        categorical=torch.from_numpy(np.stack(categorical, 1)) if categorical else torch.zeros(rows, 0, dtype=torch.long),
        cardinalities=cardinalities, tokens=tokens, vocabularies=vocabularies,
        numeric=torch.from_numpy(np.stack(numeric, 1)) if numeric else torch.zeros(rows, 0),
        names=names["categorical"] + names["tokens"] + names["numeric"], left_out=left_out,
    )
