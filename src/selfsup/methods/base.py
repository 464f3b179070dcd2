"""The method contract (:class:`Method`: encoder + heads + objective, independent of the modality)
and :func:`detach_logs`, for a forward pass that returns a loss's terms."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import nn


class Method(nn.Module, ABC):
    """Base class of every self-supervised method.

    A method holds the ``encoder`` (any module mapping ``batch["x"]`` to ``[B, D]`` and exposing
    ``output_dim``), the ``views`` maker (``views(batch, n) -> list[batch]``) and its own heads.
    ``forward(batch)`` returns a dict with ``"loss"`` (scalar tensor) and any other scalars worth
    logging. A method never reads ``batch["y"]`` and never assumes a modality.

    Two optional parts of the contract:

    * ``uses_labels = True`` marks a *supervised* reference method (SupCon): only then does the
      engine put ``batch["y"]`` into training batches, and it refuses unlabeled data for it.
    * :meth:`prepare` is called once with the training-set size before training (and before a
      checkpoint is restored), for methods that keep per-sample state indexed by
      ``batch["index"]`` (SeLa's labels, DeepCluster's memory bank). Buffers created there are
      part of ``state_dict`` and so are checkpointed and resumed.
    """

    uses_labels: ClassVar[bool] = False

    def __init__(self, encoder: nn.Module, views: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.views = views

    @property
    def embed_dim(self) -> int:
        return int(self.encoder.output_dim)

    @abstractmethod
    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """``{"loss": scalar tensor, **logs}`` for one batch; views are made here."""

    @torch.no_grad()
    def embed(self, batch: dict[str, Any]) -> torch.Tensor:
        """Representation used for evaluation: the encoder's pooled output ``[B, D]``."""
        return self.encoder(batch["x"])

    def final_scores(self, source: Any) -> dict[str, float]:
        """Figures only this method can compute on the trained model, for the final evaluation
        (an MLM's pseudo-perplexity on the test split); evaluation adds them to the pretrained
        row. None by default."""
        return {}

    def prepare(self, num_samples: int) -> None:
        """Called once before training with the number of training samples (default: nothing)."""

    def on_step_end(self, progress: float) -> None:
        """Called by the engine after each optimiser step; ``progress`` runs from 0 to 1.

        Methods with EMA teachers or schedules (momentum, temperature) update them here.
        """


def detach_logs(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``terms`` with every entry but ``"loss"`` detached.

    For a forward pass that returns a loss's ``*_terms`` dict as it is: ``"loss"`` keeps its
    graph for the optimiser, the components are for logging only.
    """
    return {k: (v if k == "loss" else v.detach()) for k, v in terms.items()}
