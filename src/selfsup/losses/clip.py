"""Cross-modal contrastive losses: CLIP's symmetric InfoNCE (:func:`clip_loss`), SigLIP's
pairwise sigmoid loss (:func:`siglip_loss`), CLIP over every pair of :math:`M \\ge 2` modalities
(:func:`multimodal_clip_loss`, AstroM³) and the learnable temperature they share
(:class:`LearnableScale`).

Conventions, shared with :func:`selfsup.losses.nt_xent.nt_xent`: row ``i`` of every modality is
the same sample; embeddings are l2-normalised here; the candidates (the other modality) come from
the global batch through the autograd-aware :func:`selfsup.nn.gather.gather` while the anchors
are this process's rows, so the mean of the per-process losses (what DDP optimises) equals the
single-process loss on the full batch.

Missing modalities: ``valid`` marks the samples that have both modalities. An invalid sample is
neither an anchor nor a candidate, and the loss is the mean over the valid local anchors. The
per-process losses then average to the full-batch loss when every process holds the same number
of valid rows (otherwise each process's mean is over a different count).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import combinations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.nn.gather import gather, is_distributed, rank
from selfsup.validate import check_pair, check_weight


def _check_valid(name: str, valid: Tensor | None, batch: int) -> None:
    if valid is not None and (valid.dtype != torch.bool or valid.shape != (batch,)):
        raise ValueError(
            f"{name} expects valid as a bool tensor of shape [B] = ({batch},), got "
            f"{valid.dtype} of shape {tuple(valid.shape)}"
        )


def _positive_columns(anchors: Tensor) -> Tensor:
    """Global column of each local anchor's positive: its own row in the gathered batch."""
    batch = anchors.shape[0]
    return torch.arange(batch, device=anchors.device) + rank() * batch


def clip_loss(za: Tensor, zb: Tensor, scale: Tensor | float, valid: Tensor | None = None) -> Tensor:
    r"""CLIP's symmetric InfoNCE (Radford et al. 2021, "Learning Transferable Visual Models From
    Natural Language Supervision", Fig. 3).

    With :math:`a_i, b_j` the l2-normalised embeddings of the two modalities and :math:`t` the
    inverse temperature (``scale``, CLIP's ``np.exp(t)``), the logits are
    :math:`s_{ij} = t\, a_i^\top b_j` over the :math:`N` samples of the global batch, and

    .. math::
        \mathcal{L} = \frac{1}{2N} \sum_{i=1}^{N} \Big(
            -\log \frac{e^{s_{ii}}}{\sum_{j} e^{s_{ij}}}
            -\log \frac{e^{s_{ii}}}{\sum_{j} e^{s_{ji}}} \Big)

    the mean of the cross entropies over the rows (a -> b) and over the columns (b -> a).

    Distributed: anchors are the local rows of each modality, candidates the gathered rows of the
    other one, so the mean of the per-process losses equals the single-process loss.

    Args:
        za: ``[B, D]`` embeddings of modality a (not necessarily normalised).
        zb: ``[B, D]`` embeddings of modality b; row ``i`` is the same sample as ``za[i]``.
        scale: :math:`t`, already exponentiated (e.g. :class:`LearnableScale`'s output), a
            tensor with gradient or a float.
        valid: optional ``[B]`` bool, the samples that have both modalities. The others are
            neither anchors nor candidates; the loss is the mean over the valid anchors. With
            no valid row here, a zero that depends on the inputs (so ``backward`` runs, and the
            gather's backward collective is reached on every process). Distributed, the
            per-process losses average to the full-batch loss when every process has the same
            number of valid rows.

    Returns:
        Scalar loss.

    Example:
        >>> za, zb = torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = clip_loss(za, zb, scale=1 / 0.07)
    """
    check_pair("clip_loss", za, zb)
    _check_valid("clip_loss", valid, za.shape[0])
    za = F.normalize(za, dim=1)
    zb = F.normalize(zb, dim=1)
    logits_ab = scale * za @ gather(zb).T  # [B, N]: anchors a, candidates b
    if is_distributed():
        logits_ba = scale * zb @ gather(za).T  # [B, N]: anchors b, candidates a
    else:
        # One process holds every anchor: b -> a is the transpose, and one matmul fewer each way
        # (a step 1.3-1.6x faster on CPU, benchmarks/clip_loss_peers.py).
        logits_ba = logits_ab.T
    positives = _positive_columns(za)
    if valid is None:
        return (F.cross_entropy(logits_ab, positives) + F.cross_entropy(logits_ba, positives)) / 2
    # Gathered before any early return: every process must take part in the collective.
    invalid_candidates = ~gather(valid).unsqueeze(0)
    if not valid.any():
        return 0.0 * (logits_ab.sum() + logits_ba.sum())
    # Drop invalid anchors before the cross entropy: their own positive is masked (an inf loss).
    logits_ab = logits_ab[valid].masked_fill(invalid_candidates, float("-inf"))
    logits_ba = logits_ba[valid].masked_fill(invalid_candidates, float("-inf"))
    positives = positives[valid]
    return (F.cross_entropy(logits_ab, positives) + F.cross_entropy(logits_ba, positives)) / 2


def siglip_loss(
    za: Tensor,
    zb: Tensor,
    scale: Tensor | float,
    bias: Tensor | float,
    valid: Tensor | None = None,
) -> Tensor:
    r"""SigLIP's pairwise sigmoid loss (Zhai et al. 2023, "Sigmoid Loss for Language Image
    Pre-Training", Algorithm 1).

    With :math:`x_i, y_j` the l2-normalised embeddings, :math:`t` the inverse temperature
    (``scale``, the paper's :math:`\exp(t')`), :math:`b` the bias, and :math:`z_{ij} = 1` for
    the positive pair (:math:`i = j`), :math:`-1` otherwise:

    .. math::
        \mathcal{L} = -\frac{1}{|\mathcal{B}|} \sum_{i=1}^{|\mathcal{B}|} \sum_{j=1}^{N}
            \log \sigma\big(z_{ij} (t\, x_i^\top y_j + b)\big)

    Each of the :math:`|\mathcal{B}|` local anchors :math:`x_i` is scored against every
    candidate :math:`y_j` of the global batch (a sum over candidates, a mean over anchors), so
    the mean of the per-process losses equals the single-process loss. On the full batch the sum
    runs over every pair, so swapping ``za`` and ``zb`` gives the same loss; distributed, each
    process's anchors are its rows of ``za`` and only ``zb`` is gathered, as in the paper (whose
    chunked version passes the texts around the devices). The paper initialises
    :math:`t' = \log 10` and :math:`b = -10` (``LearnableScale(0.1, bias=-10.0)``).

    Args:
        za: ``[B, D]`` embeddings of modality a (the anchors; the paper's images).
        zb: ``[B, D]`` embeddings of modality b (the candidates, gathered; the paper's texts).
        scale: :math:`t`, already exponentiated; a tensor with gradient or a float.
        bias: :math:`b`; a tensor with gradient or a float.
        valid: optional ``[B]`` bool, as in :func:`clip_loss`: invalid samples are neither
            anchors nor candidates; the sum is divided by the number of valid local anchors.

    Returns:
        Scalar loss.

    Example:
        >>> za, zb = torch.randn(8, 16), torch.randn(8, 16)
        >>> loss = siglip_loss(za, zb, scale=10.0, bias=-10.0)
    """
    check_pair("siglip_loss", za, zb)
    _check_valid("siglip_loss", valid, za.shape[0])
    za = F.normalize(za, dim=1)
    zb = F.normalize(zb, dim=1)
    logits = scale * za @ gather(zb).T + bias  # [B, N]
    rows = torch.arange(za.shape[0], device=za.device)
    labels = torch.full_like(logits, -1.0)
    labels[rows, _positive_columns(za)] = 1.0
    pair_losses = -F.logsigmoid(labels * logits)
    if valid is None:
        return pair_losses.sum() / za.shape[0]
    invalid_candidates = ~gather(valid).unsqueeze(0)  # on every process, as in clip_loss
    if not valid.any():
        return 0.0 * logits.sum()
    pair_losses = pair_losses[valid].masked_fill(invalid_candidates, 0.0)
    return pair_losses.sum() / valid.sum()


def multimodal_clip_loss(
    embeddings: Mapping[str, Tensor],
    scale: Tensor | float,
    weights: Mapping[tuple[str, str], float] | None = None,
    present: Mapping[str, Tensor] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    r"""CLIP over every pair of :math:`M \ge 2` modalities (Rizhko & Bloom 2024, "AstroM³: A
    self-supervised multimodal model for astronomy", Sec. 3: photometry, spectra and metadata,
    :math:`\mathcal{L} = \mathcal{L}_{PS} + \mathcal{L}_{MP} + \mathcal{L}_{MS}`).

    .. math::
        \mathcal{L} = \frac{\sum_{a < b} w_{ab}\, \mathcal{L}_{\mathrm{CLIP}}(z_a, z_b)}
            {\sum_{a < b} w_{ab}}

    over the unordered pairs in the mapping's order. AstroM³ sums the terms; the weighted mean
    differs from that sum by the constant :math:`\sum w_{ab}` (3 there), so only the scale of the
    loss, not its minimiser, changes.

    Args:
        embeddings: modality name -> ``[B, D]`` embeddings; row ``i`` of each is sample ``i``.
        scale: the shared inverse temperature of :func:`clip_loss`.
        weights: ``(a, b) -> w_ab >= 0``, a pair in either order; pairs not named weigh 1.
        present: modality name -> ``[B]`` bool, the samples that have that modality; a pair's
            ``valid`` is ``present[a] & present[b]``. Modalities not named are always present.

    Returns:
        ``(loss, terms)``, ``terms["clip_<a>_<b>"]`` the detached loss of each pair.

    Example:
        >>> z = {"photometry": torch.randn(8, 16), "spectra": torch.randn(8, 16),
        ...      "metadata": torch.randn(8, 16)}
        >>> loss, terms = multimodal_clip_loss(z, scale=1 / 0.07)
    """
    names = list(embeddings)
    if len(names) < 2:
        raise ValueError(f"multimodal_clip_loss needs at least 2 modalities, got {names}")
    pair_weights = _pair_weights(names, weights or {})
    if present is not None and (unknown := sorted(set(present) - set(names))):
        raise ValueError(
            f"multimodal_clip_loss: present names unknown modalities {unknown}; "
            f"the embeddings have {names}"
        )
    present = present or {}
    total, terms = 0.0, {}
    for (a, b), weight in pair_weights.items():
        valid = _both_present(present.get(a), present.get(b))
        term = clip_loss(embeddings[a], embeddings[b], scale, valid=valid)
        terms[f"clip_{a}_{b}"] = term.detach()
        total = total + weight * term
    return total / sum(pair_weights.values()), terms


def _pair_weights(
    names: list[str], weights: Mapping[tuple[str, str], float]
) -> dict[tuple[str, str], float]:
    """``w_ab`` of every unordered pair, keyed in the embeddings' order."""
    unknown = sorted({name for pair in weights for name in pair} - set(names))
    if unknown:
        raise ValueError(
            f"multimodal_clip_loss: weights name unknown modalities {unknown}; "
            f"the embeddings have {names}"
        )
    pair_weights = dict.fromkeys(combinations(names, 2), 1.0)
    given: dict[tuple[str, str], tuple[str, str]] = {}
    for key, weight in weights.items():
        if len(key) != 2 or key[0] == key[1]:
            raise ValueError(f"multimodal_clip_loss: a weight's key is a pair (a, b), got {key}")
        pair = key if key in pair_weights else (key[1], key[0])
        if pair in given:
            raise ValueError(f"multimodal_clip_loss: weights give pair {pair} twice: "
                             f"{given[pair]} and {key}")
        given[pair] = key
        pair_weights[pair] = check_weight(weight, f"weight of {key}")
    if not sum(pair_weights.values()) > 0:
        raise ValueError(f"multimodal_clip_loss: the weights sum to 0: {pair_weights}")
    return pair_weights


def _both_present(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    """The rows that have both modalities; ``None`` (every row) for an always-present one."""
    if a is None:
        return b
    if b is None:
        return a
    return a & b


class LearnableScale(nn.Module):
    r"""The learnable inverse temperature of CLIP and SigLIP: ``forward()`` is
    :math:`t = \exp(\log t)`, with the parameter ``log_scale`` initialised to
    :math:`\log(1/\tau_0)` and clipped so that :math:`t \le` ``max_scale``.

    CLIP (Radford et al. 2021, Sec. 2.5) initialises :math:`\tau_0 = 0.07` and clips :math:`t` at
    100; SigLIP (Zhai et al. 2023, Sec. 3.2) initialises :math:`t' = \log 10` (:math:`\tau_0 =
    0.1`) and a learnable bias :math:`b = -10`: ``LearnableScale(0.1, bias=-10.0)``, whose
    ``.bias`` is then passed to :func:`siglip_loss`. Without ``bias``, ``.bias`` is ``None``.

    The clip is applied to the parameter itself, in place, at each ``forward`` (as CLIP's
    training loop clamps it after each step) rather than to the output: a clamped output would
    have zero gradient, and a parameter past the bound could never come back.

    Args:
        init_temperature: :math:`\tau_0 > 0`.
        max_scale: the largest :math:`t`, ``> 0``.
        bias: initial bias (SigLIP), or ``None`` for no bias parameter.

    Example:
        >>> temperature = LearnableScale()
        >>> loss = clip_loss(torch.randn(8, 16), torch.randn(8, 16), temperature())
    """

    def __init__(
        self, init_temperature: float = 0.07, max_scale: float = 100.0, bias: float | None = None
    ) -> None:
        super().__init__()
        if not init_temperature > 0:
            raise SelfsupError(f"temperature must be positive, got {init_temperature}")
        if not max_scale > 0:
            raise SelfsupError(f"max_scale must be positive, got {max_scale}")
        self.max_scale = float(max_scale)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)))
        self.bias = None if bias is None else nn.Parameter(torch.tensor(float(bias)))

    def forward(self) -> Tensor:
        with torch.no_grad():
            self.log_scale.clamp_(max=math.log(self.max_scale))
        return self.log_scale.exp()

    def extra_repr(self) -> str:
        return f"max_scale={self.max_scale}, bias={self.bias is not None}"
