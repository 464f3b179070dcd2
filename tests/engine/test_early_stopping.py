"""``train.early_stopping``: stop after ``patience`` validation evaluations without improvement,
restore the best weights before the final evaluation, and say so in metrics.json."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import selfsup
from selfsup.config import build_config
from selfsup.data import load_data
from selfsup.engine.early_stopping import EarlyStopping, build_early_stopping
from selfsup.errors import SelfsupError


def run_epochs(callback, max_epochs=10):
    """Drive the callback through epochs whose encoder weight is the epoch number; returns the
    module and the epochs trained."""
    module = SimpleNamespace(encoder=nn.Linear(1, 1, bias=False))
    trainer = SimpleNamespace(current_epoch=0, max_epochs=max_epochs, global_step=0, should_stop=False)
    for epoch in range(1, max_epochs + 1):
        trainer.current_epoch, trainer.global_step = epoch - 1, epoch
        with torch.no_grad():
            module.encoder.weight.fill_(epoch)
        callback.on_train_epoch_end(trainer, module)
        if trainer.should_stop:
            break
    callback.on_train_end(trainer, module)
    return module, epoch


def test_training_stops_after_patience_evaluations_without_improvement_and_the_best_weights_return():
    scores = iter([0.1, 0.3, 0.2, 0.3, 0.25, 0.9])
    callback = EarlyStopping(lambda encoder: {"recall@20": next(scores)}, patience=3)
    module, stopped = run_epochs(callback)
    assert stopped == 5  # epoch 2 best; 3, 4 (a tie is no improvement) and 5 without improvement
    assert module.encoder.weight.item() == 2.0
    report = callback.report()
    assert report["best_epoch"] == 2 and report["best"] == 0.3 and report["stopped_by"] == "patience"
    assert report["evaluations"] == 5 and report["restored_best"]


def test_evaluations_every_n_epochs_and_at_the_last_epoch():
    seen = []

    def score(encoder):
        seen.append(encoder.weight.item())
        return {"recall@20": encoder.weight.item()}  # keeps improving: never stops

    callback = EarlyStopping(score, patience=1, every_n_epochs=3)
    module, stopped = run_epochs(callback, max_epochs=7)
    assert seen == [3.0, 6.0, 7.0] and stopped == 7
    assert module.encoder.weight.item() == 7.0 and callback.report()["stopped_by"] == "epochs"


def test_data_without_a_validation_split_is_one_error_naming_the_key():
    source = load_data("digits")
    train = build_config(overrides=["train.early_stopping=3"]).train
    with pytest.raises(SelfsupError, match="train.early_stopping=3 needs a validation split"):
        build_early_stopping(source, train, None)


def test_an_interactions_run_stops_early_and_evaluates_its_best_epoch(tmp_path):
    out = tmp_path / "run"
    # a learning rate far too high: validation recall peaks within a few epochs, then falls
    selfsup.pretrain(method="lightgcn", data="synthetic_interactions", epochs=30, batch_size=256, out=str(out),
                     progress=False, overrides=["data.options.users=200", "data.options.items=80",
                                                "data.options.interactions=3000", "eval.every_n_epochs=0",
                                                "train.lr=0.05", "train.early_stopping=2"])
    metrics = json.loads((out / "metrics.json").read_text())
    stopping = metrics["early_stopping"]
    assert stopping["stopped_by"] == "patience" and stopping["epochs_trained"] < 30
    assert stopping["epochs_trained"] == stopping["best_epoch"] + 2
    with (out / "metrics.csv").open() as f:
        valid = [(int(row["epoch"]) + 1, float(row["valid_recall@20"])) for row in csv.DictReader(f)
                 if row.get("valid_recall@20")]
    assert len(valid) == stopping["evaluations"] == stopping["epochs_trained"]
    best_epoch, best = max(valid, key=lambda pair: pair[1])
    assert (best_epoch, best) == (stopping["best_epoch"], stopping["best"])
    # the final evaluation scored the restored weights, not the last epoch's
    assert metrics["recommendation"]["valid"]["pretrained"]["recall@20"] == pytest.approx(best)
    # ... and the saved encoder holds them: last.ckpt has the weights training ended with
    last = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]["method.encoder.users.weight"]
    saved = selfsup.load(out).users.weight
    assert not torch.allclose(saved, last)
    assert any("Early stopping: stopped after epoch" in note for note in metrics["notes"])


def test_a_resumed_run_keeps_counting_from_the_checkpointed_state():
    values = [0.1, 0.5, 0.2, 0.3, 0.4, 0.45]
    first = EarlyStopping(lambda encoder: {"recall@20": values[int(encoder.weight.item()) - 1]}, patience=3)
    module = SimpleNamespace(encoder=nn.Linear(1, 1, bias=False))
    trainer = SimpleNamespace(current_epoch=0, max_epochs=10, global_step=0, should_stop=False)
    for epoch in (1, 2, 3):  # best at 2, one evaluation without improvement, then the run is cut
        trainer.current_epoch = epoch - 1
        with torch.no_grad():
            module.encoder.weight.fill_(epoch)
        first.on_train_epoch_end(trainer, module)
    state = first.state_dict()
    resumed = EarlyStopping(first.score, patience=3)
    resumed.load_state_dict(state)
    for epoch in (4, 5, 6):
        trainer.current_epoch = epoch - 1
        with torch.no_grad():
            module.encoder.weight.fill_(epoch)
        resumed.on_train_epoch_end(trainer, module)
        if trainer.should_stop:
            break
    resumed.on_train_end(trainer, module)
    assert epoch == 5 and module.encoder.weight.item() == 2.0
    assert resumed.report()["evaluations"] == 5 and resumed.report()["best_epoch"] == 2
