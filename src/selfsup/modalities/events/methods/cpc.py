"""CPC over event sequences: a causal encoder's output after each event predicts the embeddings of
the next ``K`` events, each picked out among the other entities' events at the same position
(:func:`~selfsup.modalities.events.losses.cpc.padded_future_infonce`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method
from selfsup.modalities.events.encoders.steps import check_step_encoder, is_causal
from selfsup.modalities.events.losses.cpc import padded_future_infonce
from selfsup.registry import METHODS
from selfsup.validate import check_int


@METHODS.register(
    "event_cpc",
    family="contrastive",
    paper="van den Oord et al. 2018, CPC; as the event-sequence baseline of Babaev et al. 2022, CoLES",
    modality="events",
    default_encoder="event_gru",
    # no augmentation: predicting the next events is the whole task (CPC, Section 2)
    default_views="none",
)
class EventCPC(Method):
    r"""Contrastive Predictive Coding on event sequences (van den Oord, Li, Vinyals 2018), the
    self-supervised baseline the CoLES paper compares against (Babaev et al. 2022, Section 4).

    Each event :math:`t` of an entity has an input embedding :math:`z_t` (``encoder.embedding``:
    its categorical embeddings, numeric fields and time delta) and a context :math:`c_t`, the
    causal encoder's output after it (``encoder.forward_steps``; the GRU's hidden state, the
    autoregressive model of CPC's Figure 1). For :math:`k = 1..K`, the prediction
    :math:`W_k c_t` must identify the true :math:`z_{t+k}` among the embeddings of the other
    entities' events at position :math:`t + k` (CPC eq. 3-4, negatives from the minibatch):

    .. math::
        \mathcal{L} = \frac{1}{K} \sum_{k=1}^{K} \operatorname*{mean}_{(b, t) :\, t + k < T_b}
            -\log \frac{\exp(z_{b,t+k}^\top W_k c_{b,t})}{\sum_{j :\, t + k < T_j} \exp(z_{j,t+k}^\top W_k c_{b,t})}

    Padded positions are neither queries nor negatives; a step :math:`k` longer than every
    sequence of the batch adds no term. The targets are the encoder's own input embeddings, without
    a projection of their own: a linear projection :math:`P z` would be absorbed into the
    bilinear :math:`W_k` (:math:`(P z)^\top W_k c = z^\top (P^\top W_k) c`). The categorical
    embeddings the targets hold are trained by both sides of the score.

    The encoder must be causal (its step :math:`t` must not see event :math:`t + k`): ``event_gru``,
    or ``event_transformer`` with ``causal=true``; a bidirectional one is refused. ``embed`` is the
    encoder's pooled output (for ``event_gru``: the last hidden state, the context after the whole
    history — what the CoLES paper evaluates).

    Args:
        encoder: a causal event encoder with the step contract (default ``event_gru``).
        views: view maker; ``none`` by default (one view, the input itself).
        prediction_steps: :math:`K`.

    Paper defaults vs. library defaults:
        * CPC (Section 3.1, audio): :math:`K = 12`, a GRU context, bilinear scores, negatives
          from the minibatch. Library: the same, negatives being the other entities' events at
          the same position.
        * CoLES's CPC baseline (Section 4): the CoLES GRU encoder trained with CPC's loss instead
          of CoLES's; the settings it used for that baseline are not reproduced here. Library:
          ``event_gru`` with 256 units; batch and optimiser from the engine
          (``configs/event_cpc_synthetic_transactions.yaml``).
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, prediction_steps: int = 12) -> None:
        super().__init__(encoder, views)
        check_step_encoder(encoder, "event_cpc")
        if not is_causal(encoder):
            raise SelfsupError(
                "Method 'event_cpc' predicts each event's successors from the encoder's output after it, so the "
                f"encoder must be causal; {type(encoder).__name__} is bidirectional (its output at an event sees "
                "the events it should predict). Use event_gru (the default) or event_transformer with "
                "encoder.causal=true."
            )
        self.prediction_steps = check_int(prediction_steps, "prediction_steps")
        self.predictors = nn.ModuleList(nn.Linear(int(encoder.step_dim), int(encoder.embedding.output_dim), bias=False)
                                        for _ in range(self.prediction_steps))

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        context = self.encoder.forward_steps(x)  # [B, L, step_dim]; c_t sees events <= t
        z = self.encoder.embedding(x)  # [B, L, E]
        mask = x.mask
        losses = [
            # contexts c_0 .. c_{L-k-1} predict z_k .. z_{L-1}; valid where event t + k exists
            padded_future_infonce(predictor(context[:, :-k]), z[:, k:], mask[:, k:])
            for k, predictor in enumerate(self.predictors, start=1)
            if bool((mask[:, k:].sum(0) >= 2).any())
        ]
        if not losses:  # no two sequences of the batch reach a second event: nothing to predict
            losses = [context.sum() * 0.0]
        loss = torch.stack(losses).mean()
        return {"loss": loss, "first_step_loss": losses[0].detach(), "last_step_loss": losses[-1].detach()}
