"""What every recommendation method here shares: the BPR objective on the encoder's final user and
item embeddings, the checks of its encoder, a step counter that knows where epochs begin (SGL
redraws its subgraphs and NCL its prototypes once per epoch), and the warm-up of the
self-supervised terms.

Why the warm-up. At Xavier initialisation the propagated embeddings are tiny (ml-100k: ‖z‖ ≈
0.03 after SimGCL's 2 layers, 0.09 for LightGCN's layer mean; averaging ~50–100 random
neighbours cancels them). BPR's gradient grows with ‖z‖ (∂/∂e_u ∝ e_i) while that of an InfoNCE
on normalised embeddings shrinks with it (∝ 1/(τ‖z‖)): at the first step SGL's contrast has
100× BPR's gradient (measured on ml-100k: 0.030 vs 0.0003), and Adam, which normalises each
coordinate by its gradient's magnitude, then moves BPR at ~1/100 of the learning rate. The
contrast meanwhile grows the embeddings in directions the propagation averages away, so ‖z‖
stays small and BPR stays at ln 2: measured on ml-100k, SimGCL with the paper's settings has
BPR 0.680 after 100 epochs and a Recall@20 below the popularity ranking, and even λ = 0.01
(50× below the paper) or NCL's 1e-7 stall BPR for 6–8 epochs; RecBole's SGL stalls the same
way (its BPR is 0.693 after 3 epochs). A few hundred steps of BPR alone first give the
embeddings their scale (‖z‖ ~ 1); the contrast then no longer swamps BPR and improves on it
(SimGCL after 2 BPR-only epochs: valid Recall@20 0.258 at epoch 10 vs 0.240 for BPR alone).
NCL's authors delay their prototype contrast the same way (20 warm-up epochs)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method, detach_logs
from selfsup.modalities.interactions.losses.bpr import bpr_loss, embedding_l2
from selfsup.validate import check_int, check_weight

# training steps of BPR alone before the self-supervised terms start (module doc); ml-100k at batch
# 2048: 5 epochs; 100 steps (2.5 epochs) were just enough there, 39 (1 epoch) were not
SSL_WARMUP_STEPS = 200


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
    with :meth:`ssl_terms`, switched on after ``ssl_warmup_steps`` training steps of BPR alone
    (module doc: without it the contrast stalls BPR at Xavier initialisation); ``needs_graph``
    methods refuse an encoder that does not propagate.

    The encoder contract is :class:`~selfsup.modalities.interactions.encoders.lightgcn.IdEmbeddings`'s
    (``propagate``, ``combine``, ``split``, ``ego``)."""

    needs_graph = False
    name = "bpr"

    def __init__(self, encoder: nn.Module, views: nn.Module, reg_weight: float = 1e-4,
                 ssl_warmup_steps: int = 0) -> None:
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
        self.ssl_warmup_steps = check_int(ssl_warmup_steps, "ssl_warmup_steps", minimum=0)
        self.num_samples = 0
        self.steps_per_epoch: int | None = None
        # training steps taken (a buffer, so a resumed run keeps its place in the warm-up and epochs)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))

    def prepare(self, num_samples: int) -> None:
        self.num_samples = num_samples

    def step_index(self, batch_size: int) -> int:
        """Counts a training step; returns its index (0 for the first)."""
        if self.steps_per_epoch is None:
            self.steps_per_epoch = max(1, self.num_samples // max(1, batch_size)) if self.num_samples else 1
        step = int(self.steps_done)
        if self.training:
            self.steps_done += 1
        return step

    def epoch_of(self, step: int) -> int:
        return step // (self.steps_per_epoch or 1)

    def new_epoch(self, step: int) -> bool:
        """True on the first step of every epoch (counted from the training-set size)."""
        return step % (self.steps_per_epoch or 1) == 0

    def ssl_active(self, step: int) -> bool:
        """Whether the self-supervised terms are on at ``step`` (after the warm-up)."""
        return step >= self.ssl_warmup_steps

    def triples(self, batch: dict[str, Any]) -> Any:
        """The batch's (user, item, negative) triples, or one SelfsupError when it holds none."""
        x = batch["x"]
        if getattr(x, "negatives", None) is None:
            raise SelfsupError(f"Method {self.name!r} trains on (user, item, negative) triples; the batch has no "
                               "negatives. Train it on interactions data (--modality interactions).")
        return x

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = self.triples(batch)
        step = self.step_index(len(x))
        layers = self.encoder.propagate()
        users, items = self.encoder.split(self.encoder.combine(layers))
        ego_users, ego_items = self.encoder.split(layers[0])
        terms = {"bpr": bpr_loss(users[x.users], items[x.items], items[x.negatives])}
        terms["reg"] = self.reg_weight * embedding_l2(ego_users[x.users], ego_items[x.items], ego_items[x.negatives])
        terms.update(self.ssl_terms(x, layers, users, items, step))
        terms["loss"] = sum(v for k, v in terms.items() if not k.startswith("_"))
        return detach_logs({k: v for k, v in terms.items() if not k.startswith("_")})

    def ssl_terms(self, x: Any, layers: list[Tensor], users: Tensor, items: Tensor, step: int) -> dict[str, Tensor]:
        """The method's self-supervised terms at training step ``step``, already weighted (none for
        plain BPR, none during the warm-up)."""
        return {}


def batch_nodes(x: Any, num_users: int) -> tuple[Tensor, Tensor]:
    """The distinct users and (positive) items of a batch, items offset by ``num_users`` (rows of
    the stacked node embeddings)."""
    return torch.unique(x.users), torch.unique(x.items) + num_users
