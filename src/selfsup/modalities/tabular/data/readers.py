"""Table files -> DataSource: CSV (pandas) and Parquet (pandas + pyarrow, the ``tabular`` extra).

``--data table.csv --modality tabular`` with ``data.options``: ``target`` (the label column),
``categorical`` / ``numeric`` (columns whose role is given instead of inferred), ``sep`` (CSV
separator, default ``,``). Empty cells (and pandas' usual NA markers) are missing values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from selfsup.data import DataSource
from selfsup.errors import SelfsupError
from selfsup.modalities.tabular.data.batch import TabularSpec
from selfsup.modalities.tabular.data.source import table_source
from selfsup.modality import require

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_table(
    path: str | Path,
    seed: int = 0,
    test_fraction: float = 0.2,
    target: str | None = None,
    categorical: str | Sequence[str] | None = None,
    numeric: str | Sequence[str] | None = None,
    sep: str | None = None,
    input_spec: TabularSpec | None = None,
) -> DataSource:
    """Read a CSV or Parquet table (see the module doc); labeled tables get a seeded stratified
    test split of ``test_fraction``. ``input_spec``: a trained run's, to encode the table with
    the run's statistics (:func:`~selfsup.modalities.tabular.data.source.table_source`)."""
    path = Path(path)
    frame = read_frame(path, sep)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        row_name = lambda p: f"row {p} of {path.name}"
    else:  # the file's line: 1 is the header
        row_name = lambda p: f"line {p + 2} of {path.name}"
    return table_source(frame, name=str(path), target=target, categorical=categorical, numeric=numeric,
                        seed=seed, test_fraction=test_fraction, row_name=row_name, input_spec=input_spec)


def read_frame(path: Path, sep: str | None = None, reader: str = "the tabular modality") -> pd.DataFrame:
    """The file as a DataFrame, or one SelfsupError naming it (and ``reader``, who reads it)."""
    suffix = path.suffix.lower()
    if path.is_dir():
        raise SelfsupError(f"{path} is a folder; {reader} reads one .csv or .parquet file.")
    if suffix in PARQUET_SUFFIXES:
        require("pyarrow", "tabular", "Reading Parquet files")
        try:
            return pd.read_parquet(path)
        except Exception as error:  # noqa: BLE001 - any failure means "not a readable Parquet file"
            raise SelfsupError(f"Could not read {path} as a Parquet file: {error}") from None
    if suffix not in CSV_SUFFIXES:
        raise SelfsupError(f"{path}: {reader} reads {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)} "
                           f"files, not {suffix or 'files without a suffix'}.")
    try:
        frame = pd.read_csv(path, sep=sep or ("\t" if suffix == ".tsv" else ","), skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise SelfsupError(f"{path} is empty: a table needs a header line and at least one row.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise SelfsupError(f"Could not read {path} as CSV: {error}") from None
    if len(frame) == 0:
        raise SelfsupError(f"{path} has a header but no rows.")
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed:
        raise SelfsupError(f"{path} has a column without a name in its header (column {frame.columns.get_loc(unnamed[0]) + 1}); "
                           "give every column a name.")
    return frame
