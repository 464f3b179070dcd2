"""Event sequences: parsing, time order, padding and lengths, unknown categories, train-only
standardisation, labels, and every bad input as one SelfsupError naming the file, line, column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modality import get_modality

get_modality("events")
from selfsup.modalities.events import event_source
from selfsup.modalities.events.data.readers import read_events


def _frame(entities: int = 12, seed: int = 0) -> pd.DataFrame:
    """Entity ``e`` has ``3 + e % 4`` events at times 0, 10, 20 … (label by parity of e)."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(entities):
        for t in range(3 + e % 4):
            rows.append({"entity_id": f"u{e}", "time": 10 * t, "shop": rng.choice(["a", "b", "c"]),
                         "amount": float(rng.normal(100, 20)), "label": "odd" if e % 2 else "even"})
    return pd.DataFrame(rows)


def test_sequences_are_padded_per_entity_with_their_lengths():
    source = event_source(_frame(), target="label", test_fraction=0)
    assert source.input_spec.categorical == ("shop",) and source.input_spec.numeric == ("amount",)
    assert source.input_spec.cardinalities == (4,)  # a, b, c + the unknown slot
    batch = source.train.__getitems__([0, 1, 3])
    x = batch["x"]
    assert x.lengths.tolist() == [3, 4, 6]
    assert x.categorical.shape == (3, 6, 1) and x.numeric.shape == (3, 6, 1) and x.delta.shape == (3, 6)
    assert x.mask.sum(1).tolist() == [3, 4, 6]
    assert (x.categorical[0, 3:] == 0).all() and (x.numeric[0, 3:] == 0).all()  # padding
    assert source.entities_train[:2] == ["u0", "u1"] and batch["y"].tolist() == [0, 1, 1]


def test_unsorted_events_are_sorted_by_time_and_said_once():
    frame = _frame()
    shuffled = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    source = event_source(shuffled, test_fraction=0)
    ordered = event_source(frame, test_fraction=0)
    assert sum("not sorted by time" in note for note in source.notes) == 1
    assert not any("sorted" in note for note in ordered.notes)
    position = source.entities_train.index("u3")
    got, want = source.train.__getitems__([position])["x"], ordered.train.__getitems__([3])["x"]
    assert torch.equal(got.numeric, want.numeric) and torch.equal(got.categorical, want.categorical)


def test_time_deltas_are_a_feature_zero_gap_for_the_first_event():
    frame = _frame(4)
    frame.loc[frame.entity_id == "u1", "time"] = [0, 1, 1000, 1001]
    source = event_source(frame, test_fraction=0)
    delta = source.train.__getitems__([1])["x"].delta[0]
    assert delta[2] > delta[1] > delta[0] - 1e-6 and delta[3] < delta[2]


def test_dates_parse_and_a_timestamp_that_does_not_parse_names_the_line(tmp_path):
    frame = _frame(4)
    frame["time"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame["time"], unit="D")
    frame["time"] = frame["time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    assert event_source(frame, test_fraction=0).n_train == 4
    frame.loc[5, "time"] = "yesterday"
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(SelfsupError, match=r"'time'.*'yesterday'.*line 7 of events.csv"):
        read_events(path)


def test_unknown_categories_of_the_test_split_map_to_the_unknown_slot_and_are_said():
    frame = _frame(40)
    # the split depends on the labels only: pick a test entity, then give it a new category
    entity = event_source(frame, target="label", seed=1).entities_test[0]
    frame.loc[frame.entity_id == entity, "shop"] = "never-seen"
    source = event_source(frame, target="label", seed=1)
    x = source.test.__getitems__([source.entities_test.index(entity)])["x"]
    assert (x.categorical[0, : x.lengths[0]] == 0).all()
    assert sum("never-seen" in note for note in source.notes) == 1


def test_numeric_fields_are_standardised_on_train_entities_only():
    frame = _frame(40)
    base = event_source(frame, target="label", seed=0)
    shifted = frame.copy()
    test_entities = set(base.entities_test)
    shifted.loc[shifted.entity_id.isin(test_entities), "amount"] += 1e6
    moved = event_source(shifted, target="label", seed=0)
    assert torch.allclose(base.train.store.numeric, moved.train.store.numeric)
    assert moved.test.store.numeric.mean() > 1000
    assert abs(float(base.train.store.numeric.mean())) < 1e-5


def test_max_length_keeps_the_last_events_and_says_so():
    source = event_source(_frame(), test_fraction=0, max_length=4)
    lengths = source.train.store.lengths
    assert int(lengths.max()) == 4
    assert sum("max_length=4" in note for note in source.notes) == 1
    full = event_source(_frame(), test_fraction=0)
    last = full.train.__getitems__([3])["x"].categorical[0, 2:6]
    assert torch.equal(source.train.__getitems__([3])["x"].categorical[0, :4], last)


def test_single_event_entities_are_kept_or_dropped_and_said():
    frame = pd.concat([_frame(), pd.DataFrame([{"entity_id": "solo", "time": 0, "shop": "a", "amount": 1.0,
                                                "label": "odd"}])], ignore_index=True)
    kept = event_source(frame, test_fraction=0)
    dropped = event_source(frame, test_fraction=0, drop_single=True)
    assert "solo" in kept.entities_train and "solo" not in dropped.entities_train
    assert any("single event" in n and "kept" in n for n in kept.notes)
    assert any("single event" in n and "dropped" in n for n in dropped.notes)


def test_labels_from_a_separate_file(tmp_path):
    frame = _frame().drop(columns="label")
    labels = pd.DataFrame({"entity_id": [f"u{e}" for e in range(12)], "segment": ["x", "y", "z"] * 4})
    events_path, labels_path = tmp_path / "events.parquet", tmp_path / "labels.csv"
    frame.to_parquet(events_path)
    labels.to_csv(labels_path, index=False)
    source = read_events(events_path, labels=str(labels_path), test_fraction=0)
    assert source.class_names == ["x", "y", "z"] and source.y_train.tolist() == [0, 1, 2] * 4
    labels.iloc[:11].to_csv(labels_path, index=False)
    with pytest.raises(SelfsupError, match="Entity 'u11' has events but no 'segment' label"):
        read_events(events_path, labels=str(labels_path), test_fraction=0)


@pytest.mark.parametrize("change, options, message", [
    (lambda f: f.assign(amount=f.amount.astype(object).where(f.index != 4, "twelve")), {},
     r"Column 'amount' mixes types.*line 6 of events.csv"),
    (lambda f: f.assign(label=f.label.where(f.index != 3, "even")), {"target": "label"},
     r"per-entity label.*'u1'.*line \d of events.csv"),
    (lambda f: f, {"entity": "user"}, r"data.options.entity is 'user'.*Its columns"),
    (lambda f: f, {"target": "shop", "categorical": ["shop"]}, "target and is also listed"),
    (lambda f: f.assign(entity_id=f.entity_id.where(f.index != 2, None)), {}, r"entity column.*line 4"),
])
def test_bad_input_is_one_error_naming_the_file_line_and_column(tmp_path, change, options, message):
    path = tmp_path / "events.csv"
    change(_frame()).to_csv(path, index=False)
    with pytest.raises(SelfsupError, match=message):
        read_events(path, **options)


def test_a_folder_or_a_wrong_suffix_is_refused_naming_the_events_modality(tmp_path):
    with pytest.raises(SelfsupError, match="is a folder; the events modality reads"):
        read_events(tmp_path)
    (tmp_path / "e.json").write_text("{}")
    with pytest.raises(SelfsupError, match="e.json: the events modality reads"):
        read_events(tmp_path / "e.json")
