"""Fine-tuning with few labels: the labelled subsets, the validation split, the end-to-end command
and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

import selfsup
from selfsup.cli import run as cli
from selfsup.errors import SelfsupError
from selfsup.eval.finetune import FinetuneConfig, finetune_starts, labelled_subset, validation_split

FAST = ["eval.every_n_epochs=0", "eval.random_init=false", "eval.raw_input=false"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("finetune")
    digits = load_digits()
    np.savez(folder / "digits.npz", x=(digits.images[:400] * 16).clip(0, 255).astype(np.uint8), y=digits.target[:400])
    out = folder / "run"
    selfsup.pretrain(method="simclr", data=str(folder / "digits.npz"), epochs=1, batch_size=64, out=str(out),
                     progress=False, overrides=FAST)
    return out


def test_labelled_subsets_are_stratified_seeded_and_keep_every_class():
    y = np.repeat(np.arange(5), [100, 50, 30, 15, 5])  # 200 samples, unbalanced
    subset = labelled_subset(y, 0.1, seed=0)
    assert len(subset) == 20 and len(np.unique(subset)) == 20
    assert set(y[subset]) == set(range(5))  # the 5-sample class keeps one
    assert np.bincount(y[subset]).tolist()[0] in (9, 10)  # about its share: 100 of 200 -> 10 of 20
    assert np.array_equal(subset, labelled_subset(y, 0.1, seed=0))
    assert not np.array_equal(subset, labelled_subset(y, 0.1, seed=1))
    assert len(labelled_subset(y, 1.0, seed=3)) == 200
    assert len(labelled_subset(y, 0.001, seed=0)) == 5  # at least one of every class


def test_the_validation_split_never_takes_a_class_only_sample():
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2])
    fit, validation = validation_split(y, 0.2, seed=0)
    assert sorted(np.concatenate([fit, validation]).tolist()) == list(range(len(y)))
    assert 10 in fit and len(validation) == 2 and set(y[validation]) == {0, 1}
    fit, validation = validation_split(np.array([0, 1, 2]), 0.2, seed=0)
    assert len(validation) == 1 and len(fit) == 2  # one of each: still one to stop on


def test_finetune_writes_mean_and_std_per_start_and_fraction(run):
    weights = (run / "encoder.safetensors").read_bytes()
    result = selfsup.finetune(run, labels=[0.1, 1.0], seeds=2, config=FinetuneConfig(epochs=2, patience=1))
    saved = json.loads((run / "finetune.json").read_text())
    assert saved["rows"] == result["rows"] and saved["classes"] == 10
    assert [(r["start"], r["fraction"]) for r in saved["rows"]] == [
        ("pretrained", 0.1), ("scratch", 0.1), ("pretrained", 1.0), ("scratch", 1.0)]
    for row in saved["rows"]:
        assert len(row["accuracies"]) == 2 and row["mean"] == pytest.approx(np.mean(row["accuracies"]))
        assert 0 <= min(row["best_epochs"]) and max(row["best_epochs"]) <= 2  # 0: the fitted head alone
    full = next(r for r in saved["rows"] if r["start"] == "pretrained" and r["fraction"] == 1.0)
    assert full["mean"] > 0.3  # ten classes: chance is 0.1
    assert (run / "encoder.safetensors").read_bytes() == weights  # a copy was fine-tuned, not the run


def _scripted_finetune(run, monkeypatch, validation_scores, config):
    """Fine-tune the run's encoder at 20 % of the labels with the validation accuracies scripted
    (epoch 0, the fitted head, first): ``(scores, epochs whose validation was asked for)``."""
    from selfsup.eval import finetune as module
    from selfsup.finished import open_run_data

    encoder, source = open_run_data(run, str(run.parent / "digits.npz"))
    scripted = iter(validation_scores)
    real = module._accuracy
    epochs_run = []

    def fake(model, src, dataset, indices, y, device):
        if dataset is src.test:
            return real(model, src, dataset, indices, y, device)
        epochs_run.append(len(epochs_run))
        return next(scripted)

    monkeypatch.setattr(module, "_accuracy", fake)
    return finetune_starts({"pretrained": lambda: encoder}, source, [0.2], [0], config), epochs_run


def test_early_stopping_keeps_the_best_validation_epoch_and_stops_after_the_patience(run, monkeypatch):
    # epoch 0: the head fitted on the frozen encoder
    scores, epochs_run = _scripted_finetune(run, monkeypatch, [0.4, 0.5, 0.9, 0.3, 0.2, 0.95],
                                            FinetuneConfig(epochs=5, patience=2))
    assert scores[0].best_epochs == [2] and epochs_run == [0, 1, 2, 3, 4]  # stopped before the 0.95


def test_the_head_is_first_fitted_as_a_logistic_regression_on_standardised_embeddings(run):
    import torch
    from sklearn.linear_model import LogisticRegression

    from selfsup.eval.finetune import _embed, fit_head
    from selfsup.finished import open_run_data

    encoder, source = open_run_data(run, str(run.parent / "digits.npz"))
    y = source.y_train.long()
    fit, validation = np.arange(0, 120), np.arange(120, 160)
    head = torch.nn.Linear(int(encoder.output_dim), 10)
    c = fit_head(head, encoder, source, fit, validation, y, torch.device("cpu"))
    train_x = _embed(encoder, source, fit, torch.device("cpu"))
    mean, std = train_x.mean(0), train_x.std(0)
    std = np.where(std > 1e-8, std, 1.0)  # a dead unit (ReLU) is left unscaled
    reference = LogisticRegression(C=c, max_iter=2000).fit((train_x - mean) / std, y[fit].numpy())
    val_x = _embed(encoder, source, validation, torch.device("cpu"))
    logits = head(torch.as_tensor(val_x, dtype=torch.float32)).detach().numpy()
    expected = reference.decision_function((val_x - mean) / std)
    assert np.allclose(logits[:, reference.classes_], expected, atol=1e-3)
    assert (logits.argmax(1) == reference.predict((val_x - mean) / std)).mean() == 1.0


def test_the_fitted_head_alone_is_kept_when_fine_tuning_never_beats_it(run, monkeypatch):
    scores, _ = _scripted_finetune(run, monkeypatch, [0.9, 0.5, 0.4, 0.3], FinetuneConfig(epochs=5, patience=2))
    assert scores[0].best_epochs == [0]


def test_the_patience_counts_fine_tuning_epochs_not_the_fitted_head(run, monkeypatch):
    # epoch 0, then fine-tuning climbs past it
    scores, epochs_run = _scripted_finetune(run, monkeypatch, [0.9, 0.5, 0.6, 0.7, 0.95, 0.8, 0.7],
                                            FinetuneConfig(epochs=10, patience=2))
    assert scores[0].best_epochs == [4] and epochs_run == [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("labels", "message"),
    [([0.0], r"must be in \(0, 1\]"), ([1.5], r"must be in \(0, 1\]"),
     ([0.001], "fewer than the 10 classes: use a fraction of at least")],
)
def test_bad_fractions_are_one_error_and_nothing_is_written(run, labels, message):
    (run / "finetune.json").unlink(missing_ok=True)
    with pytest.raises(SelfsupError, match=message):
        selfsup.finetune(run, labels=labels, seeds=1, config=FinetuneConfig(epochs=1))
    assert not (run / "finetune.json").exists()


def test_a_run_without_labels_is_refused(tmp_path):
    x = np.random.default_rng(0).integers(0, 255, size=(64, 8, 8), dtype=np.uint8)
    out = tmp_path / "run"
    selfsup.pretrain(method="simclr", data=x, modality="image", epochs=1, batch_size=32, out=str(out), progress=False,
                     overrides=FAST)
    with pytest.raises(SelfsupError, match="trained on data passed in memory"):
        selfsup.finetune(out, seeds=1)
    with pytest.raises(SelfsupError, match="has no labels: fine-tuning needs"):
        selfsup.finetune(out, data=x, seeds=1)
    assert not list(out.glob("finetune*.json"))


def test_the_command_prints_the_table_and_a_bad_epoch_count_is_one_line(run, capsys):
    assert cli(["finetune", str(run), "--labels", "1.0", "--seeds", "1", "--epochs", "1", "--no-scratch"]) == 0
    out = capsys.readouterr().out
    assert "pretrained" in out and "finetune.json" in out and "scratch" not in out.split("Fine-tuned")[1]
    assert cli(["finetune", str(run), "--epochs", "0"]) != 0
    assert "epochs must be a whole number >= 1" in capsys.readouterr().err
