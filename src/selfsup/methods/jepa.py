"""I-JEPA, latent prediction: predict the representations of hidden tokens, not their content."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.encoders.tokens import check_token_encoder, gather_tokens
from selfsup.losses.jepa import latent_prediction_loss
from selfsup.methods.base import Method
from selfsup.nn.masking import jepa_masks
from selfsup.nn.momentum_teacher import MomentumTeacher
from selfsup.nn.token_predictor import TokenPredictor
from selfsup.registry import METHODS


def check_range(value: Sequence[float], name: str, low: float, high: float) -> tuple[float, float]:
    """``value`` as a ``(low, high)`` pair of floats with ``low < value[0] <= value[1] <= high``,
    else a ValueError naming ``name`` (the registry turns it into one SelfsupError line)."""
    pair = tuple(float(v) for v in value)
    if len(pair) != 2 or not low < pair[0] <= pair[1] <= high:
        raise ValueError(f"{name} must be a range (low, high) with {low} < low <= high <= {high}, "
                         f"got {value!r}")
    return pair  # type: ignore[return-value]


@METHODS.register(
    "jepa",
    family="latent prediction",
    paper="Assran et al. 2023, Self-Supervised Learning from Images with a Joint-Embedding "
    "Predictive Architecture",
    needs=("tokens",),
    # I-JEPA uses no hand-made views: the masks are the only "augmentation" (Section 3).
    view_style="none",
)
class JEPA(Method):
    r"""I-JEPA (Assran, Duval, Misra, Bojanowski, Vincent, Rabbat, LeCun, Ballas 2023).

    From one input, sample :math:`M` target blocks :math:`B_1 \dots B_M` and a large context
    block with the target tokens removed, on the encoder's token grid (multi-block masking,
    Section 3; spans on a 1-D grid). The EMA *target encoder* :math:`f_{\bar\theta}` encodes
    **all** tokens, whose layer-normalised outputs at the target positions are the targets
    :math:`s_y`; the *context encoder* :math:`f_\theta` encodes the context tokens only; a
    narrow *predictor* :math:`g_\phi`, given the context tokens and one mask token (plus
    position embedding) per target position, predicts each block (eq. 1):

    .. math::
        \mathcal{L} = \frac{1}{M} \sum_{i=1}^{M} \sum_{j \in B_i}
                      \lVert \hat s_{y_j} - s_{y_j} \rVert_2^2,
        \qquad \bar\theta \leftarrow m \bar\theta + (1 - m) \theta

    (the library averages over tokens and widths too; see
    :func:`~selfsup.losses.jepa.latent_prediction_loss`). Only the token contract of
    :mod:`selfsup.encoders.tokens` is used, so any token encoder works.

    Shapes: ``forward_tokens(x) -> [B, N, D]``; context ``[B, K, D]``; targets and predictions
    ``[M, B, T, D]`` (one block size per batch, as in the paper).

    Args:
        encoder: a token encoder (``vit_tiny`` …); the target encoder
            (``teacher.encoder``) is a deep copy made here.
        views: view maker; one view per step (``none`` by default).
        num_targets: :math:`M`.
        target_scale: range of each target block's fraction of the tokens.
        target_aspect_ratio: range of the target blocks' height / width (2-D grids only).
        context_scale: range of the context block's fraction (before removing the targets).
        predictor_dim: width of the predictor.
        predictor_depth: number of predictor transformer blocks.
        predictor_heads: attention heads of the predictor.
        momentum_base: EMA momentum at the start; it rises linearly to ``momentum_final``.
        momentum_final: EMA momentum at the end of training.

    Paper defaults vs. library defaults (Section 4 and Appendix A/C):
        * M = 4 targets, scale (0.15, 0.2), aspect ratio (0.75, 1.5); context scale
          (0.85, 1.0), aspect 1. Library: the same. On an 8x8 image with 2x2 patches (a 4x4
          grid) a target block is 1-2 tokens.
        * EMA momentum 0.996 -> 1.0, linear (Appendix A). Library: the same.
        * predictor: a ViT of width 384 and depth 12 (ViT-H encoder); Library: width 128,
          depth 3, 4 heads, for tiny encoders and short CPU runs.
        * no augmentation; evaluation on the average-pooled *target* encoder. Library: the
          kept encoder is the context encoder (the one the engine saves, as for BYOL);
          choose ``pool: mean`` for the ViT, since no loss trains a CLS token.
        * the paper's code uses smooth-L1; the paper's text (eq. 1) and the library use L2.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        num_targets: int = 4,
        target_scale: Sequence[float] = (0.15, 0.2),
        target_aspect_ratio: Sequence[float] = (0.75, 1.5),
        context_scale: Sequence[float] = (0.85, 1.0),
        predictor_dim: int = 128,
        predictor_depth: int = 3,
        predictor_heads: int = 4,
        momentum_base: float = 0.996,
        momentum_final: float = 1.0,
    ) -> None:
        super().__init__(encoder, views)
        check_token_encoder(encoder, "jepa")
        if isinstance(num_targets, bool) or not isinstance(num_targets, int) or num_targets < 1:
            raise ValueError(f"num_targets must be a positive integer, got {num_targets!r}")
        if not 0.0 <= momentum_base <= momentum_final <= 1.0:
            raise ValueError(
                f"need 0 <= momentum_base <= momentum_final <= 1, got {momentum_base}, {momentum_final}"
            )
        self.num_targets = num_targets
        self.target_scale = check_range(target_scale, "target_scale", 0.0, 1.0)
        self.target_aspect_ratio = check_range(target_aspect_ratio, "target_aspect_ratio", 0.0, float("inf"))
        self.context_scale = check_range(context_scale, "context_scale", 0.0, 1.0)
        self.predictor = TokenPredictor(
            encoder.token_dim, encoder.token_dim, encoder.token_grid,
            dim=predictor_dim, depth=predictor_depth, heads=predictor_heads,
        )
        # The target encoder: an EMA copy of the (context) encoder, no gradient.
        self.teacher = MomentumTeacher(
            {"encoder": self.encoder}, momentum_base=momentum_base, schedule="linear",
            momentum_final=momentum_final,
        )

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        # Targets: the target encoder sees every token; layer-norm its outputs (Section 3).
        with torch.no_grad():
            features = self.teacher.encoder.forward_tokens(x)  # [B, N, D]
            features = F.layer_norm(features, features.shape[-1:])
        batch_size, _, dim = features.shape
        context_index, target_index = self.sample_masks(batch_size, features.device)  # [B, K], [M, B, T]
        targets = torch.stack([gather_tokens(features, block) for block in target_index])
        # Context: the context encoder sees the context block only.
        context = self.encoder.forward_tokens(x, keep_index=context_index)  # [B, K, D]
        # Predictor: one pass per target block, batched as M copies of the context.
        m, _, t = target_index.shape
        pred = self.predictor(
            context.repeat(m, 1, 1), context_index.repeat(m, 1), target_index.reshape(m * batch_size, t)
        ).reshape(m, batch_size, t, dim)
        loss = latent_prediction_loss(pred, targets)
        return {
            "loss": loss,
            "momentum": torch.tensor(self.teacher.momentum, device=loss.device),
            "context_tokens": torch.tensor(float(context_index.shape[1]), device=loss.device),
        }

    def sample_masks(self, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``(context_index [B, K], target_index [M, B, T])``: I-JEPA's multi-block masks on the
        encoder's token grid (a subclass with another masking strategy overrides this)."""
        return jepa_masks(batch_size, self.encoder.token_grid, self.num_targets, self.target_scale,
                          self.target_aspect_ratio, self.context_scale, device=device)

    def on_step_end(self, progress: float) -> None:
        """Linear momentum schedule ``base -> final``, then move the target encoder."""
        self.teacher.update(progress)
