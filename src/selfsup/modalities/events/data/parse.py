"""Checking a long-form event table and putting it in order: entity ids, timestamps that parse,
per-entity time order, the last ``max_length`` events, single-event entities, entity labels.

Every mistake is one :class:`SelfsupError` naming the column and the row (``row_name(p)``: the
file's line for a CSV); every decision the user should know of is one note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from selfsup.errors import SelfsupError, closest


@dataclass
class OrderedEvents:
    """The events of a table sorted by (entity, time): ``frame`` (sorted rows, original index
    dropped), ``rows [E]`` each row's position in the table, ``codes [E]`` entity number of each
    row (entities numbered in order of first appearance), ``seconds [E]`` event times,
    ``entities`` the ids, ``starts``/``lengths`` each entity's rows, and the notes made on the way."""

    frame: pd.DataFrame
    rows: np.ndarray
    codes: np.ndarray
    seconds: np.ndarray
    entities: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    notes: list[str] = field(default_factory=list)


def check_column(column: str, option: str, frame: pd.DataFrame, where: str) -> None:
    """Refuse a ``data.options.<option>`` naming a column ``frame`` lacks, with a close name."""
    columns = [str(c) for c in frame.columns]
    if not isinstance(column, str):
        raise SelfsupError(f"data.options.{option} must be one column name; got {column!r}.")
    if column not in columns:
        near = closest(column, columns)
        hint = f" Did you mean {', '.join(repr(c) for c in near)}?" if near else ""
        raise SelfsupError(f"data.options.{option} is {column!r}, a column {where} does not have.{hint} "
                           f"Its columns: {', '.join(columns)}.")


def parse_times(values: pd.Series, column: str, row_name: Callable[[int], str]) -> np.ndarray:
    """Timestamps as float seconds: numbers are taken as they are (seconds, days … any unit: only
    differences are used), text as dates; one that does not parse is refused naming its row."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        seconds = values.to_numpy(dtype=np.float64)
    elif pd.api.types.is_datetime64_any_dtype(values):
        seconds = _datetime_seconds(values)
    else:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().mean() > 0.5:  # numbers, a few of them broken: those are the bad rows
            seconds = numbers.to_numpy(dtype=np.float64)
        else:
            try:
                seconds = _datetime_seconds(pd.to_datetime(values, errors="coerce", utc=True, format="mixed"))
            except (TypeError, ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
                seconds = _each_datetime_seconds(values)
    bad = np.flatnonzero(~np.isfinite(seconds))
    if len(bad):
        p = int(bad[0])
        raise SelfsupError(f"The time column {column!r} holds {values.iloc[p]!r} at {row_name(p)}, which is not a "
                           "timestamp (a number, or a date such as 2024-01-31 12:00:00). Fix or drop that row.")
    return seconds


def _each_datetime_seconds(values: pd.Series) -> np.ndarray:
    """Seconds of each value on its own (NaN where it is not a date pandas can hold): the slow
    path, taken only when parsing the column at once failed, to find the row that breaks it."""
    seconds = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        try:
            seconds[i] = (pd.Timestamp(value).tz_localize(None) - pd.Timestamp(0)).total_seconds()
        except (TypeError, ValueError, OverflowError):
            continue
    return seconds


def _datetime_seconds(dates: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(dates, utc=True)
    nat = stamps.isna().to_numpy()
    seconds = (stamps.dt.tz_localize(None) - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=np.float64, copy=True)
    seconds[nat] = np.nan
    return seconds


def order_events(frame: pd.DataFrame, entity: str, seconds: np.ndarray, where: str, row_name: Callable[[int], str],
                 max_length: int | None = None, drop_single: bool = False) -> OrderedEvents:
    """Sort ``frame`` by (entity, time), keep each entity's last ``max_length`` events, and keep
    or drop entities with one event (module doc)."""
    ids = frame[entity]
    missing = np.flatnonzero(ids.isna().to_numpy())
    if len(missing):
        raise SelfsupError(f"The entity column {entity!r} is empty at {row_name(int(missing[0]))}; every event "
                           "needs the id of its entity.")
    codes, entities = pd.factorize(ids.astype(str) if ids.dtype == object else ids, sort=False)
    notes = []
    by_entity = np.argsort(codes, kind="stable")
    same = codes[by_entity][1:] == codes[by_entity][:-1]
    backwards = np.flatnonzero(same & (np.diff(seconds[by_entity]) < 0))
    if len(backwards):
        p = int(by_entity[backwards[0] + 1])
        notes.append(f"{where} is not sorted by time within each entity (first at {row_name(p)}, entity "
                     f"{str(entities[codes[p]])!r}); its events were sorted by time (ties keep file order).")
    order = np.lexsort((seconds, codes))  # stable: equal times keep the file's order
    codes, seconds = codes[order], seconds[order]
    lengths = np.bincount(codes, minlength=len(entities))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    keep = np.ones(len(order), dtype=bool)
    if max_length is not None:
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
            raise SelfsupError(f"data.options.max_length must be a positive whole number of events; got {max_length!r}.")
        rank_from_end = (starts + lengths)[codes] - 1 - np.arange(len(order))
        keep &= rank_from_end < max_length
        longer = int((lengths > max_length).sum())
        if longer:
            notes.append(f"{longer} of {len(entities)} entities have more than max_length={max_length} events; "
                         f"only their last {max_length} are kept (the longest has {int(lengths.max())}).")
    single = lengths == 1
    if single.any():
        listing = ", ".join(repr(str(e)) for e in entities[single][:3]) + (" …" if single.sum() > 3 else "")
        if drop_single:
            keep &= ~single[codes]
            notes.append(f"{int(single.sum())} entities of {where} have a single event ({listing}) and were dropped "
                         "(data.options.drop_single).")
        else:
            notes.append(f"{int(single.sum())} entities of {where} have a single event ({listing}); they are kept, "
                         "though their views are all the same event. Set data.options.drop_single=true to drop them.")
    if not keep.any():
        raise SelfsupError(f"{where} has no entity with more than one event; there are no sequences to learn from.")
    order, codes, seconds = order[keep], codes[keep], seconds[keep]
    kept_entities = np.unique(codes)
    codes = np.searchsorted(kept_entities, codes)
    lengths = np.bincount(codes, minlength=len(kept_entities))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    sorted_frame = frame.iloc[order].reset_index(drop=True)
    return OrderedEvents(sorted_frame, order, codes, seconds, np.asarray(entities)[kept_entities], starts, lengths, notes)


def entity_labels(events: OrderedEvents, target: str | None, row_name: Callable[[int], str],
                  labels: pd.DataFrame | None, entity: str, labels_name: str) -> np.ndarray:
    """One label per entity: the ``target`` column of the events (the same on each of an
    entity's events), or of the separate ``labels`` table (one row per entity)."""
    if labels is None:
        values = events.frame[target]
        absent = np.flatnonzero(values.isna().to_numpy())
        if len(absent):
            raise SelfsupError(f"The target {target!r} is empty at {row_name(int(events.rows[absent[0]]))}; each "
                               "event of a labeled entity needs its entity's label.")
        text = values.astype(str).to_numpy()
        first = text[events.starts]
        differ = np.flatnonzero(text != first[events.codes])
        if len(differ):
            i = int(differ[0])
            raise SelfsupError(f"The target {target!r} is a per-entity label, but entity "
                               f"{str(events.entities[events.codes[i]])!r} has {first[events.codes[i]]!r} and "
                               f"{text[i]!r} (at {row_name(int(events.rows[i]))}). Give each entity one label.")
        return first
    check_column(entity, "entity", labels, labels_name)
    others = [str(c) for c in labels.columns if str(c) != entity]
    if target is None and len(others) != 1:
        raise SelfsupError(f"{labels_name} has columns {', '.join(others)} beside {entity!r}: name the label "
                           "column with data.options.target.")
    target = target or others[0]
    check_column(target, "target", labels, labels_name)
    ids = labels[entity].astype(str).to_numpy()
    twice = pd.Index(ids)[pd.Index(ids).duplicated()]
    if len(twice):
        raise SelfsupError(f"{labels_name} gives entity {str(twice[0])!r} more than one row; one label per entity.")
    lookup = pd.Series(labels[target].to_numpy(), index=ids)
    wanted = np.asarray([str(e) for e in events.entities])
    found = lookup.reindex(wanted)
    absent = np.flatnonzero(found.isna().to_numpy())
    if len(absent):
        raise SelfsupError(f"Entity {str(wanted[absent[0]])!r} has events but no {target!r} label in {labels_name} "
                           f"({len(absent)} such entities). Add their labels, or drop their events.")
    return found.astype(str).to_numpy()
