"""Reading, cleaning and splitting interactions; each bad input is one SelfsupError naming its place."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.interactions import interaction_data
from selfsup.modalities.interactions.data.splits import (
    TEST,
    TRAIN,
    VALID,
    split_leave_one_out,
    split_ratio,
)
from selfsup.modalities.interactions.data.table import k_core

HAS_RECBOLE = importlib.util.find_spec("recbole") is not None


def frame(n_users: int = 6, per_user: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"u{u}", f"i{i}", float(rng.integers(1, 6)), 1000 * u + t)
            for u in range(n_users) for t, i in enumerate(rng.choice(30, per_user, replace=False))]
    return pd.DataFrame(rows, columns=["uid", "iid", "stars", "when"])


def test_csv_with_named_columns_keeps_the_original_ids(tmp_path):
    path = tmp_path / "log.csv"
    frame().to_csv(path, index=False)
    source = load_data(str(path), modality="interactions", user_column="uid", item_column="iid",
                       rating_column="stars", time_column="when")
    assert source.ids["users"] == [f"u{u}" for u in range(6)]
    task = source.recommendation
    counts = task.train.counts() + task.valid.counts() + task.test.counts()
    assert counts.tolist() == [10] * 6
    assert source.input_spec.num_users == 6 and source.input_spec.num_train == 6 * 8


def test_an_unknown_column_lists_the_columns_found(tmp_path):
    path = tmp_path / "log.csv"
    frame().to_csv(path, index=False)
    with pytest.raises(SelfsupError, match=r"no column 'user'.*'uid', 'iid', 'stars', 'when'"):
        load_data(str(path), modality="interactions", user_column="user", item_column="iid")


def test_a_non_numeric_rating_names_the_file_and_line(tmp_path):
    data = frame().astype({"stars": object})
    data.loc[3, "stars"] = "five"
    path = tmp_path / "log.csv"
    data.to_csv(path, index=False)
    with pytest.raises(SelfsupError, match=r"log.csv line 5: the rating 'five'"):
        load_data(str(path), modality="interactions", user_column="uid", item_column="iid", rating_column="stars")


def test_duplicates_are_collapsed_and_said_or_refused():
    data = pd.concat([frame(), frame().iloc[:3]], ignore_index=True)
    source = interaction_data(data, user_column="uid", item_column="iid", time_column="when")
    assert any("collapsed 3 duplicate" in note for note in source.notes)
    assert source.input_spec.num_train + int(source.recommendation.test.indices.numel()) + int(
        source.recommendation.valid.indices.numel()) == 60
    with pytest.raises(SelfsupError, match="3 duplicate interactions"):
        interaction_data(data, user_column="uid", item_column="iid", duplicates="error")


def test_threshold_keeps_ratings_at_or_above_it():
    data = frame()
    source = interaction_data(data, user_column="uid", item_column="iid", rating_column="stars", threshold=4)
    kept = int((data["stars"] >= 4).sum())
    task = source.recommendation
    total = sum(int(s.indices.numel()) for s in (task.train, task.valid, task.test) if s is not None)
    assert total == kept and any("rated >= 4" in note for note in source.notes)


def test_k_core_removes_users_and_items_until_none_is_below():
    users = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    items = np.array([0, 1, 2, 0, 1, 0, 1, 3])
    keep = k_core(users, items, 2, 2)
    assert keep.tolist() == [True, True, False, True, True, True, True, False]


def test_k_core_drops_are_counted_in_the_notes():
    data = pd.concat([frame(), pd.DataFrame([["lonely", "i0", 3.0, 5]], columns=["uid", "iid", "stars", "when"])])
    source = interaction_data(data, user_column="uid", item_column="iid", min_user_interactions=2)
    assert "lonely" not in source.ids["users"]
    assert any("dropped 1 interactions, 1 users" in note for note in source.notes)


def test_ratio_split_rounds_as_recbole_per_user():
    users = np.repeat([0, 1, 2], [10, 5, 1])
    part = split_ratio(users, np.array([0.8, 0.1, 0.1]), seed=0)
    counts = [[int(((users == u) & (part == p)).sum()) for p in (TRAIN, VALID, TEST)] for u in range(3)]
    assert counts == [[8, 1, 1], [3, 1, 1], [1, 0, 0]]


def test_leave_one_out_holds_out_each_users_latest():
    users = np.array([0, 0, 0, 1, 1])
    times = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
    assert split_leave_one_out(users, times).tolist() == [TEST, TRAIN, VALID, TEST, TRAIN]


def test_time_split_global_trains_on_the_oldest():
    data = frame()
    source = interaction_data(data, user_column="uid", item_column="iid", time_column="when", split="time",
                              time_scope="global", ratios=[0.5, 0.5])
    assert source.recommendation.valid is None
    assert any("without test items" in note for note in source.notes)  # the oldest users only train


def test_a_split_by_time_without_times_is_refused():
    with pytest.raises(SelfsupError, match="no time column"):
        interaction_data(frame().drop(columns="when"), user_column="uid", item_column="iid", split="loo")


def test_users_without_test_items_are_counted():
    data = pd.concat([frame(), pd.DataFrame([["single", "i1", 3.0, 7]], columns=["uid", "iid", "stars", "when"])])
    source = interaction_data(data, user_column="uid", item_column="iid")
    assert any("leaves 1 of 7 users without test items" in note for note in source.notes)


def test_feature_table_ids_missing_from_interactions_are_said():
    users = pd.DataFrame({"uid": [f"u{u}" for u in range(8)], "group": list("abababab")})
    source = interaction_data(frame(), user_column="uid", item_column="iid", user_features=users, user_label="group")
    assert any("2 users have no interaction" in note for note in source.notes)
    assert source.recommendation.user_labels.class_names == ["a", "b"]


def test_recbole_atomic_folder(tmp_path):
    data = frame().rename(columns={"uid": "user_id:token", "iid": "item_id:token", "stars": "rating:float",
                                   "when": "timestamp:float"})
    data.to_csv(tmp_path / "toy.inter", sep="\t", index=False)
    pd.DataFrame({"user_id:token": ["u0", "u1"], "age:token": ["20", "30"]}).to_csv(tmp_path / "toy.user", sep="\t",
                                                                                     index=False)
    source = load_data(str(tmp_path), modality="interactions", split="loo", user_label="age")
    assert source.recommendation.test.indices.numel() == 6
    assert source.recommendation.user_labels.y.tolist()[:3] == [0, 1, -1]


@pytest.mark.skipif(not HAS_RECBOLE, reason="ml-100k ships in the recbole wheel")
def test_ml100k_is_the_100k_movielens_ratings():
    source = load_data("ml-100k")
    task = source.recommendation
    total = sum(int(s.indices.numel()) for s in (task.train, task.valid, task.test))
    assert (task.num_users, task.num_items, total) == (943, 1682, 100_000)
    assert len(task.item_labels.class_names) == 19


def test_synthetic_interactions_has_the_size_asked_for():
    source = load_data("synthetic_interactions", users=500, items=200, interactions=5000)
    task = source.recommendation
    assert task.num_users == 500 and task.num_items <= 200
    total = sum(int(s.indices.numel()) for s in (task.train, task.valid, task.test))
    assert 4500 <= total <= 5000  # a few heavy users run out of items to draw
