"""Event files -> DataSource: a long-form CSV or Parquet table, one row per event.

``--data events.csv --modality events`` with ``data.options``: ``entity`` (the id column,
default ``entity_id``), ``time`` (default ``time``: numbers in any unit, or dates),
``categorical`` / ``numeric`` (fields whose role is given instead of inferred), ``target`` (the
per-entity label column) or ``labels`` (a CSV/Parquet file of one row per entity: its entity
column and the label), ``max_length`` (keep each entity's last N events), ``drop_single`` (drop
entities with one event), ``sep`` (CSV separator), ``next_item`` (a categorical field: each
entity's last event is held out as its next-item target; see ``event_source``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from selfsup.modalities.events.data.source import EventSource, event_source
from selfsup.modalities.tabular.data.readers import PARQUET_SUFFIXES, read_frame

READER = "the events modality"


def read_events(
    path: str | Path,
    seed: int = 0,
    test_fraction: float = 0.2,
    entity: str = "entity_id",
    time: str = "time",
    categorical: str | Sequence[str] | None = None,
    numeric: str | Sequence[str] | None = None,
    target: str | None = None,
    labels: str | Path | None = None,
    max_length: int | None = None,
    drop_single: bool = False,
    sep: str | None = None,
    next_item: str | None = None,
) -> EventSource:
    """Read an event table (see the module doc); labeled entities get a seeded stratified test
    split of ``test_fraction``."""
    path = Path(path)
    frame = read_frame(path, sep, reader=READER)
    label_frame = read_frame(Path(labels).expanduser(), sep, reader=READER) if labels is not None else None
    return event_source(frame, name=str(path), entity=entity, time=time, categorical=categorical, numeric=numeric,
                        target=target, labels=label_frame, max_length=max_length, drop_single=drop_single,
                        seed=seed, test_fraction=test_fraction, row_name=_row_name(path),
                        labels_name=str(labels) if labels is not None else "the labels table",
                        next_item=next_item)


def _row_name(path: Path):
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return lambda p: f"row {p} of {path.name}"
    return lambda p: f"line {p + 2} of {path.name}"  # line 1 is the header
