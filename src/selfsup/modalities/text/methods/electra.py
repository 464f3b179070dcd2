"""ELECTRA: a small generator fills in masked tokens, the encoder learns to detect which tokens were
replaced (Clark et al. 2020)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import Method
from selfsup.modalities.text.data.batch import TextSpec
from selfsup.modalities.text.encoders.bert import BertEncoder
from selfsup.modalities.text.losses.electra import replaced_token_detection_loss
from selfsup.modalities.text.losses.mlm import IGNORE, masked_lm_loss
from selfsup.modalities.text.methods.heads import MLMHead, fraction
from selfsup.modalities.text.views.ops import bert_mask
from selfsup.registry import METHODS


def generator_for(encoder: BertEncoder, size: float) -> BertEncoder:
    """A ``bert`` with the encoder's depth and about ``size`` times its width (heads scaled alike),
    whose token embedding is the encoder's, projected to its width (ELECTRA's shared embeddings
    when the generator is narrower, Section 3.2)."""
    heads = max(1, round(encoder.heads * size))
    dim = max(8 * heads, round(encoder.dim * size / heads) * heads)
    generator = BertEncoder(encoder.input_spec, dim=dim, depth=encoder.depth, heads=heads,
                            dropout=encoder.embed_dropout.p)
    generator.token_embed = nn.Sequential(encoder.token_embed, nn.Linear(encoder.dim, dim, bias=False))
    return generator


@METHODS.register(
    "electra",
    family="masked modelling",
    modality="text",
    paper="Clark, Luong, Le, Manning 2020, ELECTRA: Pre-training Text Encoders as Discriminators Rather "
    "Than Generators",
    default_encoder="bert",
    default_views="text_identity",
)
class ELECTRA(Method):
    r"""ELECTRA (Clark, Luong, Le, Manning, ICLR 2020), replaced token detection.

    A generator :math:`G` (a small MLM) predicts a random ``mask_prob`` of the positions, masked;
    its samples replace them, with no gradient through the sampling. The encoder, the
    discriminator :math:`D`, reads the corrupted text and predicts at every token whether it was
    replaced (a sampled token equal to the original counts as original). Both train together
    (Section 2):

    .. math::
        \min_{\theta_G, \theta_D} \; \mathcal{L}_{\mathrm{MLM}}(x, \theta_G)
            + \lambda\, \mathcal{L}_{\mathrm{Disc}}(x, \theta_D)

    (:func:`~selfsup.modalities.text.losses.mlm.masked_lm_loss`,
    :func:`~selfsup.modalities.text.losses.electra.replaced_token_detection_loss`). The
    discriminator is the encoder kept after training; the generator is thrown away.

    Args:
        encoder: a ``bert`` (the discriminator).
        views: view maker; one view (default ``text_identity``).
        mask_prob: fraction of the tokens the generator fills in (paper: 0.15).
        disc_weight: :math:`\lambda` (paper: 50).
        generator_size: generator width / discriminator width (paper: 1/4 to 1/2 works best,
            Section 3.2 / Figure 3).
        temperature: the generator's sampling temperature (paper: 1).

    Paper defaults vs. library defaults: 15 % masked, all replaced by ``[MASK]`` (Section 2),
    :math:`\lambda` = 50, a generator 1/4 as wide with the discriminator's depth, token embeddings
    shared (Section 3.1; ELECTRA-Small also shares them through a projection), sampling at
    temperature 1. The same here, except that position embeddings are not shared (each network
    keeps its own; the paper shares token *and* position embeddings).
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, mask_prob: float = 0.15, disc_weight: float = 50.0,
                 generator_size: float = 0.25, temperature: float = 1.0) -> None:
        super().__init__(encoder, views)
        name = "electra"
        if not isinstance(encoder, BertEncoder):
            raise SelfsupError(f"Method {name!r} builds its generator as a smaller 'bert' sharing the encoder's "
                               f"embeddings; the encoder is {type(encoder).__name__}. Use --encoder bert.")
        self.vocab_size = encoder.input_spec.vocab_size
        self.mask_prob = fraction(mask_prob, "mask_prob", name)
        self.disc_weight = fraction(disc_weight, "disc_weight", name, high=1e6)
        self.temperature = fraction(temperature, "temperature", name, high=100.0)
        self.generator = generator_for(encoder, fraction(generator_size, "generator_size", name))
        # the generator predicts in the shared embedding space, decoded by the tied embedding
        self.generator_head = MLMHead(self.generator.dim, encoder.input_embedding)
        # ELECTRA's discriminator head: dense, GELU, one logit per token
        self.discriminator_head = nn.Sequential(nn.Linear(encoder.dim, encoder.dim), nn.GELU(),
                                                nn.Linear(encoder.dim, 1))

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        # the generator's task: every selected position masked (mask_frac 1, no random tokens)
        masked, labels = bert_mask(x, self.vocab_size, self.mask_prob, mask_frac=1.0, random_frac=0.0)
        selected = labels != IGNORE
        generator_states, _ = self.generator.token_states(masked)
        logits = self.generator_head(generator_states[selected])  # [M, V]
        mlm_loss = masked_lm_loss(logits, labels[selected])
        with torch.no_grad():
            # Gumbel-max sampling from softmax(logits / T); special ids are never sampled
            scores = logits.detach().float() / self.temperature
            scores[:, : TextSpec.first_regular_id] = float("-inf")
            gumbel = -torch.empty_like(scores).exponential_().log()  # -log E, E ~ Exp(1)
            sampled = (scores + gumbel).argmax(dim=-1)
            ids = x.ids.clone()
            ids[selected] = sampled
            replaced = ids != x.ids
        states, mask = self.encoder.token_states(x.replace(ids=ids))
        disc_logits = self.discriminator_head(states).squeeze(-1)  # [B, L]
        disc_loss = replaced_token_detection_loss(disc_logits, replaced, mask)
        with torch.no_grad():
            accuracy = ((disc_logits > 0) == replaced)[mask].float().mean()
        return {"loss": mlm_loss + self.disc_weight * disc_loss, "mlm_loss": mlm_loss.detach(),
                "disc_loss": disc_loss.detach(), "disc_accuracy": accuracy,
                "replaced_fraction": replaced[mask].float().mean()}
