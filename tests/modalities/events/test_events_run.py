"""Event sequences end to end: a short CoLES pretraining from a CSV file through the API (run
folder, evaluation next to the random-init encoder and the aggregate-feature baseline, the encoder
rebuilt from the run), and the built-ins."""

from __future__ import annotations

import json

import pytest

import selfsup
from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modality import get_modality

get_modality("events")
from selfsup.modalities.events.data.builtins import ml100k_folder, synthetic_transactions_frame


@pytest.mark.slow  # about 10 s on 2 busy cores, most of it the run's evaluation and report
def test_coles_pretrains_on_an_event_csv_end_to_end(tmp_path):
    path = tmp_path / "transactions.csv"
    synthetic_transactions_frame(clients=60, mean_events=12, seed=1).to_csv(path, index=False)
    out = tmp_path / "run"
    result = selfsup.pretrain(method="coles", data=str(path), modality="events", epochs=1, batch_size=30,
                              out=str(out), progress=False, encoder="event_gru",
                              overrides=["data.options.entity=client", "data.options.time=day",
                                         "data.options.target=segment", "encoder.hidden_dim=32",
                                         "eval.every_n_epochs=0"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pretrained"]["linear_acc"] > 0 and "raw_input" in metrics and "random_init" in metrics
    assert result.encoder.output_dim == 32
    assert selfsup.load(out).output_dim == 32


def test_synthetic_transactions_is_seeded_and_sized():
    source = load_data("synthetic_transactions", modality="events", clients=60, mean_events=10)
    again = load_data("synthetic_transactions", modality="events", clients=60, mean_events=10)
    assert source.n_train + source.n_test == 60 and source.num_classes == 4
    assert source.train.store.categorical.equal(again.train.store.categorical)
    hawkes = synthetic_transactions_frame(clients=5, mean_events=10, timing="hawkes")
    assert hawkes.groupby("client")["day"].apply(lambda d: d.is_monotonic_increasing).all()
    with pytest.raises(SelfsupError, match="timing"):
        synthetic_transactions_frame(timing="weekly")


def test_ml100k_sequences_are_the_943_users_with_their_labels():
    try:
        ml100k_folder()
    except SelfsupError:
        pytest.skip("recbole is not installed (pip install --no-deps recbole)")
    source = load_data("ml-100k-sequences", modality="events", target="gender")
    assert source.n_train + source.n_test == 943 and source.class_names == ["F", "M"]
    assert source.input_spec.categorical == ("item_id", "genre") and source.input_spec.numeric == ("rating",)
    assert int(source.train.store.lengths.min()) >= 20
    with pytest.raises(SelfsupError, match="age_group, gender, occupation"):
        load_data("ml-100k-sequences", modality="events", target="zip")
