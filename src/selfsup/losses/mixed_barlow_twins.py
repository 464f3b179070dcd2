"""Mixed Barlow Twins: the Barlow Twins loss plus a regulariser on mixed samples.

Like :mod:`selfsup.losses.barlow_twins`, every statistic is taken over the *global* batch,
gathered with the autograd-aware :func:`selfsup.nn.gather.gather`, so ``W`` processes with
``B`` samples each give the loss and gradients of one process with ``W * B`` samples.
"""

from __future__ import annotations

import torch
from torch import Tensor

from selfsup.losses.barlow_twins import gathered_barlow_twins_terms
from selfsup.nn.gather import gather
from selfsup.validate import check_pair

MIXED_STANDARDIZATIONS = ("shared", "own")


def mixed_barlow_regularizer(
    z1: Tensor,
    z2: Tensor,
    z_mixed: Tensor,
    lam: float | Tensor,
    perm: Tensor,
    standardization: str = "shared",
    eps: float = 1e-5,
) -> Tensor:
    r"""The mixed-sample regulariser of Mixed Barlow Twins (Bandara, De Melo, Patel 2023,
    "Guarding Barlow Twins Against Overfitting with Mixed Samples", Section 3).

    The mixed input :math:`x^M_b = \lambda x^A_b + (1 - \lambda) x^B_{\pi(b)}` should have
    the embedding :math:`\lambda Z^A_b + (1 - \lambda) Z^B_{\pi(b)}`; the regulariser asks
    for the cross-correlations this linearity implies:

    .. math::
        R = \| C^{MA} - C^{MA}_{gt} \|_F^2 + \| C^{MB} - C^{MB}_{gt} \|_F^2, \qquad
        C^{MA} = \tfrac{1}{N} (Z^M)^\top Z^A, \\
        C^{MA}_{gt} = \tfrac{1}{N} \big[\lambda (Z^A)^\top Z^A
                      + (1 - \lambda) (\pi Z^B)^\top Z^A\big], \qquad
        C^{MB}_{gt} = \tfrac{1}{N} \big[\lambda (Z^A)^\top Z^B
                      + (1 - \lambda) (\pi Z^B)^\top Z^B\big]

    with :math:`Z` the batch-standardised embeddings. How :math:`Z^M` is standardised:

    * ``"shared"`` (default): each view is centred with its own batch mean, the mixed batch
      with the interpolated mean :math:`\lambda \mu^A + (1 - \lambda) \mu^B`, and all three are
      divided by the views' pooled per-dimension standard deviation. Standardisation is then
      one affine map that commutes with the interpolation, so :math:`R = 0` exactly when the
      mixed embedding *is* the interpolation (a linear encoder) — the paper's premise.
    * ``"own"``: every batch with its own mean and standard deviation, as the released code
      (``main.py``) does; then even a linear encoder pays a non-zero :math:`R`, because the
      interpolation of two standardised batches does not have unit variance.

    ``lam`` may be one value or one per sample (``[B]``). Distributed: every input is
    gathered (``z2[perm]`` is taken locally first, so rows stay aligned), so ``R`` is a
    global statistic, the same on every process; each process may draw its own
    :math:`\lambda` and :math:`\pi` — the per-sample form covers the gathered batch exactly.

    Args:
        z1: ``[B, D]`` projections of view A.
        z2: ``[B, D]`` projections of view B.
        z_mixed: ``[B, D]`` projections of the mixed inputs.
        lam: mixing coefficient in ``[0, 1]``, a float or a ``[B]`` tensor.
        perm: ``[B]`` permutation (long): row ``b`` of the mixed batch mixes sample ``b``
            of view A with sample ``perm[b]`` of view B.
        standardization: ``"shared"`` or ``"own"`` (see above).
        eps: added to variances before the square root.

    Returns:
        Scalar :math:`R` (unweighted).
    """
    lam, perm = _mixed_inputs(z1, z2, z_mixed, lam, perm, standardization)
    return _mixed_regularizer(gather(z1), gather(z2), *_gather_mixed(z2, z_mixed, lam, perm),
                              standardization, eps)


def _mixed_inputs(
    z1: Tensor, z2: Tensor, z_mixed: Tensor, lam: float | Tensor, perm: Tensor, standardization: str
) -> tuple[Tensor, Tensor]:
    """Check the regulariser's inputs; return ``lam`` as ``[B]`` and ``perm`` as a tensor."""
    check_pair("mixed_barlow_regularizer", z1, z2)
    check_pair("mixed_barlow_regularizer", z1, z_mixed)
    if standardization not in MIXED_STANDARDIZATIONS:
        raise ValueError(f"standardization must be one of {MIXED_STANDARDIZATIONS}, "
                         f"got {standardization!r}")
    batch = z1.shape[0]
    if isinstance(lam, (int, float)) and not 0.0 <= lam <= 1.0:
        raise ValueError(f"mixing coefficient lam must be in [0, 1], got {lam}")
    lam = torch.as_tensor(lam, dtype=z1.dtype, device=z1.device)
    lam = lam.expand(batch) if lam.dim() == 0 else lam
    perm = torch.as_tensor(perm, device=z1.device)
    if lam.shape != (batch,) or perm.shape != (batch,):
        raise ValueError(f"lam must be a scalar or [{batch}] and perm [{batch}], got "
                         f"{tuple(lam.shape)} and {tuple(perm.shape)}")
    return lam, perm


def _gather_mixed(
    z2: Tensor, z_mixed: Tensor, lam: Tensor, perm: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Global partner rows ``z2[perm]``, mixed projections ``[N, D]`` and ``lam`` ``[N, 1]``.

    ``z2[perm]`` is taken locally first: ``perm`` indexes this process's rows.
    """
    return gather(z2[perm]), gather(z_mixed), gather(lam.contiguous()).unsqueeze(1)


def _mixed_regularizer(
    z1: Tensor, z2: Tensor, partner: Tensor, z_mixed: Tensor, lam: Tensor, standardization: str,
    eps: float,
) -> Tensor:
    """:func:`mixed_barlow_regularizer` of the global batch, already gathered (all ``[N, ·]``)."""
    n = z1.shape[0]
    mean1, mean2 = z1.mean(0), z2.mean(0)
    var1, var2 = z1.var(0, unbiased=False), z2.var(0, unbiased=False)
    if standardization == "own":
        scale1, scale2 = torch.sqrt(var1 + eps), torch.sqrt(var2 + eps)
        mixed = (z_mixed - z_mixed.mean(0)) / torch.sqrt(z_mixed.var(0, unbiased=False) + eps)
    else:
        scale1 = scale2 = torch.sqrt((var1 + var2) / 2 + eps)
        mixed = (z_mixed - (lam * mean1 + (1 - lam) * mean2)) / scale1
    a = (z1 - mean1) / scale1
    b = (z2 - mean2) / scale2
    b_partner = (partner - mean2) / scale2
    # C^{MV} - C^{MV}_gt = (Z^M - [lam Z^A + (1 - lam) pi Z^B])^T Z^V / N, for V = A, B.
    residual = mixed - (lam * a + (1 - lam) * b_partner)  # [N, D]
    return (residual.T @ a / n).pow(2).sum() + (residual.T @ b / n).pow(2).sum()


def mixed_barlow_twins_terms(
    z1: Tensor,
    z2: Tensor,
    z_mixed: Tensor,
    lam: float | Tensor,
    perm: Tensor,
    lambda_offdiag: float = 5e-3,
    mixup_weight: float = 4.0,
    standardization: str = "shared",
    eps: float = 1e-5,
) -> dict[str, Tensor]:
    r"""Mixed Barlow Twins loss and its terms (Bandara et al. 2023):

    .. math::
        \mathcal{L} = \mathcal{L}_{BT}(Z^A, Z^B) + \lambda_{reg}\, \lambda_{BT}\, R

    with :math:`\mathcal{L}_{BT}` from :func:`~selfsup.losses.barlow_twins.barlow_twins_terms` and :math:`R` from
    :func:`mixed_barlow_regularizer`. The regulariser is scaled by :math:`\lambda_{BT}`
    (``lambda_offdiag``) as in the released code: like the off-diagonal term it sums
    :math:`D^2` squared correlations.

    Args:
        z1, z2, z_mixed, lam, perm, standardization, eps: see
            :func:`mixed_barlow_regularizer`.
        lambda_offdiag: :math:`\lambda_{BT}`.
        mixup_weight: :math:`\lambda_{reg}` (4 for CIFAR-10/100 and TinyImageNet, 2 for
            STL-10 in the released code's ResNet-18/50 recipes).

    Returns:
        ``{"loss", "on_diagonal", "off_diagonal", "mixup"}``; ``mixup`` is :math:`R`.
    """
    check_pair("barlow_twins_loss", z1, z2)
    lam, perm = _mixed_inputs(z1, z2, z_mixed, lam, perm, standardization)
    # Both terms use the global z1 and z2: gather them once.
    z1_all, z2_all = gather(z1), gather(z2)
    terms = gathered_barlow_twins_terms(z1_all, z2_all, lambda_offdiag, eps)
    mixup = _mixed_regularizer(z1_all, z2_all, *_gather_mixed(z2, z_mixed, lam, perm),
                               standardization, eps)
    return {**terms, "loss": terms["loss"] + mixup_weight * lambda_offdiag * mixup,
            "mixup": mixup}


def mixed_barlow_twins_loss(
    z1: Tensor,
    z2: Tensor,
    z_mixed: Tensor,
    lam: float | Tensor,
    perm: Tensor,
    lambda_offdiag: float = 5e-3,
    mixup_weight: float = 4.0,
    standardization: str = "shared",
    eps: float = 1e-5,
) -> Tensor:
    """Scalar Mixed Barlow Twins loss; see :func:`mixed_barlow_twins_terms`.

    Example:
        >>> z1, z2, zm = torch.randn(32, 64), torch.randn(32, 64), torch.randn(32, 64)
        >>> loss = mixed_barlow_twins_loss(z1, z2, zm, 0.3, torch.randperm(32))
    """
    return mixed_barlow_twins_terms(
        z1, z2, z_mixed, lam, perm, lambda_offdiag, mixup_weight, standardization, eps
    )["loss"]
