r"""SASRec: a next-item model of event sequences — at every event, a causal encoder's output
predicts the item of the next event — and the parts CL4SRec (:mod:`.cl4srec`) shares with it.

It scores items with the encoder's own item embedding (SASRec's shared item embedding) and
implements the optional ``next_item_scores(batch) -> [B, num_items]`` hook, which the engine's
final evaluation ranks when the data holds next items out (``data.options.next_item``:
HR@10 / NDCG@10 in metrics.json, :func:`selfsup.engine.evaluation.evaluate_next_item`).

Item ``j`` of the catalogue is category index ``j + 1`` of the item field (index 0 is the
unknown / mask / padding slot, never a target and never scored).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method
from selfsup.modalities.events.data.batch import EventBatch
from selfsup.modalities.events.encoders.steps import check_step_encoder, is_causal
from selfsup.registry import METHODS
from selfsup.validate import check_int
from selfsup.views.base import IdentityViews

# The encoder SASRec / CL4SRec get unless the recipe says otherwise: causal self-attention, the
# last position as the sequence's representation, and an item embedding as wide as the encoder's
# output, so that the output scores items against it with no projection (scores come from the
# saved encoder alone). Two layers and two heads as in CL4SRec's setting (as recalled), dropout 0.2
# (SASRec's rate on the dense MovieLens-1M).
SEQUENTIAL_RECOMMENDER_ENCODER = {"causal": True, "pooling": "last", "d_model": 64, "embedding_dim": 64,
                                  "heads": 2, "layers": 2, "dropout": 0.2}


def recent_window(x: EventBatch, max_length: int, random: bool = False) -> EventBatch:
    """Each sequence cut to ``max_length`` consecutive events: its last ones, or (``random``) a
    window ending at a uniformly drawn event from the ``max_length``-th on."""
    if x.max_length <= max_length:
        return x
    lengths = x.lengths.clamp(max=max_length)
    start = x.lengths - lengths
    if random:
        start = (torch.rand(len(x), device=x.device) * (start + 1)).long()
    positions = start[:, None] + torch.arange(max_length, device=x.device)[None, :]
    return x.steps(positions, lengths)


def last_steps(steps: Tensor, lengths: Tensor) -> Tensor:
    """``[B, D]``: each row's output at its last event (``steps [B, L, D]``)."""
    last = (lengths - 1).clamp(min=0)
    return steps[torch.arange(len(last), device=steps.device), last]


def next_item_loss(steps: Tensor, items: Tensor, lengths: Tensor, item_logits: Any) -> Tensor:
    r"""Cross-entropy of the next item over the whole catalogue, at every event that has a next one:

    .. math::
        \mathcal{L} = \operatorname*{mean}_{(b, t):\, t + 1 < T_b,\ i_{b,t+1} \ne 0}
            -\log \operatorname{softmax}\big(\mathrm{logits}(h_{b,t})\big)_{i_{b,t+1} - 1}

    Args:
        steps: ``[B, L, D]`` causal encoder outputs (step ``t`` has seen events ``<= t``).
        items: ``[B, L]`` int64 item category indices (0: unknown / masked / padding — not a target).
        lengths: ``[B]`` events per row.
        item_logits: ``[M, D] -> [M, num_items]``.

    Returns:
        Scalar loss (0 when the batch holds no next item).
    """
    width = steps.shape[1]
    has_next = torch.arange(width - 1, device=steps.device)[None, :] < (lengths[:, None] - 1)
    targets = items[:, 1:]
    valid = has_next & (targets > 0)
    if not valid.any():
        return steps.sum() * 0.0
    return F.cross_entropy(item_logits(steps[:, :-1][valid]), targets[valid] - 1)


def item_field_index(encoder: nn.Module, item_field: str | None, method: str) -> tuple[int, str | None]:
    """The position of ``item_field`` among the categorical fields of a step encoder (default: the
    first), and its name; one clear error for an encoder or data without categorical fields."""
    check_step_encoder(encoder, method)
    if not getattr(encoder.embedding, "embeddings", None):
        raise SelfsupError(f"Method {method!r} predicts items, the values of a categorical field, and the data has no "
                           "categorical field.")
    names = tuple(getattr(encoder.embedding, "categorical", ()))
    if item_field is None:
        return 0, names[0] if names else None
    if item_field not in names:
        raise SelfsupError(f"Option item_field of method {method!r} is {item_field!r}, not a categorical field of the "
                           f"data; its categorical fields: {', '.join(names) or 'none'}.")
    return names.index(item_field), item_field


@METHODS.register(
    "sasrec",
    family="pretext",
    paper="Kang & McAuley 2018, Self-Attentive Sequential Recommendation (ICDM)",
    modality="events",
    default_encoder="event_transformer",
    default_views="none",
    default_encoder_options=SEQUENTIAL_RECOMMENDER_ENCODER,
)
class SASRec(Method):
    r"""SASRec (Kang & McAuley, ICDM 2018): a causal self-attention encoder whose output
    :math:`h_t` after event :math:`t` scores every item :math:`j` by :math:`h_t^\top e_j`, trained
    to rank the item of event :math:`t + 1` first (:func:`next_item_loss`, at every event at once).

    The score uses the encoder's own item embedding :math:`e_j` (``encoder.embedding``'s table of
    the item field: the paper's *shared item embedding*, Section III-E), scaled by
    :math:`1 / \sqrt{d}` (the encoder's embeddings start at unit variance); when the encoder's output
    is wider or narrower than that table, a method-owned linear map :math:`W h_t` fits it to the
    table first. ``tie_item_embedding=False`` gives an output layer of its own instead (one weight
    vector and bias per item). The item's other fields (genre, rating, time gap) enter the input,
    not the scores.

    Training cuts each sequence to a window of ``max_length`` events, drawn at random each time a
    sequence is seen, so that every event of a long history is a target over the epochs (RecBole
    trains on every prefix for the same reason; SASRec's own code keeps the last ``n`` only);
    ``next_item_scores`` reads the last ``max_length`` events.

    Args:
        encoder: a causal event encoder with the step contract (default ``event_transformer``
            with ``causal=True``, ``pooling="last"``, 64-wide item embeddings).
        views: unused (default ``none``).
        item_field: the categorical field whose values are the items (default: the first one).
            Name the field that ``data.options.next_item`` holds out.
        max_length: events per training window and per scored history.
        tie_item_embedding: score with the encoder's item embedding (default) or an own layer.

    Paper defaults vs. library defaults (Kang & McAuley 2018, Section IV-B):
        * binary cross-entropy with one sampled negative item per position; library: the
          cross-entropy over all items, which trains SASRec markedly better (Klenitskiy & Vasilev
          2023, "Turning Dross Into Gold Loss: is BERT4Rec really better than SASRec?").
        * ``n = 200`` events on MovieLens-1M, 50 on the sparse sets; library: 50 (RecBole's
          ``MAX_ITEM_LIST_LENGTH`` for ml-100k).
        * ``d = 50``, 2 blocks, 1 head, dropout 0.2 (MovieLens-1M), learned positions;
          library: ``d_model = 64``, 2 layers, 2 heads, dropout 0.2, sinusoidal positions (the
          encoder's), pre-norm blocks.
        * Adam, learning rate 0.001, batch 128; library: the engine's optimiser and batch size.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module | None = None, item_field: str | None = None,
                 max_length: int = 50, tie_item_embedding: bool = True) -> None:
        super().__init__(encoder, views if views is not None else IdentityViews())
        name = type(self).__name__.lower()
        self.item_index, self.item_field = item_field_index(encoder, item_field, name)
        if not is_causal(encoder):
            raise SelfsupError(f"Method {name!r} needs a causal encoder (step t must not see event t + 1): "
                               "event_transformer with causal=true, or event_gru.")
        self.max_length = check_int(max_length, "max_length", minimum=2)
        if not isinstance(tie_item_embedding, bool):
            raise TypeError(f"tie_item_embedding must be true or false, got {tie_item_embedding!r}")
        table = encoder.embedding.embeddings[self.item_index]
        self.num_items = table.num_embeddings - 1
        if self.num_items < 1:
            raise SelfsupError(f"Method {name!r}: the item field has no items in the training data.")
        self.tie_item_embedding = tie_item_embedding
        if tie_item_embedding:
            fits = table.embedding_dim == encoder.step_dim
            self.projection = nn.Identity() if fits else nn.Linear(encoder.step_dim, table.embedding_dim, bias=False)
        else:
            self.output = nn.Linear(encoder.step_dim, self.num_items)

    def item_logits(self, h: Tensor) -> Tensor:
        """``[M, D] -> [M, num_items]``: the scores of every item after outputs ``h``."""
        if not self.tie_item_embedding:
            return self.output(h)
        items = self.encoder.embedding.embeddings[self.item_index].weight[1:]  # row 0 is no item
        # / sqrt(d): the encoder's embeddings start at unit variance, so raw dot products with its
        # layer-normed outputs start at a standard deviation of sqrt(d) (on ml-100k: a first loss of
        # 28 against log(1,679 items) = 7.4, and HR@10 below popularity after 60 epochs)
        return self.projection(h) @ items.T / items.shape[1] ** 0.5

    def items(self, x: EventBatch) -> Tensor:
        """``[B, L]`` the item category index of every event."""
        return x.categorical[:, :, self.item_index]

    def next_item_loss(self, x: EventBatch) -> Tensor:
        return next_item_loss(self.encoder.forward_steps(x), self.items(x), x.lengths, self.item_logits)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = recent_window(batch["x"], self.max_length, random=self.training)
        return {"loss": self.next_item_loss(x)}

    @torch.no_grad()
    def next_item_scores(self, batch: dict[str, Any]) -> Tensor:
        """``[B, num_items]``: the score of every item as the next one after each sequence (its
        last ``max_length`` events); column ``j`` is category index ``j + 1`` of the item field."""
        x = recent_window(batch["x"], self.max_length)
        return self.item_logits(last_steps(self.encoder.forward_steps(x), x.lengths))
