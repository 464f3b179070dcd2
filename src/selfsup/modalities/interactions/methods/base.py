"""What every recommendation method here shares: the BPR objective on the encoder's final user and
item embeddings, the checks of its encoder, and a step counter that knows where epochs begin
(SGL redraws its subgraphs and NCL its prototypes once per epoch)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method, detach_logs
from selfsup.modalities.interactions.losses.bpr import bpr_loss, embedding_l2
from selfsup.validate import check_weight


def check_unit(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def check_temperature(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"temperature must be a number > 0, got {value!r}")
    return float(value)


class BPRMethod(Method):
    """BPR on the encoder's final embeddings (:mod:`~..losses.bpr`), with LightGCN's L2 penalty of
    weight ``reg_weight`` on the batch's layer-0 embeddings. Subclasses add a self-supervised term
    with :meth:`ssl_terms`; ``needs_graph`` methods refuse an encoder that does not propagate.

    The encoder contract is :class:`~selfsup.modalities.interactions.encoders.lightgcn.IdEmbeddings`'s
    (``propagate``, ``combine``, ``split``, ``ego``)."""

    needs_graph = False
    name = "bpr"

    def __init__(self, encoder: nn.Module, views: nn.Module, reg_weight: float = 1e-4) -> None:
        super().__init__(encoder, views)
        missing = [m for m in ("propagate", "combine", "split", "ego") if not hasattr(encoder, m)]
        if missing:
            raise SelfsupError(f"Method {self.name!r} trains user and item ID embeddings; the encoder "
                               f"{type(encoder).__name__} is not one (it has no {', '.join(missing)}). Use --encoder "
                               "lightgcn or mf with --modality interactions.")
        if self.needs_graph and getattr(encoder, "layers", 0) < 1:
            raise SelfsupError(f"Method {self.name!r} perturbs graph propagation; the encoder {type(encoder).__name__} "
                               "has no propagation layer. Use --encoder lightgcn (layers >= 1).")
        self.reg_weight = check_weight(reg_weight, "reg_weight")
        self.num_samples = 0
        self.steps = 0
        self.steps_per_epoch: int | None = None

    def prepare(self, num_samples: int) -> None:
        self.num_samples = num_samples

    def new_epoch(self, batch_size: int) -> bool:
        """True on the first step of every epoch (counted from the training-set size)."""
        if self.steps_per_epoch is None:
            self.steps_per_epoch = max(1, self.num_samples // max(1, batch_size)) if self.num_samples else 1
        starts = self.steps % self.steps_per_epoch == 0
        self.steps += 1
        return starts

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = batch["x"]
        if getattr(x, "negatives", None) is None:
            raise SelfsupError(f"Method {self.name!r} trains on (user, item, negative) triples; the batch has no "
                               "negatives. Train it on interactions data (--modality interactions).")
        layers = self.encoder.propagate()
        users, items = self.encoder.split(self.encoder.combine(layers))
        ego_users, ego_items = self.encoder.split(layers[0])
        terms = {"bpr": bpr_loss(users[x.users], items[x.items], items[x.negatives])}
        terms["reg"] = self.reg_weight * embedding_l2(ego_users[x.users], ego_items[x.items], ego_items[x.negatives])
        terms.update(self.ssl_terms(x, layers, users, items))
        terms["loss"] = sum(v for k, v in terms.items() if not k.startswith("_"))
        return detach_logs({k: v for k, v in terms.items() if not k.startswith("_")})

    def ssl_terms(self, x: Any, layers: list[Tensor], users: Tensor, items: Tensor) -> dict[str, Tensor]:
        """The method's self-supervised terms, already weighted (none for plain BPR)."""
        return {}


def batch_nodes(x: Any, num_users: int) -> tuple[Tensor, Tensor]:
    """The distinct users and (positive) items of a batch, items offset by ``num_users`` (rows of
    the stacked node embeddings)."""
    return torch.unique(x.users), torch.unique(x.items) + num_users
