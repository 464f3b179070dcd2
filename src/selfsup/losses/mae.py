"""MAE's reconstruction loss (He et al. 2022, Section 3, "Reconstruction target"): mean squared
error between predicted and true token content on the **masked** tokens only, optionally
against per-token normalised targets (``norm_pix_loss``, :func:`normalize_tokens`).

A per-sample average over a fixed number of tokens per sample (the masks of a batch keep the
same count for every sample), so the mean over a global batch equals the mean of the
per-process means: under DDP no gathering is needed.
"""

from __future__ import annotations

import torch


def normalize_tokens(target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Standardise each token over its content: ``(t - mean) / sqrt(var + eps)``, ``[..., P]``.

    As MAE's ``norm_pix_loss`` (unbiased variance over the ``P`` values of a patch).
    """
    if target.shape[-1] < 2:
        raise ValueError("per-token normalisation needs at least 2 values per token")
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True)
    return (target - mean) / (var + eps).sqrt()


def mae_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, norm_target: bool = True
) -> torch.Tensor:
    r"""MAE reconstruction loss on the masked tokens.

    .. math::
        \mathcal{L} = \frac{1}{\sum_{b,i} m_{bi}} \sum_{b,i} m_{bi}\,
                      \frac{1}{P} \lVert \hat x_{bi} - \tilde x_{bi} \rVert_2^2,
        \qquad \tilde x_{bi} = \frac{x_{bi} - \mu(x_{bi})}{\sqrt{\sigma^2(x_{bi}) + 10^{-6}}}

    with :math:`\tilde x = x` when ``norm_target`` is False.

    Args:
        pred: predicted token content ``[B, N, P]``.
        target: true token content ``[B, N, P]`` (the encoder's ``token_targets``).
        mask: ``[B, N]``, True (or 1) where the token was masked; only those count.
        norm_target: normalise every target token by its own mean and variance.

    Returns:
        scalar loss.

    Example:
        >>> loss = mae_loss(decoder_out, encoder.token_targets(x), mask)
    """
    if pred.shape != target.shape or mask.shape != pred.shape[:2]:
        raise ValueError(
            f"mae_loss needs pred and target [B, N, P] and mask [B, N]; got {tuple(pred.shape)}, "
            f"{tuple(target.shape)}, {tuple(mask.shape)}"
        )
    if norm_target:
        target = normalize_tokens(target)
    per_token = (pred - target).pow(2).mean(dim=-1)
    weight = mask.to(per_token.dtype)
    return (per_token * weight).sum() / weight.sum().clamp_min(1.0)
