"""A table (pandas DataFrame) -> :class:`~selfsup.data.DataSource`: schema, labels, split and
encoding with train-only statistics. :func:`table_source` is also the Python API for data
already in a DataFrame::

    from selfsup.modalities.tabular import table_source
    source = table_source(frame, target="income")
    selfsup.pretrain(data=source, method="scarf")

New data for a trained run is encoded with the run's statistics, not fitted anew: pass the run's
input spec (``table_source(frame, input_spec=selfsup.load(run).input_spec)``); ``selfsup embed``
and ``selfsup evaluate`` do this themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from selfsup.data import DataSource
from selfsup.data.splits import check_fraction, encode_labels, stratified_split
from selfsup.errors import SelfsupError
from selfsup.modalities.tabular.data.batch import TabularDataset, TabularSpec, collate_rows
from selfsup.modalities.tabular.data.encoding import TableEncoding, merge_unseen, unseen_note
from selfsup.modalities.tabular.data.schema import check_numbers, infer_schema


def table_source(
    frame: pd.DataFrame,
    name: str = "dataframe",
    target: str | None = None,
    categorical: str | Sequence[str] | None = None,
    numeric: str | Sequence[str] | None = None,
    test_frame: pd.DataFrame | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    row_name: Callable[[int], str] | None = None,
    test_row_name: Callable[[int], str] | None = None,
    input_spec: TabularSpec | None = None,
) -> DataSource:
    """The DataSource of ``frame`` (and of its held-out ``test_frame``, when the data has one).

    Args:
        frame: one row per sample; feature columns numeric or categorical, optional target.
        name: what the data is called (errors and the run's metrics name it).
        target: the label column (class labels), or None for an unlabeled table.
        categorical / numeric: columns whose role is given instead of inferred.
        test_frame: an explicit test split with the same columns; without one, labeled data
            gets a seeded stratified split of ``test_fraction`` (unlabeled data keeps every row
            for training).
        row_name / test_row_name: how an error names row ``p`` (default ``"row p of <name>"``;
            the CSV reader says the file's line).
        input_spec: a trained run's spec (it carries the encoding fitted on the run's train
            split): the table is encoded with it — its columns found by name in any order,
            columns it does not name ignored, categories it does not know mapped to "unknown"
            (said once), a column it needs and the table lacks refused by name — and
            ``categorical`` / ``numeric`` are not used. ``target`` may then be absent (an
            unlabeled table to embed).
    """
    if not isinstance(frame, pd.DataFrame):
        raise SelfsupError(f"table_source takes a pandas DataFrame; got {type(frame).__name__}.")
    check_fraction(test_fraction)
    row_name = row_name or (lambda p: f"row {p} of {name}")
    if len(frame) == 0:
        raise SelfsupError(f"{name} has no rows.")
    frame = frame.rename(columns=str)
    notes: list[str] = []
    run_encoding = None
    if input_spec is not None:
        if not isinstance(input_spec, TabularSpec):
            raise SelfsupError(f"input_spec must be a trained run's TabularSpec (selfsup.load(run).input_spec); "
                               f"got {type(input_spec).__name__}.")
        if input_spec.fitted:
            run_encoding, notes = _run_encoding(frame, input_spec, name, target, row_name)
        else:  # a run saved before its encoding was: the statistics can only be fitted anew
            notes.append(f"The run's input spec carries no fitted encoding (a run saved by an older selfsup): "
                         f"means, stds and categories are fitted anew on {name}.")
    schema = run_encoding.schema if run_encoding else infer_schema(frame, name, row_name, target, categorical, numeric)
    target = schema.target
    if test_frame is not None:
        test_frame = _check_test_frame(test_frame.rename(columns=str), schema.numeric, schema.categorical, target,
                                       f"the test split of {name}", test_row_name or (lambda p: f"test row {p} of {name}"))
    y_all = _labels(frame, test_frame, target, name, row_name, test_row_name)
    labels, class_names = y_all if y_all is not None else (None, None)
    source_index = None
    if test_frame is None:
        train_rows = np.arange(len(frame))
        test_rows = np.zeros(0, dtype=np.int64)
        if labels is not None and test_fraction > 0:
            train_rows, test_rows, split_notes = stratified_split(labels[0].numpy(), test_fraction, seed, class_names)
            notes += split_notes
            source_index = torch.from_numpy(np.concatenate([train_rows, test_rows]))
        train, test = frame.iloc[train_rows], (frame.iloc[test_rows] if len(test_rows) else None)
        y_train = labels[0][train_rows] if labels is not None else None
        y_test = labels[0][test_rows] if labels is not None and test is not None else None
    else:
        train, test = frame, test_frame
        y_train, y_test = (labels[0], labels[1]) if labels is not None else (None, None)
    encoding = run_encoding or TableEncoding.fit(train, schema, name)
    train_rows_encoded, unseen = encoding.transform(train)  # none unless the encoding is a run's
    test_dataset = None
    if test is not None:
        test_encoded, unseen_test = encoding.transform(test)
        test_dataset = TabularDataset(test_encoded, y_test)
        unseen = merge_unseen(unseen + unseen_test) if run_encoding else unseen_test
    note = unseen_note(unseen, name if run_encoding else "test")
    notes += [note] if note else []
    return DataSource(
        name=name, modality="tabular", train=TabularDataset(train_rows_encoded, y_train), test=test_dataset,
        input_spec=encoding.spec, collate=collate_rows, y_train=y_train, y_test=y_test,
        class_names=class_names, notes=notes, source_index=source_index,
    )


def _run_encoding(frame: pd.DataFrame, spec: TabularSpec, name: str, target: str | None,
                  row_name: Callable[[int], str]) -> tuple[TableEncoding, list[str]]:
    """The run's encoding for ``frame`` (``target`` kept only where the table has it), after
    checking that the table has every column the run was trained on."""
    columns = list(frame.columns)
    needed = [*spec.numeric, *spec.categorical]
    absent = [c for c in needed if c not in columns]
    if absent:
        raise SelfsupError(f"{name} lacks the column(s) {', '.join(repr(c) for c in absent)} that the run's encoder "
                           f"was trained on; a table to embed or evaluate needs every training column "
                           f"({', '.join(needed)}), in any order.")
    for column in spec.numeric:
        check_numbers(frame[column], column, row_name)
    target = target if target in columns else None
    ignored = [c for c in columns if c not in needed and c != target]
    notes = [f"Columns of {name} the run was not trained on are ignored: {', '.join(ignored)}."] if ignored else []
    return TableEncoding.from_spec(spec, target), notes


def _check_test_frame(test: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], target: str | None,
                      where: str, row_name: Callable[[int], str]) -> pd.DataFrame:
    needed = [*numeric, *categorical, *([target] if target else [])]
    absent = [c for c in needed if c not in test.columns]
    if absent:
        raise SelfsupError(f"{where} lacks the column(s) {', '.join(repr(c) for c in absent)} that training has.")
    for column in numeric:
        check_numbers(test[column], column, row_name)
    return test


def _labels(frame: pd.DataFrame, test: pd.DataFrame | None, target: str | None, name: str,
            row_name: Callable[[int], str], test_row_name: Callable[[int], str] | None,
            ) -> tuple[list[torch.Tensor], list[str]] | None:
    """The target column of each split as int64 class indices, and the class names."""
    if target is None:
        return None
    splits = [("train", frame, row_name)] + ([("test", test, test_row_name or row_name)] if test is not None else [])
    named = []
    for split, table, rows in splits:
        values = table[target]
        absent = np.flatnonzero(values.isna().to_numpy())
        if len(absent):
            raise SelfsupError(f"The target {target!r} is missing at {rows(int(absent[0]))}; a labeled row needs "
                               "its label (drop those rows, or leave the target out to pretrain without labels).")
        values = values.to_numpy()
        if values.dtype == object:
            values = np.asarray([str(v).strip() for v in values])
        named.append((f"{target} ({split})", values, len(values)))
    encoded, class_names = encode_labels(named, name)
    return encoded, class_names
