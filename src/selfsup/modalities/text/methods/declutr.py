"""DeCLUTR: spans of the same text are positives, spans of other texts negatives, plus MLM on the
anchors (Giorgi, Nitski, Wang, Bader 2021)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.losses.nt_xent import nt_xent
from selfsup.methods.base import Method
from selfsup.modalities.text.data.batch import TextBatch
from selfsup.modalities.text.losses.mlm import IGNORE, masked_lm_loss
from selfsup.modalities.text.methods.heads import (
    MLMHead,
    check_token_states,
    count,
    encoder_spec,
    fraction,
)
from selfsup.modalities.text.views.ops import bert_mask, window
from selfsup.registry import METHODS


def span_lengths(n: torch.Tensor, shape: tuple[float, float], min_fraction: float) -> torch.Tensor:
    r"""DeCLUTR's span length :math:`\ell = \lfloor p (\ell_{max} - \ell_{min}) + \ell_{min} \rfloor`,
    :math:`p \sim \mathrm{Beta}(\alpha, \beta)`, with the bounds taken from each text's own
    ``n [B]`` content tokens: :math:`\ell_{max} = n`, :math:`\ell_{min} = \max(1, \lceil
    \text{min\_fraction}\, n \rceil)` (the paper's 32..512 tokens assume documents of at least
    1,024 tokens; sentences are far shorter). Returns ``[B]`` (0 where ``n`` is 0)."""
    alpha = torch.full(n.shape, shape[0], device=n.device)
    p = torch.distributions.Beta(alpha, torch.full_like(alpha, shape[1])).sample()
    low = torch.ceil(min_fraction * n).clamp_min(1)
    length = torch.floor(p * (n - low) + low).long()
    return torch.minimum(length, n)


def sample_spans(x: TextBatch, min_fraction: float = 0.25) -> tuple[TextBatch, TextBatch]:
    r"""One anchor span and one positive span per text (Giorgi et al. 2021, Section 3.2): anchor
    length from :math:`\mathrm{Beta}(4, 2)` (long), positive from :math:`\mathrm{Beta}(2, 4)`
    (short); the anchor starts uniformly in the text, the positive uniformly in
    :math:`[s_a - \ell_p, s_a + \ell_a]` cut to the text, so it overlaps the anchor, is adjacent
    to it or lies inside it. Both come back wrapped in ``[CLS]`` / ``[SEP]``."""
    n = (x.lengths - 2).clamp_min(0)
    anchor_length = span_lengths(n, (4.0, 2.0), min_fraction)
    positive_length = span_lengths(n, (2.0, 4.0), min_fraction)
    anchor_start = (torch.rand(n.shape, device=x.device) * (n - anchor_length + 1)).long()
    low = (anchor_start - positive_length).clamp_min(0)
    high = torch.minimum(anchor_start + anchor_length, n - positive_length)
    positive_start = low + (torch.rand(n.shape, device=x.device) * (high - low + 1)).long()
    return window(x, anchor_start, anchor_length), window(x, positive_start, positive_length)


@METHODS.register(
    "declutr",
    family="contrastive",
    modality="text",
    paper="Giorgi, Nitski, Wang, Bader 2021, DeCLUTR: Deep Contrastive Learning for Unsupervised Textual "
    "Representations",
    default_encoder="bert",
    default_views="text_identity",
)
class DeCLUTR(Method):
    r"""DeCLUTR (Giorgi, Nitski, Wang, Bader, ACL 2021).

    From each text an anchor span :math:`s_i` and ``positives`` positive spans :math:`s_{i+AN}`
    are sampled (:func:`sample_spans`); their pooled encodings (the positives' averaged) meet in
    the NT-Xent loss, the other texts' spans being the negatives (Section 3.1, eq. 1):

    .. math::
        \ell(i, j) = -\log \frac{\exp(\mathrm{sim}(e_i, e_j)/\tau)}
            {\sum_{k=1}^{2AN} \mathbb{1}_{[i \ne k]} \exp(\mathrm{sim}(e_i, e_k)/\tau)},
        \qquad \mathcal{L} = \mathcal{L}_{\mathrm{contrastive}} + \mathcal{L}_{\mathrm{MLM}}

    with :math:`\mathcal{L}_{\mathrm{MLM}}` BERT's masked language modelling on the anchor spans.
    One encoder pass over the masked anchors serves both terms (cheaper than two; the anchor's
    embedding then also sees the masks, a light extra augmentation).

    Short texts: the paper samples spans of 32 to 512 tokens from documents of at least 1,024;
    here the bounds come from each text's length (:func:`span_lengths`: from
    ``min_span_fraction`` of the text to all of it), so a 20-token sentence gives anchors of about
    14 tokens and positives of about 9.

    Args:
        encoder: a text encoder; with ``mlm_weight > 0`` one with per-token states (``bert``).
        views: view maker; one view (default ``text_identity``), the spans are cut here.
        temperature: :math:`\tau` of NT-Xent.
        positives: :math:`P`, positive spans per anchor, their encodings averaged.
        min_span_fraction: the shortest span, as a fraction of the text.
        mlm_weight: weight of the MLM term (0: contrastive only).

    Paper defaults vs. library defaults: :math:`A = 2` anchors and :math:`P = 2` positives per
    document, spans 32-512 tokens, :math:`\tau` = 0.05, mean pooling, MLM on the anchors with
    weight 1, from a pretrained (Distil)RoBERTa on OpenWebText. Library: :math:`A = 1` (texts are
    short), :math:`P = 1`, span bounds relative to the text (above), :math:`\tau` = 0.05, the
    encoder's pooling (mean), MLM weight 1.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, temperature: float = 0.05, positives: int = 1,
                 min_span_fraction: float = 0.25, mlm_weight: float = 1.0) -> None:
        super().__init__(encoder, views)
        name = "declutr"
        spec = encoder_spec(encoder, name)
        self.temperature = fraction(temperature, "temperature", name, high=100.0)
        self.positives = count(positives, "positives", name)
        self.min_span_fraction = fraction(min_span_fraction, "min_span_fraction", name)
        self.mlm_weight = fraction(mlm_weight, "mlm_weight", name, high=1e6, zero=True)
        self.vocab_size = spec.vocab_size
        self.head: MLMHead | None = None
        if self.mlm_weight > 0:
            if not hasattr(encoder, "pool"):
                raise SelfsupError(f"Method {name!r} with mlm_weight > 0 needs an encoder with per-token states "
                                   f"such as 'bert'; use --encoder bert, or --set method.mlm_weight=0.")
            check_token_states(encoder, name)
            self.head = MLMHead(encoder.output_dim, encoder.input_embedding)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        anchor, positive = sample_spans(x, self.min_span_fraction)
        positives = [positive] + [sample_spans(x, self.min_span_fraction)[1] for _ in range(self.positives - 1)]
        # the positive spans' encodings, averaged (P > 1)
        e_positive = torch.stack([self.encoder(p) for p in positives]).mean(dim=0)
        logs: dict[str, torch.Tensor] = {}
        if self.head is None:
            e_anchor = self.encoder(anchor)
            mlm = e_anchor.new_zeros(())
        else:
            masked, labels = bert_mask(anchor, self.vocab_size)
            first, states, mask = self.encoder.layers(masked)
            e_anchor = self.encoder.pool(states, mask, first)
            selected = labels != IGNORE
            mlm = masked_lm_loss(self.head(states[selected]), labels[selected])
            logs["mlm_loss"] = mlm.detach()
        contrastive = nt_xent(e_anchor, e_positive, self.temperature)
        return {"loss": contrastive + self.mlm_weight * mlm, "contrastive_loss": contrastive.detach(), **logs}
