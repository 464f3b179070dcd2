r"""wav2vec 2.0's contrastive loss with distractors from the same utterance (Baevski et al. 2020,
Section 3.2, eq. 3).

For a masked frame :math:`t` with context output :math:`c_t` and quantised latent :math:`q_t`,
the candidates :math:`Q_t` are :math:`q_t` and :math:`K` distractors: quantised latents of other
masked frames of the same clip, drawn uniformly (with replacement, as the authors' code):

.. math::
    L_m = -\log \frac{\exp(\mathrm{sim}(c_t, q_t) / \kappa)}{\sum_{\tilde q \in Q_t} \exp(\mathrm{sim}(c_t, \tilde q) / \kappa)}

with cosine similarity and :math:`\kappa = 0.1`. A distractor identical to :math:`q_t` (the same
codewords) is left out of the sum, as in the authors' code. The codebook diversity term
:math:`L_d` comes from :class:`~selfsup.nn.quantizers.GumbelVectorQuantizer`; the method adds
:math:`\alpha L_d`.

Shapes: ``context [N, D]`` and ``quantized [N, D]`` for the ``N`` masked frames of a batch,
``clip [N]`` the clip of each (frames of one clip contiguous, as ``tensor[mask]`` gives them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sample_distractors(clip: torch.Tensor, num_distractors: int) -> torch.Tensor:
    """``[N, K]`` indices of other rows of the same clip (with replacement; a clip with one masked
    frame gets itself, which the loss then leaves out)."""
    n = clip.shape[0]
    counts = torch.bincount(clip)
    first = torch.cumsum(counts, 0) - counts  # first row of each clip
    size, offset = counts[clip], torch.arange(n, device=clip.device) - first[clip]
    draw = (torch.rand(n, num_distractors, device=clip.device) * (size - 1).clamp_min(1)[:, None]).long()
    draw = draw + (draw >= offset[:, None]).long() * (size > 1)[:, None].long()  # skip the row itself
    return first[clip][:, None] + draw


def contrastive_logits(context: torch.Tensor, quantized: torch.Tensor, distractors: torch.Tensor,
                       temperature: float = 0.1) -> torch.Tensor:
    """``[N, 1 + K]`` logits, the true latent first; identical distractors at ``-inf``."""
    candidates = torch.cat([quantized[:, None], quantized[distractors]], dim=1)  # [N, 1 + K, D]
    logits = F.cosine_similarity(context[:, None].float(), candidates.float(), dim=-1) / temperature
    same = (quantized[distractors] == quantized[:, None]).all(dim=-1)
    logits[:, 1:] = logits[:, 1:].masked_fill(same, float("-inf"))
    return logits


def wav2vec2_contrastive(context: torch.Tensor, quantized: torch.Tensor, clip: torch.Tensor,
                         num_distractors: int = 100, temperature: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L_m, accuracy)``: the mean of eq. 3 over the masked frames, and how often the true
    latent scores highest."""
    logits = contrastive_logits(context, quantized, sample_distractors(clip, num_distractors), temperature)
    target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, target), (logits.argmax(dim=1) == 0).float().mean()
