"""Texts (and labels) -> :class:`TextSource`: empty texts dropped, a seeded stratified split, a
tokenizer trained on the training split (or the user's, or a run's), every text encoded once.
:func:`text_source` is also the Python API for texts already in memory::

    from selfsup.modalities.text import text_source
    source = text_source(["a first text", "another one", ...], labels=[...])
    selfsup.pretrain(data=source, method="simcse")
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from selfsup.data import DataSource
from selfsup.data.splits import check_fraction, encode_labels, stratified_split
from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import TextSpec
from selfsup.modalities.text.data.dataset import TextDataset, collate_text
from selfsup.modalities.text.data.sampler import LengthBucketSampler
from selfsup.modalities.text.data.tokenizer import (
    check_max_length,
    encode_texts,
    load_tokenizer,
    tokenizer_from_json,
    train_tokenizer,
)

#: how much of a text the report prints beside its nearest neighbours
SAMPLE_CHARS = 120


@dataclass
class TextSource(DataSource):
    """A text DataSource; it keeps the texts of each split (the report prints them) and gives the
    run its ``tokenizer.json`` and length-bucketed training batches."""

    texts_train: list[str] = field(default_factory=list)
    texts_test: list[str] | None = None

    def run_files(self) -> dict[str, str]:
        return {"tokenizer.json": self.input_spec.tokenizer}

    def sample_text(self, test: bool, i: int) -> str | None:
        texts = self.texts_test if test else self.texts_train
        if texts is None or not 0 <= i < len(texts):
            return None
        text = " ".join(texts[i].split())  # one line in the report
        return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1] + "…"

    def check_resumed(self, run_dir: Path) -> None:
        check_resumed_tokenizer(self, run_dir)

    def train_sampler(self, seed: int, batch_size: int) -> torch.utils.data.Sampler:
        return LengthBucketSampler(self.train, self.train.store.lengths, seed, batch_size)

    def describe(self) -> dict[str, Any]:
        # the tokenizer's JSON is the run's tokenizer.json; metrics.json names it instead of copying it
        described = super().describe()
        digest = hashlib.sha1(self.input_spec.tokenizer.encode()).hexdigest()[:12]
        described["tokenizer"] = f"tokenizer.json ({self.input_spec.vocab_size} ids, sha1:{digest})"
        return described


def text_source(
    texts: Sequence[str],
    labels: Sequence[Any] | np.ndarray | None = None,
    name: str = "texts",
    seed: int = 0,
    test_fraction: float = 0.2,
    vocab_size: int = 8000,
    tokenizer_type: str = "bpe",
    tokenizer: str | Path | None = None,
    max_length: int = 128,
    lowercase: bool = True,
    input_spec: TextSpec | None = None,
    row_name: Callable[[int], str] | None = None,
    split: tuple[np.ndarray, np.ndarray] | None = None,
    notes: Sequence[str] = (),
    source_type: type[TextSource] = TextSource,
    **extra: Any,
) -> TextSource:
    """The DataSource of ``texts``.

    Args:
        texts: one string per sample; empty (or blank) ones are dropped, with a note.
        labels: one label per text (any type), or None for unlabeled texts.
        name: what the data is called (errors and the run's metrics name it).
        seed / test_fraction: the seeded stratified split of labeled texts (unlabeled texts all
            train).
        vocab_size / tokenizer_type / lowercase: the vocabulary trained on the training split
            (``"bpe"`` or ``"wordpiece"``).
        tokenizer: the path of the user's ``tokenizer.json``, used instead of training one.
        max_length: the longest sequence, ``[CLS]`` and ``[SEP]`` included; longer texts are cut.
        input_spec: a trained run's spec: its tokenizer and ``max_length`` are used.
        row_name: how an error or note names text ``p`` (the file reader says the line).
        split: ``(train, test)`` indices into the kept texts, instead of the stratified split
            (``bible_verses`` splits by verse reference).
        notes: the reader's notes, said before this function's.
        source_type / extra: a :class:`TextSource` subclass and its own fields.
    """
    check_fraction(test_fraction)
    row_name = row_name or (lambda p: f"text {p} of {name}")
    notes = list(notes)
    texts = list(texts)
    bad = next((p for p, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise SelfsupError(f"{row_name(bad)} is a {type(texts[bad]).__name__}, not a string; every text must be a string.")
    if labels is not None and len(labels) != len(texts):
        raise SelfsupError(f"{name} has {len(texts)} texts but {len(labels)} labels; they must match one to one.")
    if labels is not None:
        missing = next((p for p, label in enumerate(labels) if is_missing(label)), None)
        if missing is not None:
            raise SelfsupError(f"{row_name(missing)} has no label; give every text a label, or none (no target).")
    kept = np.flatnonzero([bool(t.strip()) for t in texts])
    if len(kept) < len(texts):
        empty = np.setdiff1d(np.arange(len(texts)), kept)
        where = ", ".join(row_name(int(p)) for p in empty[:3]) + (", …" if len(empty) > 3 else "")
        notes.append(f"{len(empty)} empty text(s) skipped ({where}).")
        texts = [texts[p] for p in kept]
        labels = [labels[p] for p in kept] if labels is not None else None
    if not texts:
        raise SelfsupError(f"{name} has no text (every sample is empty).")
    y_all, class_names = None, None
    if labels is not None:
        (y_all,), class_names = encode_labels([("target", np.asarray(labels), len(texts))], name)
    train_ids, test_ids = np.arange(len(texts)), np.zeros(0, dtype=np.int64)
    if split is not None:
        train_ids, test_ids = (np.asarray(ids, dtype=np.int64) for ids in split)
    elif y_all is not None and test_fraction > 0:
        train_ids, test_ids, split_notes = stratified_split(y_all.numpy(), test_fraction, seed, class_names)
        notes += split_notes
    train_texts = [texts[p] for p in train_ids]
    if not any(t.strip() for t in train_texts):
        raise SelfsupError(f"The training split of {name} has no text; give more texts or a smaller test_fraction.")

    if input_spec is not None:  # a run's: encode as in training
        max_length = input_spec.max_length
        fitted = tokenizer_from_json(input_spec.tokenizer, "the run's tokenizer.json")
    elif tokenizer is not None:
        fitted = load_tokenizer(tokenizer)
    else:
        fitted = train_tokenizer(train_texts, vocab_size, tokenizer_type, lowercase)
        if tokenizer_type == "wordpiece":
            notes.append("tokenizer_type=wordpiece: Hugging Face's WordPiece trainer may give a slightly different "
                         "vocabulary from one run to the next (tokenizers issue 1794); bpe, the default, does not.")
    max_length = check_max_length(max_length)
    spec = TextSpec(fitted.get_vocab_size(), max_length, fitted.to_str())

    train_store, cut = encode_texts(fitted, train_texts, max_length)
    train = TextDataset(train_store, y_all[train_ids] if y_all is not None else None)
    test, test_texts = None, None
    if len(test_ids):
        test_texts = [texts[p] for p in test_ids]
        test_store, test_cut = encode_texts(fitted, test_texts, max_length)
        cut += test_cut
        test = TextDataset(test_store, y_all[test_ids] if y_all is not None else None)
    if cut:
        notes.append(f"{cut} of {len(train_ids) + len(test_ids)} texts are longer than max_length={max_length} tokens "
                     f"([CLS] and [SEP] included) and were cut to their first {max_length - 2} tokens.")
    reordered = len(test_ids) or not np.array_equal(train_ids, np.arange(len(train_ids)))
    return source_type(
        name=name, modality="text", train=train, test=test, input_spec=spec, collate=collate_text,
        y_train=train.y, y_test=test.y if test is not None else None, class_names=class_names, notes=notes,
        source_index=torch.from_numpy(np.concatenate([train_ids, test_ids]).astype(np.int64)) if reordered else None,
        texts_train=train_texts, texts_test=test_texts, **extra,
    )


def is_missing(value: Any) -> bool:
    """None or NaN: what a table holds where a value is missing."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def check_resumed_tokenizer(source: DataSource, run_dir: str | Path) -> None:
    """Refuse to resume the run in ``run_dir`` on text whose tokenizer differs from the
    ``tokenizer.json`` the run saved: its encoder's token ids would mean other words. Nothing to
    check for other data, or a run folder without one (``TextSource.check_resumed``)."""
    saved_path = Path(run_dir) / "tokenizer.json"
    if not isinstance(source, TextSource) or not saved_path.is_file():
        return
    saved, new = saved_path.read_text(encoding="utf-8"), source.input_spec.tokenizer
    if saved == new:
        return
    sizes = (tokenizer_from_json(saved, str(saved_path)).get_vocab_size(), source.input_spec.vocab_size)
    detail = f"{sizes[0]} ids there, {sizes[1]} now" if sizes[0] != sizes[1] else "the same size, other tokens"
    raise SelfsupError(f"The tokenizer of {source.name} differs from {saved_path} ({detail}): the run's encoder was "
                       "trained on that one. Resume with the same data and data.options (or data.options.tokenizer="
                       f"{saved_path}), or start a new run.")
