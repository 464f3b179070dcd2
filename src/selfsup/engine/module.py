"""The one LightningModule that trains any method."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from torch import nn

from selfsup.engine.optim import build_optimizer, warmup_cosine
from selfsup.errors import SelfsupError
from selfsup.methods.base import Method


class SelfSupervisedModule(L.LightningModule):
    """Wraps a :class:`~selfsup.methods.base.Method` for the Lightning Trainer.

    It knows neither the modality nor the objective: it calls ``method(batch)``, logs what the
    method returns, steps the optimiser and the warm-up + cosine schedule, tells the method how
    far training has come (``on_step_end(progress)``, for EMA and temperature schedules), and
    reseeds the global RNG before every step so that the random views of step ``t`` depend on
    ``(seed, t, rank)`` only — which is what lets a resumed run continue exactly.

    ``regularizers`` (name -> weight, names from :data:`selfsup.registry.REGULARIZERS`) are
    added to the method's loss, computed on every ``[B, D]`` output of the method's encoder
    during the step (one per view), averaged over those outputs. They are captured with a
    forward hook, so any method that calls ``self.encoder(...)`` can be regularised without
    knowing it; a method that never does (MAE uses ``forward_tokens``) gets a clear error.
    """

    def __init__(
        self,
        method: Method,
        *,
        optimizer: str = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        momentum: float = 0.9,
        warmup_steps: int = 0,
        total_steps: int = 1,
        final_lr_ratio: float = 0.0,
        seed: int = 0,
        log_every_n_steps: int = 5,
        regularizers: dict[str, float] | None = None,
        finish_batch: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        compile_encoder: bool = False,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.method = method
        self.finish_batch = finish_batch
        self.optimizer_name = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.warmup_steps = warmup_steps
        self.total_steps = max(1, total_steps)
        #: True once a time budget has fixed ``total_steps`` (kept in checkpoints; resume keeps it)
        self.planned = False
        self.steps_per_epoch = 1
        self.final_lr_ratio = final_lr_ratio
        self.seed = seed
        self.log_every_n_steps = log_every_n_steps
        self.regularizers = {name: float(w) for name, w in (regularizers or {}).items() if w}
        self.compile_encoder = compile_encoder
        self.channels_last = channels_last

    @property
    def encoder(self) -> nn.Module:
        """The encoder being trained (what callbacks evaluate, average and save)."""
        return self.method.encoder

    def configure_model(self) -> None:
        # In each training process, before the optimiser exists: the optional speed-ups
        # (``train.channels_last``, ``train.compile``; benchmarks/RESULTS.md says where they help).
        if self.channels_last:
            self.method.to(memory_format=torch.channels_last)  # 4-D weights only; others unchanged
        if self.compile_encoder and getattr(self.method.encoder, "_compiled_call_impl", None) is None:
            self.method.encoder.compile()  # in place: the state dict keeps its keys

    def on_fit_end(self) -> None:
        # Evaluation, export and checkpoints after training see the plain encoder: eager (no
        # recompiling for evaluation's batch sizes) and contiguous (safetensors needs it).
        if self.compile_encoder:
            self.method.encoder._compiled_call_impl = None
        if self.channels_last:
            self.method.to(memory_format=torch.contiguous_format)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        # the data source's last step, on the device (images stored uint8 become float here)
        return self.finish_batch(batch) if self.finish_batch is not None else batch

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # The views of step t depend only on (seed, t, rank): a resumed run draws exactly the
        # views the uninterrupted one would have drawn.
        step_seed = (self.seed * 1_000_003 + self.global_step * 1009 + self.global_rank) % (2**63)
        _seed_started_devices(step_seed, self.device)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        if self.regularizers:
            with _capture_outputs(self.method.encoder) as outputs:
                out = self.method(batch)
            out = {**out, **self._regularize(out["loss"], outputs)}
        else:
            out = self.method(batch)
        loss = out["loss"]
        self.log("loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=False, batch_size=_batch_size(batch))
        logs: dict[str, float] = {}
        if self.global_step % self.log_every_n_steps == 0:
            logs = {k: float(v) for k, v in out.items() if k != "loss" and _is_scalar(v)}
            logs["loss"] = float(loss.detach())
            logs["lr"] = float(self.optimizers().param_groups[0]["lr"]) if self._trainer else self.lr
            if self._trainer is not None and self.logger is not None:
                # the same values as metrics.csv, to the tracking logger the run was given
                self.logger.log_metrics({k: v for k, v in logs.items()}, step=self.global_step)
        return {"loss": loss, "logs": logs}

    def _regularize(self, loss: torch.Tensor, outputs: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        from selfsup.registry import REGULARIZERS

        embeddings = [o for o in outputs if o.dim() == 2 and o.requires_grad]
        if not embeddings:
            raise SelfsupError(
                f"regularizers {sorted(self.regularizers)} act on the encoder's [B, D] outputs, but "
                f"{type(self.method).__name__} never called its encoder with gradients in this step "
                "(it uses token outputs). Remove the regularizers for this method."
            )
        logs: dict[str, torch.Tensor] = {}
        for name, weight in self.regularizers.items():
            term = torch.stack([REGULARIZERS.get(name)(z) for z in embeddings]).mean()
            loss = loss + weight * term
            logs[f"reg_{name}"] = term.detach()
        return {"loss": loss, **logs}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # the schedule's length: what a time budget planned, which a resumed run keeps
        checkpoint["selfsup_schedule"] = {"warmup_steps": self.warmup_steps, "total_steps": self.total_steps,
                                          "planned": self.planned}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("selfsup_schedule")
        if saved and saved.get("planned"):
            self.warmup_steps, self.total_steps, self.planned = saved["warmup_steps"], saved["total_steps"], True

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.method.on_step_end(min(1.0, self.global_step / self.total_steps))

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(self.method, self.optimizer_name, self.lr, self.weight_decay, self.momentum)
        # read at every step: a time budget sets warmup_steps and total_steps once training runs
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, self.warmup_steps, self.total_steps, self.final_lr_ratio)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def _seed_started_devices(seed: int, device: torch.device) -> None:
    """``torch.manual_seed(seed)`` for every generator a training step can draw from: the CPU's,
    CUDA's once started, and the MPS one on a Mac.

    ``torch.manual_seed`` also queues the seed for each accelerator this process has not started
    (CUDA on a CPU run, XPU, MTIA), recording a Python traceback with each
    (``traceback.format_stack``): 0.4 ms a call inside the Trainer on a loaded 2-core box, a
    third of the engine's own cost per step. A step cannot draw from a device never started, so the
    engine, which seeds before every step, leaves those out. Other accelerators (a PrivateUse1
    backend such as an NPU) get ``torch.manual_seed`` itself.
    """
    if device.type not in ("cpu", "cuda", "mps"):
        torch.manual_seed(seed)
        return
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)
    if device.type == "mps":
        torch.mps.manual_seed(seed)


@contextmanager
def _capture_outputs(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect the tensor outputs of every call of ``module`` inside the block."""
    outputs: list[torch.Tensor] = []

    def keep(_module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            outputs.append(output)

    handle = module.register_forward_hook(keep)
    try:
        yield outputs
    finally:
        handle.remove()


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) or (isinstance(value, torch.Tensor) and value.numel() == 1)


def _batch_size(batch: dict[str, Any]) -> int:
    x = batch["x"]
    return int(x.shape[0]) if hasattr(x, "shape") else len(x)
