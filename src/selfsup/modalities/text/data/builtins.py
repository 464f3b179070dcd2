"""The built-in ``fortunes``: Debian's fortune cookies, offline.

The English fortunes of the ``fortunes`` and ``fortunes-min`` packages
(``/usr/share/games/fortunes/<category>``; records separated by lines holding only ``%``), about
15,000 texts in 40 categories. The label is the category; categories with fewer than
``min_texts`` (100) texts are left out, and a note names them. The offensive ``off/`` folder and
the ``.dat`` / ``.u8`` index files are not read. As for every built-in, the run's seed chooses the
split, never the data; ``limit`` keeps a fixed random subset (the same for every seed).

``bible_verses`` lives in :mod:`.bible`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import TextSpec
from selfsup.modalities.text.data.source import TextSource, text_source
from selfsup.registry import DATASETS

FORTUNES_DIR = Path("/usr/share/games/fortunes")
#: files beside the categories that are not categories
SKIPPED_SUFFIXES = (".dat", ".u8")
RECORD_SEPARATOR = re.compile(r"^%[ \t]*$", re.MULTILINE)


def fortune_records(folder: Path = FORTUNES_DIR) -> dict[str, list[str]]:
    """Category -> its fortunes (stripped, empty records skipped), or one SelfsupError naming the
    Debian packages when none are installed."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix not in SKIPPED_SUFFIXES) \
        if folder.is_dir() else []
    if not files:
        raise SelfsupError(f"The built-in fortunes reads Debian's fortune files in {folder}, which are not installed. "
                           "Install them with: sudo apt-get install fortunes fortunes-min.")
    records = {}
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        records[path.name] = [r.strip() for r in RECORD_SEPARATOR.split(text) if r.strip()]
    return records


def subsample(n: int, limit: int | None, what: str = "texts") -> np.ndarray:
    """Sorted indices of a fixed random subset of ``limit`` of ``n`` items (all when ``limit`` is
    None or at least ``n``): the data is the same whatever the run's seed."""
    if limit is None or limit >= n:
        return np.arange(n)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 2:
        raise SelfsupError(f"data.options.limit must be a whole number of at least 2 {what}; got {limit!r}.")
    return np.sort(np.random.default_rng(0).permutation(n)[:limit])


@DATASETS.register("fortunes", modality="text", n=14_691,
                   description="Debian's English fortune cookies (fortunes, fortunes-min): 14,691 texts in 32 "
                   "categories of >= 100 texts (label: category)")
def fortunes(seed: int = 0, test_fraction: float = 0.2, min_texts: int = 100, limit: int | None = None,
             vocab_size: int = 8000, tokenizer_type: str = "bpe", tokenizer: str | None = None, max_length: int = 128,
             lowercase: bool = True, input_spec: TextSpec | None = None) -> TextSource:
    """The fortunes built-in (module doc); the tokenisation options are the text reader's
    (:func:`~selfsup.modalities.text.data.readers.read_text`)."""
    tokenization = {"vocab_size": vocab_size, "tokenizer_type": tokenizer_type, "tokenizer": tokenizer,
                    "max_length": max_length, "lowercase": lowercase, "input_spec": input_spec}
    records = fortune_records()
    kept = {c: texts for c, texts in records.items() if len(texts) >= min_texts}
    if not kept:
        raise SelfsupError(f"No fortune category has {min_texts} texts (data.options.min_texts); the largest has "
                           f"{max(map(len, records.values()))}.")
    notes = []
    left_out = sorted(set(records) - set(kept))
    if left_out:
        dropped = sum(len(records[c]) for c in left_out)
        notes.append(f"fortunes: {len(left_out)} categories with fewer than {min_texts} texts are left out ({dropped} "
                     f"texts): {', '.join(left_out)}.")
    texts = [t for c in kept for t in kept[c]]
    labels = [c for c in kept for _ in kept[c]]
    chosen = subsample(len(texts), limit)
    return text_source([texts[i] for i in chosen], [labels[i] for i in chosen], name="fortunes", seed=seed,
                       test_fraction=test_fraction, notes=notes, row_name=lambda p: f"fortune {p}", **tokenization)

