"""A long-form event table (pandas DataFrame: one row per event) -> :class:`EventSource`:
per-entity sequences in time order, labels, a split by entity, and encoding with statistics of
the train split only. :func:`event_source` is also the Python API for events already in a
DataFrame::

    from selfsup.modalities.events import event_source
    source = event_source(frame, entity="client", time="date", target="segment")
    selfsup.pretrain(data=source, method="coles")

The event fields are the columns other than ``entity``, ``time`` and ``target``; which are
numeric and which categorical is inferred as for tables (:mod:`selfsup.modalities.tabular.data.
schema`: numbers are numeric, anything else categorical, mixed columns refused) unless given.
Categories are indexed with the train split's values (0 = unknown), numeric fields standardised
with the train split's events, and the time since the entity's previous event becomes a
standardised ``log1p(seconds)`` feature.

``next_item="<categorical field>"`` sets up the leave-one-out next-item task of sequential
recommenders (SASRec, Kang & McAuley 2018, Section IV-A; CL4SRec; RecBole's ``LS`` split): each
entity's last event is removed before anything is fitted or stored — no split, statistic or
category ever sees it — and its value of the field becomes the entity's target
(``source.next_item``, :class:`~selfsup.eval.next_item.NextItemTargets`), to be predicted from the
events before it. SASRec also holds out the second-to-last event for validation; this keeps it
simple: there is no validation item. An entity with a single event keeps it and has no target;
the items are the field's training categories (a held-out item that never occurs in training
cannot be ranked and counts as a miss). ``max_length`` counts the held-out event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from selfsup.data import DataSource
from selfsup.data.splits import check_fraction, encode_labels, stratified_split
from selfsup.errors import SelfsupError
from selfsup.eval.next_item import NOT_IN_CATALOGUE, NextItemTargets
from selfsup.modalities.events.data.batch import EventDataset, EventSpec, EventStore, collate_events
from selfsup.modalities.events.data.parse import (
    OrderedEvents,
    check_column,
    entity_labels,
    order_events,
    parse_times,
)
from selfsup.modalities.tabular.data.encoding import TableEncoding, unseen_note
from selfsup.modalities.tabular.data.schema import TableSchema, infer_schema


@dataclass
class EventSource(DataSource):
    """An events DataSource; it also says which entity each sample of each split is, and (with
    ``next_item``) each entity's held-out next item, which the engine's final evaluation ranks
    for methods that score items (:func:`selfsup.engine.evaluation.evaluate_next_item`)."""

    entities_train: list[str] | None = None
    entities_test: list[str] | None = None
    next_item: NextItemTargets | None = None


def event_source(
    frame: pd.DataFrame,
    name: str = "dataframe",
    entity: str = "entity_id",
    time: str = "time",
    categorical: str | Sequence[str] | None = None,
    numeric: str | Sequence[str] | None = None,
    target: str | None = None,
    labels: pd.DataFrame | None = None,
    max_length: int | None = None,
    drop_single: bool = False,
    seed: int = 0,
    test_fraction: float = 0.2,
    row_name: Callable[[int], str] | None = None,
    labels_name: str = "the labels table",
    next_item: str | None = None,
) -> EventSource:
    """The DataSource of the events in ``frame``.

    Args:
        frame: one row per event: the ``entity`` id, the ``time`` (numbers in any unit, or
            dates), and the event's fields.
        name: what the data is called (errors and the run's metrics name it).
        entity / time: the id and timestamp columns.
        categorical / numeric: fields whose role is given instead of inferred.
        target: the per-entity label: a column of ``frame`` (the same on each of an entity's
            events), or of ``labels``; None for unlabeled data.
        labels: a table of one row per entity (its ``entity`` column and the label column).
        max_length: keep each entity's last ``max_length`` events (said once).
        drop_single: drop entities with a single event (default: kept; said either way).
        seed / test_fraction: the seeded stratified split of labeled entities.
        row_name: how an error names row ``p`` of ``frame`` (the CSV reader says the file line).
        next_item: a categorical field: hold each entity's last event out as its next-item target
            (module doc).
    """
    if not isinstance(frame, pd.DataFrame):
        raise SelfsupError(f"event_source takes a pandas DataFrame; got {type(frame).__name__}.")
    check_fraction(test_fraction)
    row_name = row_name or (lambda p: f"row {p} of {name}")
    if len(frame) == 0:
        raise SelfsupError(f"{name} has no events.")
    frame = frame.rename(columns=str)
    check_column(entity, "entity", frame, name)
    check_column(time, "time", frame, name)
    if entity == time:
        raise SelfsupError(f"data.options.entity and data.options.time both name {entity!r}; they must differ.")
    label_column = target if labels is None else None
    fields = frame.drop(columns=[entity, time])
    if [c for c in fields.columns if c != label_column] or categorical or numeric:
        schema = infer_schema(fields, name, row_name, label_column, categorical, numeric)
    else:  # only ids and times: the time deltas are the events' one feature
        schema = TableSchema((), (), label_column)
    seconds = parse_times(frame[time], time, row_name)
    events = order_events(frame, entity, seconds, name, row_name, max_length, drop_single)
    notes = list(events.notes)
    held_out = None
    if next_item is not None:
        if not isinstance(next_item, str) or next_item not in schema.categorical:
            fields = ", ".join(schema.categorical) or "none"
            raise SelfsupError(f"data.options.next_item must name a categorical field of {name} (the items); got "
                               f"{next_item!r}. Its categorical fields: {fields}.")
        events, held_out = hold_out_last(events)
    y_all = class_names = None
    if target is not None or labels is not None:
        text = entity_labels(events, target, row_name, labels, entity, labels_name)
        (y_all,), class_names = encode_labels([("target", text, len(text))], name)
    n = len(events.entities)
    train_ids, test_ids = np.arange(n), np.zeros(0, dtype=np.int64)
    if y_all is not None and test_fraction > 0:
        train_ids, test_ids, split_notes = stratified_split(y_all.numpy(), test_fraction, seed, class_names)
        notes += split_notes
    encoding, delta_stats = _fit(events, train_ids, schema, name)
    train = EventDataset(_store(events, train_ids, encoding, delta_stats)[0],
                         y_all[train_ids] if y_all is not None else None)
    test = None
    if len(test_ids):
        store, unseen = _store(events, test_ids, encoding, delta_stats)
        note = unseen_note(unseen, "test")
        notes += [note] if note else []
        test = EventDataset(store, y_all[test_ids] if y_all is not None else None)
    spec = EventSpec(schema.categorical, encoding.spec.cardinalities, schema.numeric)
    targets = None
    if held_out is not None:
        targets, target_notes = _next_item_targets(next_item, held_out, schema, encoding, train, train_ids, test_ids)
        notes += target_notes
    return EventSource(
        name=name, modality="events", train=train, test=test, input_spec=spec, collate=collate_events,
        y_train=train.y, y_test=test.y if test is not None else None, class_names=class_names, notes=notes,
        source_index=torch.from_numpy(np.concatenate([train_ids, test_ids])) if len(test_ids) else None,
        entities_train=[str(e) for e in events.entities[train_ids]],
        entities_test=[str(e) for e in events.entities[test_ids]] if len(test_ids) else None,
        next_item=targets,
    )


@dataclass
class HeldOut:
    """Each entity's held-out last event: ``frame`` holds one row per entity that has one (in
    entity order), ``has [N]`` says which entities do."""

    frame: pd.DataFrame
    has: np.ndarray


def hold_out_last(events: OrderedEvents) -> tuple[OrderedEvents, HeldOut]:
    """``events`` without each entity's last event (entities with at least two events), and the
    events taken out."""
    has = events.lengths >= 2
    last = (events.starts + events.lengths - 1)[has]
    keep = np.ones(len(events.codes), dtype=bool)
    keep[last] = False
    lengths = events.lengths - has
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    kept = OrderedEvents(events.frame[keep].reset_index(drop=True), events.rows[keep], events.codes[keep],
                         events.seconds[keep], events.entities, starts, lengths, list(events.notes))
    return kept, HeldOut(events.frame.iloc[last].reset_index(drop=True), has)


def _next_item_targets(field: str, held_out: HeldOut, schema: TableSchema, encoding: TableEncoding,
                       train: EventDataset, train_ids: np.ndarray, test_ids: np.ndarray
                       ) -> tuple[NextItemTargets, list[str]]:
    """The held-out items as catalogue columns (category index - 1; the unknown slot is no item),
    per split, the training counts of every item, and the notes on who is left out."""
    j = schema.categorical.index(field)
    codes = np.zeros(len(held_out.has), dtype=np.int64)
    if len(held_out.frame):
        codes[held_out.has] = encoding.transform(held_out.frame)[0].categorical[:, j].numpy()
    column = torch.from_numpy(np.where(codes > 0, codes - 1, NOT_IN_CATALOGUE))
    has = torch.from_numpy(held_out.has)
    num_items = len(encoding.categories[j])
    counts = torch.bincount(train.store.categorical[:, j], minlength=num_items + 1)[1:]
    notes = [(f"Next item ({field!r}): each entity's last event is held out of training; its item is the target, "
              "ranked among all items from the events before it.")]
    single = int((~held_out.has).sum())
    if single:
        notes.append(f"{single} of {len(held_out.has)} entities have a single event: they are left out of the "
                     "next-item evaluation (their event stays in the data).")
    unseen = int((held_out.has & (codes == 0)).sum())
    if unseen:
        notes.append(f"{unseen} held-out {field!r} values never occur in training: no model can rank them, and they "
                     "count as misses.")
    test = torch.from_numpy(test_ids)
    targets = NextItemTargets(field, num_items, column[torch.from_numpy(train_ids)], has[torch.from_numpy(train_ids)],
                              counts, column[test] if len(test_ids) else None, has[test] if len(test_ids) else None)
    return targets, notes


def _rows(events: OrderedEvents, ids: np.ndarray) -> np.ndarray:
    """The sorted-event rows of entities ``ids``, entity after entity."""
    lengths = events.lengths[ids]
    shift = np.repeat(events.starts[ids] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return shift + np.arange(int(lengths.sum()))


def _log_deltas(events: OrderedEvents) -> np.ndarray:
    """``log1p`` of the seconds since each event's predecessor in its entity (0 for the first)."""
    gaps = np.diff(events.seconds, prepend=events.seconds[0] if len(events.seconds) else 0.0)
    gaps[events.starts] = 0.0
    return np.log1p(np.clip(gaps, 0.0, None))


def _fit(events: OrderedEvents, train_ids: np.ndarray, schema: TableSchema, where: str
         ) -> tuple[TableEncoding, tuple[float, float]]:
    """The train split's statistics: categories and numeric means/stds (the table encoding of
    its events) and the mean/std of its log time deltas."""
    rows = _rows(events, train_ids)
    encoding = TableEncoding.fit(events.frame.iloc[rows], schema, f"the training entities of {where}")
    deltas = _log_deltas(events)[rows]
    std = float(deltas.std())
    return encoding, (float(deltas.mean()), std if std > 0 else 1.0)


def _store(events: OrderedEvents, ids: np.ndarray, encoding: TableEncoding, delta_stats: tuple[float, float]
           ) -> tuple[EventStore, list]:
    rows = _rows(events, ids)
    encoded, unseen = encoding.transform(events.frame.iloc[rows])
    delta = (_log_deltas(events)[rows] - delta_stats[0]) / delta_stats[1]
    offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(events.lengths[ids])]).astype(np.int64))
    store = EventStore(encoded.categorical, encoded.numeric, torch.from_numpy(delta.astype(np.float32)), offsets,
                       encoded.cardinalities)
    return store, unseen
