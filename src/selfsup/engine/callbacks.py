"""Callbacks the engine adds: metrics log, online monitors, non-finite-loss guard, weight averaging."""

from __future__ import annotations

import csv
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import Dataset, Subset

from selfsup.errors import SelfsupError


class NonFiniteLossError(SelfsupError):
    """Training produced a NaN or infinite loss."""


class NonFiniteLossGuard(L.Callback):
    """Stops before a non-finite loss reaches the weights.

    It raises before ``backward``, so the update that would poison the weights never happens and
    no checkpoint is written after it: ``checkpoints/last.ckpt`` stays the last good one.
    """

    def __init__(self, checkpoint_dir: Path) -> None:
        self.checkpoint_dir = checkpoint_dir

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor) -> None:
        if torch.isfinite(loss).all():
            return
        last = self.checkpoint_dir / "last.ckpt"
        kept = (
            f"The last good checkpoint is kept at {last}; resume from it with --resume after the change."
            if last.exists()
            else "No checkpoint had been written yet."
        )
        raise NonFiniteLossError(
            f"The loss became {float(loss)} at step {trainer.global_step} (epoch {trainer.current_epoch}). "
            f"Training stopped before the weights were updated. Lower the learning rate (train.lr), "
            f"enable gradient clipping (train.gradient_clip) or check the input data for extreme values. {kept}"
        )


class MetricsWriter(L.Callback):
    """Writes ``metrics.csv``: one row per logged step plus the monitors' epoch rows.

    On resume it keeps the rows up to the restored step and drops the ones the interrupted run
    logged after its last checkpoint, so the file reads as one uninterrupted run.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.rows = []
        if trainer.global_step > 0 and self.path.exists():
            with self.path.open(newline="") as f:
                kept = [r for r in csv.DictReader(f) if r.get("step") and int(float(r["step"])) <= trainer.global_step]
            self.rows = [{k: v for k, v in r.items() if v not in ("", None)} for r in kept]

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        logs = outputs.get("logs") if isinstance(outputs, dict) else None
        if logs:
            self.add({"step": trainer.global_step, "epoch": trainer.current_epoch, **logs})

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.flush(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.flush(trainer)

    def flush(self, trainer: L.Trainer) -> None:
        if not trainer.is_global_zero:
            return
        keys: list[str] = ["step", "epoch"]
        for row in self.rows:
            keys.extend(k for k in row if k not in keys)
        tmp = self.path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        tmp.replace(self.path)


class LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` after an epoch, at most once every ``every_s`` seconds (0: every epoch), and
    always after the first epoch and the last one (``max_epochs`` reached or training stopping)."""

    def __init__(self, every_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.every_s = every_s
        self._saved_at: float | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        last = trainer.should_stop or _at_max_steps(trainer) or (
            trainer.max_epochs is not None and 0 <= trainer.max_epochs <= trainer.current_epoch + 1)
        now = time.monotonic()
        if not last and self._saved_at is not None and now - self._saved_at < self.every_s:
            return
        super().on_train_epoch_end(trainer, pl_module)
        self._saved_at = now


def _at_max_steps(trainer: L.Trainer) -> bool:
    return 0 <= trainer.max_steps <= trainer.global_step


class TimeBudget(L.Callback):
    """Train for ``seconds`` (``train.time_budget``) instead of a number of epochs.

    The first step is not timed (allocations, caches); once the steps after it have run for
    ``probe`` of the budget (at most 10 s, at least 3 steps), the step time so far sets the plan:
    the number of steps that ends training within the budget, a warm-up of the same share of it as
    the recipe's ``warmup_epochs / epochs``, and the cosine schedule over it (the module reads both
    at every step). Each epoch's end refines the plan with the time measured so far, which then
    includes the epoch's checkpoint and monitor. Should the steps run slower than planned, training
    stops at the step boundary nearest the budget (within half a step of it). A resumed run keeps the plan saved in its checkpoint (the
    steps, not the seconds).

    ``capped``: the seconds are a cap rather than a target (``train.max_time``): the plan is the
    smaller of the run's own steps (its epochs') and the steps that fit the seconds.

    ``report()`` is what metrics.json records: the budget, the seconds and steps trained, the
    epochs they make, and why training stopped.
    """

    PROBE = 0.05

    def __init__(self, seconds: float, warmup_share: float, capped: bool = False) -> None:
        self.seconds = float(seconds)
        self.warmup_share = float(warmup_share)
        self.capped = capped
        self.max_steps: int | None = None  # capped: the epochs' steps, read when training starts
        self.started: float | None = None
        self.mark: tuple[float, int] | None = None  # (time, global step) after the first step
        self.ended: float | None = None
        self.resumed = False
        self.stopped_by_time = False

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.monotonic()
        if self.capped:
            self.max_steps = int(pl_module.total_steps)
        if pl_module.planned:  # resumed: the saved plan holds
            self.resumed = True
            trainer.fit_loop.epoch_loop.max_steps = pl_module.total_steps

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        now, step = time.monotonic(), trainer.global_step
        last = None if self.ended is None else now - self.ended  # the step just done, its hooks included
        self.ended = now
        if self.resumed:
            return
        if self.mark is None:
            self.mark = (now, step)
            if now - self.started > self.seconds and not self.capped:
                raise SelfsupError(
                    f"--time-budget {self.seconds:g}s is shorter than one training step here "
                    f"({now - self.started:.1f} s); give a longer budget, or use --epochs.")
            return
        # stop at the step boundary nearest the budget: once another step as long as the last one
        # would end further past it than we are short of it (slow steps end within half a step)
        per_step = last if last is not None else (now - self.mark[0]) / max(1, step - self.mark[1])
        # processes of one run decide together (any one past the budget stops all; rank 0's clock
        # says when to plan), or one would stop while the others wait for it in a collective
        if trainer.strategy.reduce_boolean_decision(now - self.started + 0.5 * per_step >= self.seconds, all=False):
            self.stopped_by_time = True
            trainer.should_stop = True
            return
        probed = now - self.mark[0] >= min(10.0, self.PROBE * self.seconds) and step - self.mark[1] >= 3
        if not pl_module.planned and trainer.strategy.broadcast(probed, src=0):
            self._plan(trainer, pl_module, now, step)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.planned and not self.resumed and not trainer.should_stop:
            self._plan(trainer, pl_module, time.monotonic(), trainer.global_step)

    def _plan(self, trainer: L.Trainer, module: L.LightningModule, now: float, step: int) -> None:
        per_step = (now - self.mark[0]) / max(1, step - self.mark[1])
        left = self.seconds - (now - self.started)
        total = max(step + 1, step + int(left / per_step))
        if self.capped:
            total = min(total, self.max_steps)
        total = int(trainer.strategy.broadcast(total, src=0))  # one plan for every process
        first = not module.planned
        module.total_steps, module.planned = total, True
        module.warmup_steps = round(self.warmup_share * total)
        trainer.fit_loop.epoch_loop.max_steps = total
        if first and self.capped:
            if total < self.max_steps:
                warnings.warn(
                    f"The run's {self.max_steps} steps would take about {self.max_steps * per_step / 60:.0f} minutes "
                    f"here ({per_step:.3g} s per step): training stops after {total} steps "
                    f"({total / module.steps_per_epoch:.1f} epochs), within train.max_time = {self.seconds:g} s, with "
                    "the schedule fitted to them. Train longer with --epochs N or --time-budget 30m.", stacklevel=2)
        elif first:
            warnings.warn(
                f"Time budget {self.seconds:g} s: {per_step:.3g} s per step measured, so about {total} steps "
                f"({total / module.steps_per_epoch:.1f} epochs); warm-up {module.warmup_steps} steps, then cosine. "
                "train.epochs is not used; evaluation follows and is not counted.", stacklevel=2)

    def report(self, module: L.LightningModule, global_step: int) -> dict[str, Any]:
        trained = None if self.started is None or self.ended is None else self.ended - self.started
        return {
            "seconds": self.seconds,
            "trained_seconds": None if trained is None else round(trained, 1),
            "steps": global_step,
            "planned_steps": module.total_steps,
            "epochs": round(global_step / max(1, module.steps_per_epoch), 2),
            "stopped_by": "time" if self.stopped_by_time else "plan",
            "cap_steps": self.max_steps,
            "resumed": self.resumed,
        }


class TrainClock(L.Callback):
    """When training started (after Lightning's set-up), when it ended, and the epochs in between:
    ``seconds_per_epoch`` is the training loop's own time, every epoch's checkpoint and metrics
    rows included, without the fixed start-up cost that a per-epoch figure would otherwise spread
    over the epochs. Put it last, so its epoch-end runs after every other callback's."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.ended: float | None = None
        self.epochs = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started, self.epochs = time.time(), 0

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epochs += 1
        self.ended = time.time()

    @property
    def seconds_per_epoch(self) -> float | None:
        if self.started is None or self.ended is None or self.epochs == 0:
            return None
        return (self.ended - self.started) / self.epochs


class OnlineMonitor(L.Callback):
    """Every ``every_n_epochs`` epochs: kNN accuracy on the held-out labeled split (when labels
    exist) and label-free monitors (RankMe, embedding std as a collapse alarm) on detached
    embeddings. Values are logged (so checkpoints can select on them) and written to metrics.csv.

    ``embed(encoder, dataset, device) -> [N, D]`` embeds a dataset through the data source's
    loader; at most ``max_samples`` of each split (a fixed random subset) are scored.
    """

    def __init__(
        self,
        writer: MetricsWriter,
        embed: Callable[[torch.nn.Module, Dataset, torch.device], torch.Tensor],
        train: Dataset,
        y_train: torch.Tensor | None,
        held_out: Dataset,
        y_eval: torch.Tensor | None,
        every_n_epochs: int,
        k: int = 20,
        max_samples: int = 4096,
        collapse_ratio_alarm: float = 0.1,
    ) -> None:
        gen = torch.Generator().manual_seed(0)

        def cap(data: Dataset, y: torch.Tensor | None) -> tuple[Dataset, torch.Tensor | None]:
            if len(data) <= max_samples:
                return data, y
            keep = torch.randperm(len(data), generator=gen)[:max_samples]
            return Subset(data, keep.tolist()), (y[keep] if y is not None else None)

        self.writer = writer
        self.embed = embed
        self.train, self.y_train = cap(train, y_train)
        self.held_out, self.y_eval = cap(held_out, y_eval)
        self.every_n_epochs = every_n_epochs
        self.k = k
        self.collapse_ratio_alarm = collapse_ratio_alarm
        self.alarms: list[str] = []

    def _due(self, trainer: L.Trainer) -> bool:
        epoch = trainer.current_epoch + 1
        return epoch % self.every_n_epochs == 0 or epoch == trainer.max_epochs

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._due(trainer):
            return
        from selfsup.eval import embedding_std, knn_accuracy, rankme

        encoder = pl_module.encoder
        eval_emb = self.embed(encoder, self.held_out, pl_module.device)
        std = embedding_std(eval_emb)
        values = {
            "rankme": rankme(eval_emb),
            "emb_std": std,
            "collapse_ratio": std * math.sqrt(eval_emb.shape[1]),
        }
        if self.y_train is not None and self.y_eval is not None:
            train_emb = self.embed(encoder, self.train, pl_module.device)
            values["knn_acc"] = knn_accuracy(train_emb, self.y_train, eval_emb, self.y_eval, k=self.k)
        for key, value in values.items():
            pl_module.log(key, float(value), on_epoch=True, prog_bar=key in ("knn_acc", "rankme"), sync_dist=True)
        self.writer.add({"step": trainer.global_step, "epoch": trainer.current_epoch, **{k: float(v) for k, v in values.items()}})
        if values["collapse_ratio"] < self.collapse_ratio_alarm:
            message = (
                f"Possible collapse at epoch {trainer.current_epoch}: std of normalised embeddings × sqrt(D) = "
                f"{values['collapse_ratio']:.3f} (healthy ≈ 1, collapsed ≈ 0)."
            )
            self.alarms.append(message)
            if trainer.is_global_zero:
                warnings.warn(message, stacklevel=1)


class EncoderAveraging(L.Callback):
    """Keep the uniform average of the encoder's weights over every optimizer step, and leave it
    in the encoder when training ends (Polyak & Juditsky 1992 averaging; "stochastic weight
    averaging", Izmailov et al. 2018). TS2Vec's released code evaluates this average of all
    iterates (its ``AveragedModel``), so its published accuracies are of the averaged encoder.

    Parameters are averaged; buffers (BatchNorm statistics) are the last step's. The average is
    part of the callback state, so it is checkpointed and a resumed run ends with the same one.
    The online monitor scores the live (not averaged) encoder during training.
    """

    def __init__(self) -> None:
        self.count = 0
        self.average: dict[str, torch.Tensor] = {}

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.count += 1
        with torch.no_grad():
            for name, parameter in pl_module.encoder.named_parameters():
                if name not in self.average:
                    self.average[name] = parameter.detach().clone()
                else:
                    self.average[name] += (parameter.detach() - self.average[name]) / self.count

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        with torch.no_grad():
            for name, parameter in pl_module.encoder.named_parameters():
                if name in self.average:
                    parameter.copy_(self.average[name])

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "average": {k: v.detach().cpu() for k, v in self.average.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.count = int(state_dict["count"])
        self.average = dict(state_dict["average"])

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a restored average lives on the CPU; the encoder may be on another device
        device = next(pl_module.encoder.parameters()).device
        self.average = {k: v.to(device) for k, v in self.average.items()}

class InterruptWatch(L.Callback):
    """Notes that training ended on Ctrl-C: Lightning handles the KeyboardInterrupt itself and
    exits with status 1, which would hide what happened."""

    def __init__(self) -> None:
        self.interrupted = False

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            self.interrupted = True
