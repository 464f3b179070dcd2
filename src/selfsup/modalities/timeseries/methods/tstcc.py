"""TS-TCC: temporal and contextual contrasting of two augmented views of a series.

The context of one view up to time :math:`t` makes :math:`W_k c_t` identify the *other* view's
true latent :math:`k` steps ahead among the other samples' latents at that step
(:func:`~selfsup.modalities.timeseries.losses.cpc.future_infonce`, CPC's loss); a contrast
between the two views' contexts is added. CPC, which predicts its own future, is in
:mod:`~selfsup.modalities.timeseries.methods.cpc`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.losses.nt_xent import nt_xent
from selfsup.methods.base import Method
from selfsup.modalities.timeseries.losses.cpc import future_infonce
from selfsup.modalities.timeseries.methods.checks import (
    check_prediction_length,
    positive_int,
    probability,
    sequence_encoder,
)
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS


class ContextTransformer(nn.Module):
    """TS-TCC's autoregressive model: a transformer whose prepended context token summarises
    the latents ``z_{<=t}`` ``[B, t, D]`` into ``c_t`` ``[B, dim]`` ("Temporal Contrasting").

    Sizes from the authors' ``models/TC.py``: 4 blocks, 4 heads, MLP width 64.

    Latents are projected to ``dim``, a learnable token is put in front, ``depth`` pre-norm
    encoder blocks (multi-head attention, then an MLP with ReLU and dropout) run over the
    sequence, and the token's output state is the context.
    """

    def __init__(self, in_dim: int, dim: int, depth: int, heads: int, mlp_dim: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"context_dim ({dim}) must be divisible by context_heads ({heads})")
        self.embed = nn.Linear(in_dim, dim)
        self.context_token = nn.Parameter(torch.randn(1, 1, dim))
        layer = nn.TransformerEncoderLayer(
            dim, heads, mlp_dim, dropout, activation="relu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(z)
        token = self.context_token.expand(tokens.shape[0], -1, -1)
        return self.blocks(torch.cat([token, tokens], dim=1))[:, 0]


@METHODS.register(
    "tstcc",
    family="contrastive",
    # written for time series: needs the sequence contract (forward_sequence)
    modality="timeseries",
    paper="Eldele et al. 2021, Time-Series Representation Learning via Temporal and Contextual "
    "Contrasting",
    # the paper's encoder: three conv-BN-ReLU-MaxPool blocks, one latent per ~8 timestamps
    default_encoder="tstcc_cnn",
    default_views="tstcc",
)
class TSTCC(Method):
    r"""TS-TCC (Eldele, Ragab, Chen, Wu, Kwoh, Li, Guan 2021, IJCAI).

    A weak view (even index of the ``tstcc`` views: scaling + jitter) and a strong view (odd
    index: permutation + jitter) are encoded to latents :math:`z^w, z^s` ``[B, T', D]``,
    L2-normalised per timestamp (as the authors' code does). **Temporal contrasting**:
    at a random time :math:`t` (one per batch and direction), a transformer
    summarises :math:`z^s_{\le t}` into the context :math:`c^s_t`, and :math:`W_k c^s_t`
    must identify the *weak* view's :math:`z^w_{t+k}` among the other samples' latents at
    :math:`t + k` (:math:`\mathcal{N}_{t,k}`), for :math:`k = 1..K`, and vice versa
    (:math:`\mathcal{L}^w_{TC}`):

    .. math::
        \mathcal{L}^s_{TC} = -\frac{1}{K} \sum_{k=1}^{K} \log
            \frac{\exp((W_k c^s_t)^\top z^w_{t+k})}{\sum_{n \in \mathcal{N}_{t,k}}
                  \exp((W_k c^s_t)^\top z^w_n)}

    **Contextual contrasting**: the contexts pass a projection head and NT-Xent
    (:func:`~selfsup.losses.nt_xent.nt_xent`, which gathers across processes) makes each
    sample's two contexts positives among the :math:`2N - 2` others. Total:
    :math:`\lambda_1 (\mathcal{L}^s_{TC} + \mathcal{L}^w_{TC}) + \lambda_2
    \mathcal{L}_{CC}`. The temporal terms use the local batch only, as the paper.

    Shapes: latents ``[B, T', D]``; context ``[B, context_dim]``; predictions and targets
    ``[B, K, D]``; projections ``[B, projector_dim]``. ``embed`` is the encoder's pooled
    output. With a non-causal encoder the latent at :math:`t` already sees some later
    samples through its receptive field (as in the paper's convolutional encoder).

    The temporal task needs latents whose differences *between samples at one position*
    survive the augmentations: the weak view multiplies every timestamp by its own factor
    and the strong view adds noise, so augmentation strengths far above the data's spread
    leave :math:`\mathcal{L}_{TC}` at chance (:math:`2 \log B` for the two directions). The
    paper's strengths are in each data set's raw units (see
    :class:`~selfsup.modalities.timeseries.views.augment.TSTCCViews`); on z-normalised series use strengths in
    units of one standard deviation (``configs/tstcc_gunpoint.yaml``).

    Args:
        encoder: a sequence encoder (``tstcc_cnn``, the paper's, by default).
        views: view maker; ``tstcc`` by default (views 0 and 1 = weak and strong).
        prediction_steps: :math:`K`, future latents predicted from each context.
        context_dim: width :math:`h` of the transformer and of :math:`c_t`.
        context_depth: transformer blocks.
        context_heads: attention heads.
        context_mlp_dim: hidden width of each block's MLP.
        dropout: dropout inside the transformer.
        projector_hidden_dim: hidden width of the contextual head (None: ``D // 2``).
        projector_dim: output width of the contextual head (None: ``D // 4``).
        temperature: NT-Xent temperature :math:`\tau`.
        temporal_weight: :math:`\lambda_1`.
        contextual_weight: :math:`\lambda_2`.

    Paper defaults vs. library defaults (the paper's implementation details and the authors'
    ``config_files/*_Configs.py``):
        * :math:`\lambda_1 = 1`, :math:`\lambda_2 = 0.7`, :math:`\tau = 0.2` (cosine
          similarity). Library: the same.
        * transformer: :math:`h = 100` (64 for Sleep-EDF), 4 blocks, 4 heads, MLP width 64,
          dropout 0.1. Library: the same (``h = 100``).
        * encoder: three conv blocks (32, 64, 128 filters, kernel 8, each BN-ReLU-MaxPool(2)),
          so the transformer reads ``T' ~ T / 8`` latents (18 for HAR, 24 for Epilepsy).
          Library: ``tstcc_cnn``, the same network up to "same" padding
          (:mod:`selfsup.modalities.timeseries.encoders.tstcc_cnn`).
        * :math:`K`: about 40% of the latent length (6 of 18 for HAR, 10 of 24 for Epilepsy,
          50 of 127 for Sleep-EDF; the paper's sensitivity analysis varies it). Library: 10,
          the Epilepsy setting (a univariate set, as most UCR sets); set it per data set in
          the recipe (8 of the 20 latents of a length-150 series).
        * latents L2-normalised per timestamp before the transformer and the temporal
          scores (the authors' ``trainer.py``). Library: the same.
        * contextual head: Linear(h, D/2)-BN-ReLU-Linear(D/2, D/4), D = 128. Library: the
          same with the encoder's ``sequence_dim`` (64 and 32 with ``tstcc_cnn``).
        * Adam, lr 3e-4, betas (0.9, 0.99), weight decay 3e-4, batch 128, 40 epochs: engine
          settings, see ``configs/tstcc_gunpoint.yaml``.
        * The released code normalises the temporal softmax over the predictions of the
          batch for a fixed latent; the library follows the paper's equation (over candidate
          latents for a fixed prediction), like CPC.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        prediction_steps: int = 10,
        context_dim: int = 100,
        context_depth: int = 4,
        context_heads: int = 4,
        context_mlp_dim: int = 64,
        dropout: float = 0.1,
        projector_hidden_dim: int | None = None,
        projector_dim: int | None = None,
        temperature: float = 0.2,
        temporal_weight: float = 1.0,
        contextual_weight: float = 0.7,
    ) -> None:
        super().__init__(encoder, views)
        sequence_encoder(encoder, "tstcc")
        dim = int(encoder.sequence_dim)
        self.prediction_steps = positive_int(prediction_steps, "prediction_steps")
        for name, value in [("context_dim", context_dim), ("context_depth", context_depth),
                            ("context_heads", context_heads), ("context_mlp_dim", context_mlp_dim)]:
            positive_int(value, name)
        projector_hidden_dim = max(1, dim // 2) if projector_hidden_dim is None else projector_hidden_dim
        projector_dim = max(1, dim // 4) if projector_dim is None else projector_dim
        positive_int(projector_hidden_dim, "projector_hidden_dim")
        positive_int(projector_dim, "projector_dim")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        if temporal_weight < 0 or contextual_weight < 0 or temporal_weight + contextual_weight == 0:
            raise ValueError("temporal_weight and contextual_weight must be >= 0 and not both 0, got "
                             f"{temporal_weight!r}, {contextual_weight!r}")
        self.context = ContextTransformer(
            dim, context_dim, context_depth, context_heads, context_mlp_dim,
            probability(dropout, "dropout", open_high=True),
        )
        # One bilinear predictor W_k per future step k = 1..K.
        self.predictors = nn.ModuleList(nn.Linear(context_dim, dim) for _ in range(self.prediction_steps))
        self.projector = MLP(context_dim, projector_hidden_dim, projector_dim, num_layers=2)
        self.temperature = float(temperature)
        self.temporal_weight = float(temporal_weight)
        self.contextual_weight = float(contextual_weight)

    def temporal_contrast(
        self, z_context: torch.Tensor, z_future: torch.Tensor, t: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Context of ``z_context`` up to ``t`` predicts ``z_future`` at ``t+1 .. t+K``.

        ``z_context, z_future: [B, T', D]``; ``t`` is drawn uniformly from ``[0, T' - K)`` when
        not given. Returns the loss (:math:`\mathcal{L}_{TC}`) and the context ``c_t``
        ``[B, context_dim]``.
        """
        steps = self.prediction_steps
        check_prediction_length(z_context, steps, "tstcc")
        if t is None:
            t = int(torch.randint(z_context.shape[1] - steps, (1,)))
        context = self.context(z_context[:, : t + 1])
        predictions = torch.stack([w(context) for w in self.predictors], dim=1)  # [B, K, D]
        return future_infonce(predictions, z_future[:, t + 1 : t + 1 + steps]), context

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        weak, strong = self.views(batch, 2)
        z_weak = F.normalize(self.encoder.forward_sequence(weak["x"]), dim=-1)
        z_strong = F.normalize(self.encoder.forward_sequence(strong["x"]), dim=-1)
        # Cross-view prediction: strong context -> weak future (L^s_TC), and vice versa.
        temporal_strong, context_strong = self.temporal_contrast(z_strong, z_weak)
        temporal_weak, context_weak = self.temporal_contrast(z_weak, z_strong)
        contextual = nt_xent(self.projector(context_weak), self.projector(context_strong), self.temperature)
        loss = self.temporal_weight * (temporal_strong + temporal_weak) + self.contextual_weight * contextual
        return {
            "loss": loss,
            "temporal": (temporal_strong + temporal_weak).detach(),
            "contextual": contextual.detach(),
        }
