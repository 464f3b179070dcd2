"""Tables: schema inference, train-only encoding, unknown categories, the missing mask, every bad
input as one SelfsupError naming the column (and row), CSV / Parquet readers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modality import get_modality

get_modality("tabular")
from selfsup.modalities.tabular import TabularBatch, table_source
from selfsup.modalities.tabular.data.readers import read_table


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.normal(50_000, 10_000, n),
        "city": rng.choice(["paris", "lyon", "nice"], n),
        "member": rng.choice([True, False], n),
        "label": rng.choice(["yes", "no"], n),
    })


def test_schema_is_inferred_numbers_numeric_text_and_booleans_categorical():
    source = table_source(_frame(), target="label")
    assert source.input_spec.numeric == ("age", "income")
    assert source.input_spec.categorical == ("city", "member")
    assert source.input_spec.cardinalities == (4, 3)  # categories + the unknown slot
    assert source.class_names == ["no", "yes"] and source.n_train + source.n_test == 40


def test_given_roles_override_inference():
    source = table_source(_frame(), target="label", categorical=["age"])
    assert source.input_spec.numeric == ("income",)
    assert source.input_spec.categorical == ("age", "city", "member")


def test_numeric_columns_are_standardised_with_train_statistics_only():
    train, test = _frame(), _frame()
    test["income"] = test["income"] + 1e6  # a shifted test split must not move the train encoding
    source = table_source(train, target="label", test_frame=test)
    alone = table_source(train, target="label", test_frame=_frame())
    x_train = source.train.table.numeric
    assert torch.allclose(x_train, alone.train.table.numeric)
    assert torch.allclose(x_train.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(x_train.std(0, unbiased=False), torch.ones(2), atol=1e-4)
    expected = (test["income"].to_numpy() - train["income"].mean()) / train["income"].std(ddof=0)
    assert np.allclose(source.test.table.numeric[:, 1].numpy(), expected, atol=1e-3)


def test_category_unseen_in_training_maps_to_unknown_and_is_said_once():
    test = _frame(10)
    test.loc[3, "city"] = "marseille"
    test.loc[5, "city"] = "brest"
    source = table_source(_frame(), target="label", test_frame=test)
    codes = source.test.table.categorical[:, 0]
    assert codes[3] == 0 and codes[5] == 0 and (codes[[0, 1, 2, 4]] > 0).all()
    notes = [n for n in source.notes if "unknown" in n]
    assert len(notes) == 1 and "'city': 2 value(s)" in notes[0]


def test_missing_numeric_values_are_zero_and_flagged_in_the_mask():
    frame = _frame()
    frame.loc[[2, 7], "age"] = np.nan
    source = table_source(frame, target="label", test_fraction=0)
    table = source.train.table
    assert table.missing[:, 0].nonzero().flatten().tolist() == [2, 7]
    assert (table.numeric[[2, 7], 0] == 0).all() and not table.missing[:, 1].any()


def test_a_missing_category_is_a_category_of_its_own():
    frame = _frame()
    frame.loc[4, "city"] = None
    source = table_source(frame, target="label", test_fraction=0)
    assert source.input_spec.cardinalities[0] == 5
    assert source.train.table.categorical[4, 0] > 0


def test_raw_features_are_standardised_numbers_then_one_hot_categories():
    source = table_source(_frame(), target="label")
    batch = source.collate(source.train.__getitems__([0, 1, 2]))
    raw = batch["x"].raw_features()
    assert raw.shape == (3, source.input_spec.raw_width) == (3, 2 + 4 + 3)
    assert torch.equal(raw[:, :2], batch["x"].numeric)
    assert (raw[:, 2:].sum(1) == 2).all()  # one hot per categorical column


def test_batches_move_and_collate_from_single_rows():
    source = table_source(_frame(), target="label")
    items = [source.train[i] for i in range(3)]
    batch = source.collate(items)
    assert isinstance(batch["x"], TabularBatch) and len(batch["x"]) == 3 and batch["y"].shape == (3,)
    assert batch["x"].to("cpu").numeric.shape == (3, 2)


@pytest.mark.parametrize("frame_change, options, message", [
    (lambda f: f.assign(age=np.nan), {}, "Column 'age' of .* is missing in every row"),
    (lambda f: f, {"numeric": ["label"]}, "'label' is the target and is also listed in data.options.numeric"),
    (lambda f: f, {"categorical": "label"}, "'label' is the target and is also listed in data.options.categorical"),
    (lambda f: f, {"categorical": ["citty"]}, "categorical names column 'citty'.*Did you mean 'city'"),
    (lambda f: f, {"numeric": ["nope"]}, "numeric names column 'nope'"),
    (lambda f: f, {"target": "labl"}, "target names column 'labl'"),
    (lambda f: f, {"categorical": ["age"], "numeric": ["age"]}, "'age' is listed in both"),
])
def test_bad_input_is_one_error_naming_the_column(frame_change, options, message):
    options = {"target": "label", **options}
    with pytest.raises(SelfsupError, match=message):
        table_source(frame_change(_frame()), **options)


def test_mixed_types_in_a_column_name_the_column_and_row(tmp_path):
    path = tmp_path / "t.csv"
    frame = _frame(10)
    frame["age"] = frame["age"].astype(int).astype(str)
    frame.loc[6, "age"] = "unknown"
    frame.to_csv(path, index=False)
    with pytest.raises(SelfsupError, match=r"Column 'age' mixes types.*line 8 of t.csv holds text \('unknown'\)"):
        read_table(path, target="label")
    # declared categorical: every value is a category
    assert "age" in read_table(path, target="label", categorical=["age"]).input_spec.categorical


def test_declared_numeric_column_with_text_names_the_row():
    frame = _frame(10)
    frame["city"] = frame["city"].astype(object)
    with pytest.raises(SelfsupError, match="'city' is numeric .data.options.numeric. but row 0 of dataframe"):
        table_source(frame, target="label", numeric=["city"])


def test_a_missing_target_names_the_row():
    frame = _frame(10)
    frame.loc[3, "label"] = None
    with pytest.raises(SelfsupError, match="target 'label' is missing at row 3"):
        table_source(frame, target="label")


def test_csv_and_parquet_round_trip_through_the_reader(tmp_path):
    frame = _frame()
    frame.to_csv(tmp_path / "t.csv", index=False)
    from_csv = read_table(tmp_path / "t.csv", target="label", seed=1)
    assert from_csv.input_spec.numeric == ("age", "income") and from_csv.n_train + from_csv.n_test == 40
    pytest.importorskip("pyarrow")
    frame.to_parquet(tmp_path / "t.parquet")
    from_parquet = read_table(tmp_path / "t.parquet", target="label", seed=1)
    assert torch.allclose(from_parquet.train.table.numeric, from_csv.train.table.numeric, atol=1e-5)


def test_parquet_without_pyarrow_is_one_clear_error(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # an import of it now fails
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    with pytest.raises(SelfsupError, match=r"needs the package 'pyarrow'.*selfsup\[tabular\]"):
        read_table(tmp_path / "t.parquet")


@pytest.mark.parametrize("content, message", [
    ("", "is empty"), ("a,b\n", "has a header but no rows"), ("a,,c\n1,2,3\n", "column without a name"),
])
def test_unreadable_csv_is_one_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(SelfsupError, match=message):
        read_table(path)


def test_input_spec_round_trips_through_its_dict():
    spec = table_source(_frame(), target="label").input_spec
    assert type(spec).from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["input_shape"] == [2, 2]
