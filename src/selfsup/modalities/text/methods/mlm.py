"""Masked language modelling: BERT's pre-training task (Devlin et al. 2019)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
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
from selfsup.modalities.text.methods.pseudo_perplexity import pseudo_perplexity
from selfsup.modalities.text.views.ops import bert_mask
from selfsup.registry import METHODS


@METHODS.register(
    "mlm",
    family="masked modelling",
    modality="text",
    paper="Devlin et al. 2019, BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
    default_encoder="bert",
    # the masking is the task: the text itself is the one view
    default_views="text_identity",
)
class MLM(Method):
    r"""Masked language modelling (Devlin, Chang, Lee, Toutanova 2019, Section 3.1, Task #1).

    A fraction of each text's tokens is selected; a selected token becomes ``[MASK]`` (80 %), a
    random token (10 %) or stays itself (10 %) (:func:`~selfsup.modalities.text.views.ops.bert_mask`),
    and the encoder's final state at each selected position predicts the original token through
    the MLM head (dense, GELU, LayerNorm, decoder tied to the input embedding, bias):

    .. math::
        \mathcal{L} = -\frac{1}{|\mathcal M|} \sum_{i \in \mathcal M} \log \mathrm{softmax}
            \big(E\, \mathrm{LN}(\mathrm{GELU}(W h_i + b)) + c\big)_{x_i}

    Only the selected states go through the head (the vocabulary projection is the costly part).

    ``final_scores`` gives the pseudo-perplexity (Salazar et al. 2020) of the trained model on a
    seeded subset of the test split (:mod:`~selfsup.modalities.text.methods.pseudo_perplexity`).

    Args:
        encoder: a text encoder with ``token_states`` and ``input_embedding`` (``bert``).
        views: view maker; MLM asks it for one view (default ``text_identity``).
        mask_prob: fraction of the tokens selected (paper: 0.15).
        mask_token_frac / random_token_frac: of the selected, the fraction replaced by
            ``[MASK]`` (0.8) and by a random token (0.1); the rest stay unchanged.
        scored_texts: test texts scored for the pseudo-perplexity (0: not computed).

    Paper defaults vs. library defaults: 15 % with 80/10/10, the same; BERT-Base/Large on 3.3 B
    words with next-sentence prediction, batch 256 x 512 tokens, Adam 1e-4, 1 M steps; the
    library trains a ``bert`` of size ``tiny`` (Turc et al. 2019) without NSP (RoBERTa, Liu et
    al. 2019, found NSP unnecessary), with the engine's optimiser.

    Read-out: ``bert``'s default mean pooling. ``--set encoder.pooling=first_last`` reads the
    average of the input embeddings and the final states instead, the read-out Su et al. 2021
    (BERT-whitening) and Li et al. 2020 (BERT-flow) recommend for an MLM model's sentence
    similarity. Measured with the default command (6-minute cap, one thread, beside one other job;
    benchmarks/RESULTS.md, text), MLM vs its random-init encoder read out alike:

    * ``bible_verses``, seed 0, KJV->WEB verse R@1: mean 0.456 vs 0.857 (whitened 0.929 vs 0.937);
      first-last 0.584 vs 0.861 (whitened 0.941 vs 0.937). Book probe, first-last: linear 0.280
      vs 0.243, kNN 0.226 vs 0.274.
    * ``fortunes``, category probe, first-last: linear 0.338 vs 0.322, kNN 0.288 vs 0.305; mean
      pooling (10 epochs): 0.369 vs 0.322 and 0.313 vs 0.301.

    First-last suits the similarity of whole texts and mean pooling the category probes here, so
    neither is made the default for MLM's sake.
    """

    def __init__(self, encoder: nn.Module, views: nn.Module, mask_prob: float = 0.15, mask_token_frac: float = 0.8,
                 random_token_frac: float = 0.1, scored_texts: int = 200) -> None:
        super().__init__(encoder, views)
        name = "mlm"
        check_token_states(encoder, name)
        self.vocab_size = encoder_spec(encoder, name).vocab_size
        self.mask_prob = fraction(mask_prob, "mask_prob", name)
        self.mask_token_frac = fraction(mask_token_frac, "mask_token_frac", name, zero=True)
        self.random_token_frac = fraction(random_token_frac, "random_token_frac", name, zero=True)
        if self.mask_token_frac + self.random_token_frac > 1.0:
            raise SelfsupError(f"Options mask_token_frac + random_token_frac of method {name!r} must be at most 1; "
                               f"got {self.mask_token_frac} + {self.random_token_frac}.")
        self.scored_texts = count(scored_texts, "scored_texts", name, low=0)
        self.head = MLMHead(encoder.output_dim, encoder.input_embedding)

    def logits_at(self, x: TextBatch, selected: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits ``[M, V]`` at the ``selected [B, L]`` positions of ``x``."""
        states, _ = self.encoder.token_states(x)
        return self.head(states[selected])

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        x = self.views(batch, 1)[0]["x"]
        masked, labels = bert_mask(x, self.vocab_size, self.mask_prob, self.mask_token_frac, self.random_token_frac)
        selected = labels != IGNORE
        logits = self.logits_at(masked, selected)  # [M, V]
        targets = labels[selected]
        loss = masked_lm_loss(logits, targets)
        accuracy = (logits.detach().argmax(dim=-1) == targets).float().mean()
        return {"loss": loss, "mlm_accuracy": accuracy}

    def log_probs(self, masked: TextBatch, columns: torch.Tensor) -> torch.Tensor:
        """``[M, V]`` log-distribution at position ``columns[m]`` of text ``m`` of ``masked``."""
        selected = torch.zeros_like(masked.ids, dtype=torch.bool)
        selected[torch.arange(len(masked), device=masked.device), columns] = True
        return self.logits_at(masked, selected).float().log_softmax(dim=-1)

    def final_scores(self, source: Any) -> dict[str, float]:
        if self.scored_texts == 0:
            return {}
        return pseudo_perplexity(self, self.log_probs, source, max_texts=self.scored_texts)
