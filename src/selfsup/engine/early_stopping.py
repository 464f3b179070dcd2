"""Early stopping on the validation split (``train.early_stopping``).

Every ``every_n_epochs`` epochs the callback scores the encoder with the data source's
:meth:`~selfsup.data.DataSource.validation_scores` (interactions: full-ranking Recall@20 and
NDCG@20 on the validation split; higher is better, the first score is the one watched), writes
the scores to metrics.csv (``valid_<name>``), keeps a copy of the encoder's weights at the best
one, and stops training after ``patience`` evaluations in a row without improvement. When training
ends, however it ends, the best weights go back into the encoder, so the final evaluation and the
saved encoder are those of the best epoch (RecBole's ``stopping_step`` and best-model reload).

``report()`` is metrics.json's ``early_stopping``. The state (best score, its epoch and weights,
the evaluations since) is checkpointed, so a resumed run goes on counting where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn

from selfsup.engine.callbacks import MetricsWriter
from selfsup.errors import SelfsupError


class EarlyStopping(L.Callback):
    """Early stopping on validation scores (module doc).

    Args:
        score: ``encoder -> {name: value}`` on the validation split, higher is better; the first
            entry is the one watched.
        patience: evaluations without improvement before training stops (>= 1).
        every_n_epochs: epochs between evaluations.
        writer: the run's metrics.csv writer, or None.
    """

    def __init__(self, score: Callable[[nn.Module], dict[str, float]], patience: int, every_n_epochs: int = 1,
                 writer: MetricsWriter | None = None) -> None:
        self.score = score
        self.patience = patience
        self.every_n_epochs = every_n_epochs
        self.writer = writer
        self.metric: str | None = None
        self.best: float | None = None
        self.best_epoch: int | None = None  # epochs trained when the best score was measured
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.since_best = 0
        self.evaluations = 0
        self.stopped_epoch: int | None = None
        self.last_epoch = 0
        self.restored = False

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        self.last_epoch = epoch
        if epoch % self.every_n_epochs and epoch != trainer.max_epochs:
            return
        encoder = pl_module.encoder
        training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():
                scores = self.score(encoder)
        finally:
            encoder.train(training)
        self.metric = self.metric or next(iter(scores))
        value = float(scores[self.metric])
        self.evaluations += 1
        if self.writer is not None:
            self.writer.add({"step": trainer.global_step, "epoch": trainer.current_epoch,
                             **{f"valid_{k}": float(v) for k, v in scores.items()}})
        if self.best is None or value > self.best:
            self.best, self.best_epoch, self.since_best = value, epoch, 0
            self.best_weights = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
            return
        self.since_best += 1
        if self.since_best >= self.patience:
            self.stopped_epoch = epoch
            trainer.should_stop = True

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.best_weights is not None:
            pl_module.encoder.load_state_dict(self.best_weights)
            self.restored = True

    def report(self) -> dict[str, Any]:
        """What metrics.json records: the watched score, the best epoch and its score, when and why
        training stopped, and whether the best weights were restored."""
        return {
            "metric": f"valid {self.metric}" if self.metric else None,
            "patience": self.patience,
            "every_n_epochs": self.every_n_epochs,
            "evaluations": self.evaluations,
            "best_epoch": self.best_epoch,
            "best": None if self.best is None else round(self.best, 4),
            "epochs_trained": self.last_epoch,
            "stopped_by": "patience" if self.stopped_epoch is not None else "epochs",
            "restored_best": self.restored,
        }

    def describe(self) -> str:
        """One line for the run's notes."""
        if self.best is None:
            return (f"Early stopping (patience {self.patience}) never evaluated: training ended before epoch "
                    f"{self.every_n_epochs}.")
        why = (f"stopped after epoch {self.stopped_epoch}: {self.metric} on the validation split did not improve in "
               f"{self.patience} evaluations (every {self.every_n_epochs} epochs)" if self.stopped_epoch is not None
               else f"trained all {self.last_epoch} epochs without {self.patience} evaluations in a row without "
               "improvement")
        return (f"Early stopping: {why}; best validation {self.metric} {self.best:.4f} at epoch {self.best_epoch}, "
                "whose weights the final evaluation and the saved encoder use.")

    def state_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "best": self.best, "best_epoch": self.best_epoch, "since_best": self.since_best,
                "evaluations": self.evaluations, "stopped_epoch": self.stopped_epoch, "last_epoch": self.last_epoch,
                "best_weights": self.best_weights}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for key, value in state_dict.items():
            setattr(self, key, value)


def build_early_stopping(source: Any, train: Any, writer: MetricsWriter | None) -> EarlyStopping:
    """The callback for ``train.early_stopping`` (the patience) on ``source``'s validation scorer
    (:meth:`~selfsup.data.DataSource.validation_scorer`); one clear error where there is none."""
    scorer = source.validation_scorer()
    if scorer is None:
        raise SelfsupError(
            f"train.early_stopping={train.early_stopping} needs a validation split to stop on, and the data "
            f"{source.name!r} ({source.modality}) has none. Set train.early_stopping=0, or give data with a "
            "validation split (interactions: a split with three ratios, e.g. data.options.ratios=[0.8,0.1,0.1]).")
    if train.average_weights:
        raise SelfsupError("train.early_stopping and train.average_weights both choose the weights training ends "
                           "with (the best validation epoch's, or the average over all steps); set one of them.")
    return EarlyStopping(scorer, train.early_stopping, train.validate_every_n_epochs, writer)
