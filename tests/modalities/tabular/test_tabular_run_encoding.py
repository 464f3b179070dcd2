"""A run keeps the encoding fitted on its train split (means, stds, category vocabularies) in
encoder.json, and embedding or evaluating it on another table encodes that table the same way:
same rows, same embedding, whatever the other table's column order, categories or statistics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modality import get_modality

get_modality("tabular")
from selfsup.modalities.tabular import TabularSpec, table_source
from selfsup.modalities.tabular.data.builtins import synthetic_table


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import selfsup

    folder = tmp_path_factory.mktemp("run_encoding")
    frame = synthetic_table(n=240)
    path = folder / "train.csv"
    frame.to_csv(path, index=False)
    out = folder / "run"
    selfsup.pretrain(method="scarf", data=str(path), modality="tabular", epochs=1, batch_size=60, out=str(out),
                     progress=False, encoder="tabular_mlp",
                     overrides=["data.options.target=class", "encoder.hidden_dims=[32]"])
    return frame, path, out


def test_the_run_saves_its_train_statistics_and_categories(trained):
    frame, _, out = trained
    saved = json.loads((out / "encoder.json").read_text())["encoding"]
    spec = TabularSpec.from_dict(json.loads((out / "encoder.json").read_text()))
    assert spec.fitted and len(saved["means"]) == 6 and len(saved["categories"]) == 3
    assert saved["categories"][0] == sorted(set(frame["cat1"]))
    import selfsup

    assert selfsup.load(out).input_spec == spec  # the loaded encoder carries it too


def test_embedding_another_table_encodes_it_with_the_runs_statistics(trained, tmp_path):
    import selfsup

    frame, path, out = trained
    own = selfsup.embed(out, str(path))
    # other data: 60 training rows in another column order, the statistics of those rows alone,
    # one category of cat1 absent, and a new row with a category and a column training never saw
    rows = frame.iloc[:60]
    rows = rows[rows["cat1"] != rows["cat1"].iloc[0]].copy()
    extra = rows.iloc[:1].copy()
    extra["cat2"] = "never_seen"
    other = pd.concat([rows, extra])[["class", "cat3", "x4", "noise2", "cat1", "x1", "x3", "cat2", "x2", "noise1"]]
    other["comment"] = "ignored"
    other_path = tmp_path / "other.csv"
    other.to_csv(other_path, index=False)
    emb = selfsup.embed(out, str(other_path))
    assert np.allclose(emb[: len(rows)], own[rows.index.to_numpy()], atol=1e-5)
    assert not np.allclose(emb[-1], emb[0])  # the unseen category is "unknown", not a crash


def test_an_unseen_category_is_unknown_and_said_once_and_extra_columns_are_named(trained):
    frame, _, out = trained
    import selfsup

    spec = selfsup.load(out).input_spec
    other = frame.iloc[:20].copy()
    other.loc[other.index[:5], "cat3"] = "new_value"
    other["comment"] = "x"
    source = table_source(other, name="other", input_spec=spec)  # no target: an unlabeled table
    assert (source.train.table.categorical[:5, 2] == 0).all() and source.y_train is None
    unseen = [n for n in source.notes if "not seen in training" in n]
    assert len(unseen) == 1 and "'cat3': 5 value(s)" in unseen[0]
    assert any("are ignored: class, comment." in n for n in source.notes)
    assert source.input_spec == spec
    labeled = table_source(other.assign(**{"class": frame["class"].iloc[:20]}), name="other", target="class",
                           input_spec=spec, test_fraction=0.5)  # the unseen rows, wherever the split puts them
    unseen = [n for n in labeled.notes if "not seen in training" in n]
    assert len(unseen) == 1 and "'cat3': 5 value(s)" in unseen[0] and "other" in unseen[0]


def test_a_table_without_a_training_column_is_refused_naming_it(trained, tmp_path):
    import selfsup

    frame, _, out = trained
    path = tmp_path / "short.csv"
    frame.drop(columns=["x2"]).to_csv(path, index=False)
    with pytest.raises(SelfsupError, match="lacks the column\\(s\\) 'x2'"):
        selfsup.embed(out, str(path))


def test_a_spec_without_an_encoding_fits_anew_and_says_so():
    frame = synthetic_table(n=50)
    fitted = table_source(frame, target="class").input_spec
    bare = TabularSpec(fitted.numeric, fitted.categorical, fitted.cardinalities)
    source = table_source(frame, target="class", input_spec=bare)
    assert any("fitted anew" in n for n in source.notes)
    assert torch.allclose(source.train.table.numeric.mean(0), torch.zeros(6), atol=1e-5)


def test_the_encoding_round_trips_through_its_dict_and_old_dicts_still_load():
    spec = table_source(synthetic_table(n=50), target="class").input_spec
    assert TabularSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    old = {k: v for k, v in spec.to_dict().items() if k != "encoding"}
    assert not TabularSpec.from_dict(old).fitted
