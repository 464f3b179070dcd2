"""Build the Lightning Trainer, callbacks and data loader for a run, and fit."""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from selfsup.config import Config
from selfsup.data import DataSource
from selfsup.engine.callbacks import (
    EncoderAveraging,
    LastCheckpoint,
    MetricsWriter,
    NonFiniteLossGuard,
    OnlineMonitor,
    TimeBudget,
    TrainClock,
)
from selfsup.engine.early_stopping import build_early_stopping
from selfsup.engine.evaluation import embed_split
from selfsup.engine.module import SelfSupervisedModule
from selfsup.engine.rundir import CHECKPOINTS, check_checkpoint_fits
from selfsup.errors import SelfsupError
from selfsup.methods.base import Method


def fit(
    method: Method,
    source: DataSource,
    config: Config,
    out: Path,
    *,
    resume: bool = False,
    callbacks: Sequence[Any] = (),
    progress: bool = True,
) -> tuple[L.Trainer, OnlineMonitor | None]:
    """Train ``method`` on ``source.train`` as ``config.train`` says, checkpointing into
    ``out/checkpoints`` and logging into ``out/metrics.csv``; with ``resume`` continue from
    ``last.ckpt``. Returns the trainer and the online monitor (None when monitors are off).

    Steps: the callbacks, the Lightning trainer, the module (optimiser and schedule sized to the
    steps each process takes), the loader, then Lightning's fit."""
    run_callbacks, monitor = build_callbacks(source, config, out)
    train = config.train
    if train.time_budget:
        run_callbacks.insert(0, TimeBudget(train.time_budget, train.warmup_epochs / train.epochs))
    elif train.max_time:  # a cap on the epochs' steps (default-sized epochs get one)
        run_callbacks.insert(0, TimeBudget(train.max_time, train.warmup_epochs / train.epochs, capped=True))
    trainer = build_trainer(config.train, [*run_callbacks, *callbacks, TrainClock()], out, progress)
    module = build_module(method, source, config, trainer.world_size)
    if resume:
        check_checkpoint_fits(out / CHECKPOINTS / "last.ckpt", module)
    loader = train_loader(source, config.train.batch_size, config.train.seed, config.train.num_workers,
                          labels=method.uses_labels)
    trainer.fit(
        module,
        train_dataloaders=loader,
        ckpt_path=str(out / CHECKPOINTS / "last.ckpt") if resume else None,
        weights_only=True,
    )
    return trainer, monitor


def build_callbacks(source: DataSource, config: Config, out: Path) -> tuple[list[Any], OnlineMonitor | None]:
    """The non-finite-loss guard, the online monitor (when ``eval.every_n_epochs`` > 0), the
    metrics.csv writer, weight averaging when asked, and the last/best checkpoints."""
    checkpoint_dir = out / CHECKPOINTS
    writer = MetricsWriter(out / "metrics.csv")
    run_callbacks: list[Any] = [NonFiniteLossGuard(checkpoint_dir)]
    monitor: OnlineMonitor | None = None
    if config.eval.every_n_epochs > 0:
        held_out, held_out_y = source.held_out
        monitor = OnlineMonitor(
            writer,
            lambda encoder, data, device: embed_split(encoder, source, data, device),
            source.train,
            source.y_train,
            held_out,
            held_out_y,
            every_n_epochs=config.eval.every_n_epochs,
            k=config.eval.k,
            max_samples=config.eval.max_monitor_samples,
            collapse_ratio_alarm=config.eval.collapse_ratio_alarm,
        )
        run_callbacks.append(monitor)
    run_callbacks.append(writer)
    if config.train.early_stopping:  # before the checkpoints, so last.ckpt is written when it stops training
        run_callbacks.append(build_early_stopping(source, config.train, writer))
    if config.train.average_weights:
        run_callbacks.append(EncoderAveraging())
    # last.ckpt after every epoch (what --resume continues from) ...
    run_callbacks.append(
        LastCheckpoint(config.train.checkpoint_every_s, dirpath=checkpoint_dir, filename="last", save_top_k=1,
                       enable_version_counter=False)
    )
    # ... and best.ckpt on the epochs the monitor scores.
    if monitor is not None:
        run_callbacks.append(
            ModelCheckpoint(
                dirpath=checkpoint_dir,
                filename="best",
                monitor="knn_acc" if source.labeled else "rankme",
                mode="max",
                save_top_k=1,
                every_n_epochs=config.eval.every_n_epochs,
                enable_version_counter=False,
            )
        )
    return run_callbacks, monitor


def build_trainer(train: Any, callbacks: list[Any], out: Path, progress: bool) -> L.Trainer:
    """The Lightning Trainer: devices, strategy, precision (``auto``: bf16/16-bit mixed on GPU,
    32-bit on CPU), gradient clipping, the tracking logger, synchronised batch norm on GPUs."""
    _quiet_lightning()
    check_launcher(train)
    precision = train.precision
    if precision == "auto":
        precision = "bf16-mixed" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else (
            "16-mixed" if torch.cuda.is_available() else "32-true"
        )
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        return L.Trainer(
            **_trainer_kwargs(train, precision, callbacks, out, progress)
        )
    except (MisconfigurationException, ValueError, TypeError, RuntimeError, ImportError) as error:
        # settings Lightning refuses on this machine (devices=4 with one GPU, fsdp on CPU, …)
        raise SelfsupError(
            f"The trainer cannot run with accelerator={train.accelerator}, devices={train.devices}, "
            f"strategy={train.strategy}, precision={precision} here: {str(error).splitlines()[0]}"
        ) from None


#: environment variables a multi-machine launcher sets on every process (torchrun, SLURM, Lightning's own)
LAUNCHER_VARIABLES = ("TORCHELASTIC_RUN_ID", "GROUP_RANK", "SLURM_NTASKS", "NODE_RANK")


def check_launcher(train: Any) -> None:
    """``num_nodes`` above 1 only under a launcher that started this process on every machine;
    otherwise one error saying how to launch (Lightning would wait for the other machines forever)."""
    if train.num_nodes == 1:
        return
    if "ddp" not in str(train.strategy):
        raise SelfsupError(f"train.num_nodes={train.num_nodes} needs strategy ddp (--strategy ddp); got {train.strategy!r}.")
    if not any(name in os.environ for name in LAUNCHER_VARIABLES):
        raise SelfsupError(
            f"train.num_nodes={train.num_nodes}: start the same command on each of the {train.num_nodes} machines "
            f"through a launcher, e.g. torchrun --nnodes {train.num_nodes} --nproc_per_node {train.devices} "
            "--node_rank R --master_addr HOST --master_port PORT -m selfsup pretrain … (or srun under SLURM); "
            "see the README's \"Many machines\"."
        )


def _trainer_kwargs(train: Any, precision: str, callbacks: list[Any], out: Path, progress: bool) -> dict[str, Any]:
    return dict(
        # a time budget ends training by steps (TimeBudget sets them): no epoch limit
        max_epochs=-1 if train.time_budget else train.epochs,
        accelerator=train.accelerator,
        devices=train.devices,
        num_nodes=train.num_nodes,
        strategy=train.strategy,
        precision=precision,
        gradient_clip_val=train.gradient_clip,
        callbacks=callbacks,
        logger=build_logger(train.logger, out),
        enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(out),
        sync_batchnorm=_wants_sync_bn(train),
        deterministic=False,
        log_every_n_steps=train.log_every_n_steps,
    )


def build_module(method: Method, source: DataSource, config: Config, world: int) -> SelfSupervisedModule:
    """The LightningModule around ``method``: the learning rate scaled to the global batch, and
    warm-up + cosine over the steps each of ``world`` processes takes."""
    train = config.train
    per_rank = -(-source.n_train // world)
    if per_rank < train.batch_size:
        raise SelfsupError(
            f"With {world} processes each sees {per_rank} samples, fewer than the batch size {train.batch_size}. "
            "Lower --batch-size (it is per process)."
        )
    steps_per_epoch = per_rank // train.batch_size
    module = SelfSupervisedModule(
        method,
        optimizer=train.optimizer,
        lr=train.lr * train.batch_size * world / train.lr_reference_batch,
        weight_decay=train.weight_decay,
        momentum=train.momentum,
        warmup_steps=int(round(train.warmup_epochs * steps_per_epoch)),
        total_steps=train.epochs * steps_per_epoch,
        final_lr_ratio=train.final_lr_ratio,
        seed=train.seed,
        log_every_n_steps=train.log_every_n_steps,
        regularizers=config.regularizers,
        finish_batch=source.on_device,
        compile_encoder=train.compile,
        channels_last=train.channels_last,
    )
    module.steps_per_epoch = steps_per_epoch
    return module


def check_logger(name: str) -> None:
    """Raise the one clear error now, before a run folder exists, if ``name``'s package is missing."""
    from selfsup.modality import require

    if name == "tensorboard":
        if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
            require("tensorboard", "tracking", "--logger tensorboard")
    elif name in ("mlflow", "wandb"):
        require(name, None, f"--logger {name}")


def build_logger(name: str, out: Path) -> Any:
    """The Lightning logger ``train.logger`` names, writing inside the run folder, or False for
    ``csv`` (the run's own metrics.csv only). A missing package is one error naming it."""
    if name == "csv":
        return False
    from selfsup.modality import require

    if name == "tensorboard":
        if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
            require("tensorboard", "tracking", "--logger tensorboard")
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(save_dir=str(out), name="tensorboard", version="")
    if name == "mlflow":
        require("mlflow", None, "--logger mlflow")
        from lightning.pytorch.loggers import MLFlowLogger

        return MLFlowLogger(experiment_name="selfsup", run_name=out.name,
                            tracking_uri=(out / "mlruns").resolve().as_uri())
    if name == "wandb":
        require("wandb", None, "--logger wandb")
        from lightning.pytorch.loggers import WandbLogger

        # offline: nothing leaves the machine; `wandb sync <run>/wandb/offline-run-*` uploads later
        return WandbLogger(save_dir=str(out), name=out.name, project="selfsup", offline=True)
    raise SelfsupError(f"Unknown logger {name!r}; choose csv, tensorboard, mlflow or wandb.")


def _wants_sync_bn(train: Any) -> bool:
    # Batch statistics are part of several objectives' signal: sync them across GPU processes
    # (torch's SyncBatchNorm has no CPU implementation; CPU processes keep per-process stats).
    on_gpu = train.accelerator in ("gpu", "cuda") or (train.accelerator == "auto" and torch.cuda.is_available())
    many = (isinstance(train.devices, int) and train.devices > 1) or "ddp" in str(train.strategy)
    return on_gpu and many


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def train_loader(
    source: DataSource, batch_size: int, seed: int, num_workers: int, labels: bool = False
) -> torch.utils.data.DataLoader:
    """The shuffled training loader (a new seeded order each epoch, last partial batch dropped).

    Self-supervised: labels never reach the method, unless it is a supervised reference."""
    collate = source.collate if labels else _without_labels(source.collate)
    return torch.utils.data.DataLoader(
        source.train,
        batch_size=batch_size,
        sampler=source.train_sampler(seed, batch_size),
        drop_last=True,
        collate_fn=collate,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


class _without_labels:
    """A collate that drops ``"y"`` from the batches it makes (picklable for loader workers)."""

    def __init__(self, collate: Any) -> None:
        self.collate = collate

    def __call__(self, items: Any) -> dict[str, Any]:
        batch = self.collate(items)
        batch.pop("y", None)
        return batch
