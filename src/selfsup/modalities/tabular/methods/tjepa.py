"""T-JEPA: predict the representations of some columns from those of other columns (no views)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from selfsup.methods.jepa import JEPA, check_range
from selfsup.registry import METHODS


def feature_subset_masks(batch_size: int, num_features: int, num_targets: int,
                         context_share: Sequence[float], target_share: Sequence[float],
                         device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """T-JEPA's masks over the ``F = num_features`` column tokens of each row.

    One context size ``K`` and one target size ``T`` per batch, each drawn uniformly between
    ``round(F * low)`` and ``round(F * high)`` of its share (at least 1, ``K + T <= F``). Per row,
    the context is ``K`` random columns; each of the ``num_targets`` targets is ``T`` random
    columns among the others: disjoint from the context, possibly overlapping each other.

    Returns ``context_index [B, K]`` and ``target_index [M, B, T]`` (long, column positions).
    """
    def size(share: Sequence[float], upper: int) -> int:
        low, high = (min(max(round(num_features * s), 1), upper) for s in share)
        return int(torch.randint(low, high + 1, ()).item())

    context_size = size(context_share, num_features - 1)
    target_size = size(target_share, num_features - context_size)
    order = torch.rand(batch_size, num_features, device=device).argsort(dim=1)
    context, rest = order[:, :context_size], order[:, context_size:]  # [B, K], [B, F - K]
    picks = torch.rand(num_targets, batch_size, rest.shape[1], device=device).argsort(dim=2)[..., :target_size]
    targets = rest.unsqueeze(0).expand(num_targets, -1, -1).gather(2, picks)  # [M, B, T]
    return context, targets


@METHODS.register(
    "tjepa",
    family="latent prediction",
    paper="Thimonier et al. 2024, T-JEPA: Augmentation-Free Self-Supervised Learning for Tabular Data",
    modality="tabular",
    needs=("tokens",),
    default_encoder="ft_transformer",
    default_views="none",  # augmentation-free: the masks are the only "views"
    view_style="none",
)
class TJEPA(JEPA):
    r"""T-JEPA (Thimonier, De Melo Costa, Popineau, Rimmel, Doan; ICLR 2025, arXiv:2410.05016).

    I-JEPA (:class:`~selfsup.methods.jepa.JEPA`) on a table's column tokens, with the masks
    changed for data whose columns have no order: per row, a random subset :math:`C` of the
    columns is the context, and :math:`M` random subsets :math:`T_1 \dots T_M` of the *other*
    columns are the targets (:func:`feature_subset_masks`; I-JEPA's contiguous blocks would
    give meaning to the column order). The EMA target encoder :math:`\bar f` encodes the whole
    row; the context encoder :math:`f_\theta` only the context tokens; the predictor
    :math:`g_\phi`, given the context representations and one query per target column (mask
    token + that column's embedding), predicts the target encoder's representations:

    .. math::
        \mathcal{L} = \frac{1}{M}\sum_{m=1}^{M} \big\lVert g_\phi\big(f_\theta(x_C), T_m\big)
            - \mathrm{sg}\big[\bar f(x)_{T_m}\big] \big\rVert_2^2,
        \qquad \bar\theta \leftarrow \lambda \bar\theta + (1 - \lambda)\theta

    (the paper's latent prediction loss, MSE in the authors' code; the library averages over
    targets, tokens and widths: :func:`~selfsup.losses.jepa.latent_prediction_loss`). No data
    augmentation is used. The encoder is the feature-tokenizer transformer (``ft_transformer``,
    one token per column); the kept encoder is the context encoder, mean-pooled.

    Args:
        encoder: a token encoder over the table's columns (default ``ft_transformer``).
        views: view maker; one view per step (``none`` by default: T-JEPA uses no augmentation).
        num_targets: :math:`M`, target subsets per context.
        context_share: range of the context's fraction of the columns.
        target_share: range of each target's fraction of the columns.
        predictor_dim / predictor_depth / predictor_heads: the transformer predictor.
        momentum_base / momentum_final: EMA momentum :math:`\lambda`, rising linearly.

    Paper (the authors' released defaults, ``src/configs.py`` and ``src/mask.py`` of their code)
    vs. library defaults:
        * context share U(0.2, 0.4), target share U(0.2, 0.4), 4 targets per context, one size
          per batch, targets disjoint from the context; library: the same.
        * EMA 0.996 -> 1.0 (linear, as I-JEPA); library: the same.
        * encoder: a transformer over feature tokens, width 64, 4 layers, 8 heads, dropout 0.1;
          library: ``ft_transformer`` (width 64, 3 blocks, 4 heads, no dropout).
        * predictor: transformer, width 64, 2 layers, 4 heads; library: the same.
        * targets: the target encoder's raw outputs; library: layer-normalised (as I-JEPA),
          which keeps their scale fixed.
        * regularisation tokens ([REG] tokens the encoder attends to, which the paper finds
          critical against collapse) are **not** implemented: the token contract has no place
          for tokens no column owns. Evaluation there reads the flattened tokens of the target
          encoder; here the mean-pooled context encoder.
        * batch 64 (authors' code), 100 epochs with early stopping, AdamW with I-JEPA's
          schedules; library: the engine's optimiser and the recipe's schedule.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        num_targets: int = 4,
        context_share: Sequence[float] = (0.2, 0.4),
        target_share: Sequence[float] = (0.2, 0.4),
        predictor_dim: int = 64,
        predictor_depth: int = 2,
        predictor_heads: int = 4,
        momentum_base: float = 0.996,
        momentum_final: float = 1.0,
    ) -> None:
        super().__init__(encoder, views, num_targets=num_targets, predictor_dim=predictor_dim,
                         predictor_depth=predictor_depth, predictor_heads=predictor_heads,
                         momentum_base=momentum_base, momentum_final=momentum_final)
        self.context_share = check_range(context_share, "context_share", 0.0, 1.0)
        self.target_share = check_range(target_share, "target_share", 0.0, 1.0)
        if len(encoder.token_grid) != 1 or encoder.token_grid[0] < 2:
            raise ValueError("tjepa needs a token encoder with one token per column and at least 2 columns "
                             f"(a 1-D token grid), got grid {tuple(encoder.token_grid)}")
        self.num_features = int(encoder.token_grid[0])

    def sample_masks(self, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return feature_subset_masks(batch_size, self.num_features, self.num_targets, self.context_share,
                                    self.target_share, device)
