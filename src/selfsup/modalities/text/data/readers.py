"""Text files and in-memory texts -> :class:`~selfsup.modalities.text.data.source.TextSource`.

``--data FILE --modality text`` reads:

- a ``.txt`` file: one sample a line (empty lines skipped and counted in a note); unlabeled;
- a ``.csv`` / ``.tsv`` / ``.parquet`` / ``.jsonl`` table: ``data.options.column`` names the text
  column (default ``text``, or the only column besides the target), ``data.options.target`` the
  optional label column (the same key as for tables);
- a folder: ``.txt`` files, one sample per file; in class sub-folders (``folder/<label>/*.txt``)
  the sub-folder is the label.

Tokenisation options (all sources, built-ins included): ``vocab_size`` (8000),
``tokenizer_type`` (``bpe`` or ``wordpiece``), ``tokenizer`` (the path of a ``tokenizer.json``
to use instead of training one), ``max_length`` (128, ``[CLS]``/``[SEP]`` included),
``lowercase`` (True). Through the API, a list of strings, a ``(texts, labels)`` pair or a pandas
DataFrame (with ``column`` / ``target``) is read the same way (:func:`read_text_object`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import TextSpec
from selfsup.modalities.text.data.source import TextSource, is_missing, text_source
from selfsup.modality import require
from selfsup.registry import check_kwargs

LINE_SUFFIXES = (".txt", ".text")
CSV_SUFFIXES = (".csv", ".tsv")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")


def read_text(
    path: str | Path,
    seed: int = 0,
    test_fraction: float = 0.2,
    column: str | None = None,
    target: str | None = None,
    vocab_size: int = 8000,
    tokenizer_type: str = "bpe",
    tokenizer: str | None = None,
    max_length: int = 128,
    lowercase: bool = True,
    sep: str | None = None,
    input_spec: TextSpec | None = None,
) -> TextSource:
    """Read a text file or folder (see the module doc); labeled texts get a seeded stratified
    test split of ``test_fraction``. ``input_spec``: a trained run's, whose tokenizer encodes the
    texts."""
    path = Path(path)
    options = {"seed": seed, "test_fraction": test_fraction, "vocab_size": vocab_size, "tokenizer_type": tokenizer_type,
               "tokenizer": tokenizer, "max_length": max_length, "lowercase": lowercase, "input_spec": input_spec}
    suffix = path.suffix.lower()
    if path.is_dir():
        texts, labels, files = read_folder(path)
        return text_source(texts, labels, name=str(path), row_name=lambda p: str(files[p]), **options)
    if suffix in LINE_SUFFIXES:
        if column is not None or target is not None:
            raise SelfsupError(f"{path} is a text file of one sample a line: it has no columns, so data.options."
                               f"{'column' if column is not None else 'target'} does not apply. Use a CSV / JSONL "
                               "table, or a folder with class sub-folders, for labels.")
        lines = decode_utf8(path).splitlines()
        return text_source(lines, None, name=str(path), row_name=lambda p: f"line {p + 1} of {path.name}", **options)
    frame, row_name = read_table(path, sep)
    return frame_source(frame, str(path), column, target, row_name=row_name, **options)


def decode_utf8(path: Path) -> str:
    """The file's text, or one SelfsupError naming the first byte that is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SelfsupError(f"Could not read {path}: {error.strerror or error}.") from None
    try:
        return data.decode("utf-8-sig")  # a byte-order mark is not part of the first text
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SelfsupError(f"{path} is not UTF-8 text: byte {data[error.start]:#04x} at byte offset {error.start} "
                           f"(line {line}) is invalid. Convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8).") from None


def read_table(path: Path, sep: str | None = None) -> tuple[pd.DataFrame, Any]:
    """A CSV / TSV / JSONL / Parquet file as a DataFrame (text columns kept as strings) and how
    an error names its row ``p``."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        require("pyarrow", "text", "Reading Parquet files")
        try:
            frame = pd.read_parquet(path)
        except Exception as error:  # noqa: BLE001 - any failure means "not a readable Parquet file"
            raise SelfsupError(f"Could not read {path} as a Parquet file: {error}") from None
        return frame, lambda p: f"row {p} of {path.name}"
    if suffix not in CSV_SUFFIXES + JSONL_SUFFIXES:
        known = ", ".join(LINE_SUFFIXES + CSV_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES)
        raise SelfsupError(f"{path}: the text modality reads {known} files or a folder of .txt files, "
                           f"not {suffix or 'files without a suffix'}.")
    text = decode_utf8(path)  # first, so a wrong encoding is named with its byte offset
    try:
        if suffix in JSONL_SUFFIXES:
            frame = pd.read_json(io.StringIO(text), lines=True, dtype=False)
            return frame, lambda p: f"line {p + 1} of {path.name}"
        # keep_default_na=False: a text "NA" or "null" is text, not a missing value
        frame = pd.read_csv(io.StringIO(text), sep=sep or ("\t" if suffix == ".tsv" else ","), dtype=str,
                            keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise SelfsupError(f"{path} is empty: a table needs a header line and at least one row.") from None
    except (pd.errors.ParserError, ValueError) as error:
        raise SelfsupError(f"Could not read {path} as {'JSON lines' if suffix in JSONL_SUFFIXES else 'CSV'}: "
                           f"{str(error).splitlines()[0]}") from None
    return frame, lambda p: f"line {p + 2} of {path.name}"  # line 1 is the header


def frame_source(frame: pd.DataFrame, name: str, column: str | None = None, target: str | None = None,
                 row_name: Any = None, **options: Any) -> TextSource:
    """The texts of ``frame[column]`` labeled by ``frame[target]`` (module doc)."""
    names = [str(c) for c in frame.columns]
    frame = frame.set_axis(names, axis=1)
    found = ", ".join(names) or "none"
    if target is not None and target not in names:
        raise SelfsupError(f"data.options.target={target!r} is not a column of {name}; its columns: {found}.")
    if column is None:
        others = [c for c in names if c != target]
        column = "text" if "text" in names else others[0] if len(others) == 1 else None
        if column is None:
            raise SelfsupError(f"Which column of {name} holds the text? Set data.options.column to one of: {found}.")
    elif column not in names:
        raise SelfsupError(f"data.options.column={column!r} is not a column of {name}; its columns: {found}.")
    if column == target:
        raise SelfsupError(f"data.options.column and data.options.target both name {column!r}; they must differ.")
    if len(frame) == 0:
        raise SelfsupError(f"{name} has a header but no rows.")
    values = frame[column].tolist()
    row_name = row_name or (lambda p: f"row {p} of {name}")
    missing = [p for p, v in enumerate(values) if is_missing(v)]
    values = ["" if is_missing(v) else v for v in values]
    wrong = next((p for p, v in enumerate(values) if not isinstance(v, str)), None)
    if wrong is not None:
        raise SelfsupError(f"Column {column!r} of {name} holds {type(values[wrong]).__name__} values ({row_name(wrong)}: "
                           f"{values[wrong]!r}), not text; set data.options.column to the text column.")
    notes = [f"{len(missing)} missing value(s) in column {column!r} count as empty texts."] if missing else []
    labels = frame[target].tolist() if target is not None else None
    if labels is not None:  # "" in a CSV's label column is a missing label
        labels = [None if v == "" else v for v in labels]
    return text_source(values, labels, name=name, row_name=row_name, notes=notes, **options)


def read_folder(path: Path) -> tuple[list[str], list[str] | None, list[Path]]:
    """``.txt`` files of ``path`` (unlabeled) or of its class sub-folders (labeled by them):
    texts, labels and the file of each."""
    subfolders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = sorted(p for p in path.glob("*.txt"))
    if subfolders and loose:
        raise SelfsupError(f"{path} holds both .txt files ({loose[0].name}, …) and sub-folders ({subfolders[0].name}, …): "
                           "put every file in a class sub-folder (labeled), or no sub-folders (unlabeled).")
    if subfolders:
        files = [(f, folder.name) for folder in subfolders for f in sorted(folder.rglob("*.txt"))]
    else:
        files = [(f, None) for f in loose]
    if not files:
        raise SelfsupError(f"{path} holds no .txt files (the text modality reads one sample per .txt file, "
                           "in class sub-folders for labels).")
    texts = [decode_utf8(f).strip() for f, _ in files]
    labels = [label for _, label in files] if subfolders else None
    return texts, labels, [f for f, _ in files]


def read_text_object(data: Any, seed: int = 0, test_fraction: float = 0.2, **options: Any) -> TextSource | None:
    """In-memory texts (the modality's ``read_object``): a list / tuple / pandas Series of
    strings, a pair ``(texts, labels)``, or a DataFrame (``column`` / ``target`` as for files);
    None for anything else (left to the generic path)."""
    texts = labels = None
    if options.get("input_spec") is not None:
        # a run's embed / evaluate: its data.options may be a built-in's (limit, target …), which do
        # not apply to new texts; the run's tokenizer and max_length come with input_spec
        keep = {"input_spec", "column", "target"} if isinstance(data, pd.DataFrame) else {"input_spec"}
        options = {key: value for key, value in options.items() if key in keep}
    if isinstance(data, pd.DataFrame):
        check_kwargs(read_text, options, "the 'text' reader")
        options.pop("sep", None)  # a file's option
        return frame_source(data, "in-memory DataFrame", seed=seed, test_fraction=test_fraction, **options)
    if is_texts(data):
        texts = list(data)
    elif isinstance(data, tuple) and len(data) == 2 and is_texts(data[0]):
        texts, labels = list(data[0]), list(data[1])
    if texts is None:
        return None
    check_kwargs(text_source_options, options, "in-memory texts")
    return text_source(texts, labels, name="in-memory texts", seed=seed, test_fraction=test_fraction, **options)


def is_texts(data: Any) -> bool:
    """A non-empty list, tuple or pandas Series of strings."""
    return isinstance(data, (list, tuple, pd.Series)) and len(data) > 0 and all(isinstance(t, str) for t in data)


def text_source_options(vocab_size: int = 8000, tokenizer_type: str = "bpe", tokenizer: str | None = None,
                        max_length: int = 128, lowercase: bool = True, input_spec: TextSpec | None = None) -> None:
    """The options in-memory texts take (for :func:`~selfsup.registry.check_kwargs`)."""
