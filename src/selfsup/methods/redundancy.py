"""Redundancy-reduction methods: decorrelate embedding dimensions instead of using
negatives — Barlow Twins, VICReg and Mixed Barlow Twins.

W-MSE, which whitens them, is in :mod:`selfsup.methods.whitening`; SimSiam, the negative-free
siamese baseline these methods are compared with, is beside BYOL in
:mod:`selfsup.methods.distillation`. Both stay importable from here."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.losses.mixed_barlow import MIXED_STANDARDIZATIONS, mixed_barlow_twins_terms
from selfsup.losses.redundancy import barlow_twins_terms, vicreg_terms
from selfsup.methods.base import Method
from selfsup.methods.distillation import SimSiam
from selfsup.methods.whitening import WMSE
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS
from selfsup.validate import check_positive

__all__ = ["WMSE", "BarlowTwins", "MixedBarlowTwins", "SimSiam", "VICReg"]


def _detached(terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # "loss" keeps its graph for the optimiser; the components are for logging only.
    return {k: (v if k == "loss" else v.detach()) for k, v in terms.items()}


@METHODS.register(
    "barlow_twins",
    family="redundancy reduction",
    paper="Zbontar et al. 2021, Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
)
class BarlowTwins(Method):
    r"""Barlow Twins (Zbontar, Jing, Misra, LeCun, Deny 2021).

    The cross-correlation matrix :math:`\mathcal{C}` of the batch-standardised projections of
    two views, computed over the global batch, is pushed towards the identity (eq. 1):

    .. math::
        \mathcal{L} = \sum_i (1 - \mathcal{C}_{ii})^2
                    + \lambda \sum_i \sum_{j \ne i} \mathcal{C}_{ij}^2

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: width of the two hidden layers of the projector.
        projector_dim: output width of the projector.
        lambda_offdiag: :math:`\lambda`, weight of the redundancy-reduction term.

    Paper defaults vs. library defaults (Section 2, "Implementation details"):
        * projector: three linear layers of 8192 units, BN + ReLU after the first two.
          Library: 2048-2048-2048 (the paper's projector-width ablation finds accuracy still
          rising with width, so narrow projectors trade some accuracy for speed).
        * :math:`\lambda = 5 \cdot 10^{-3}`. Library: same.
        * batch 2048 with LARS, 1000 epochs; the engine chooses the optimiser.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 2048,
        projector_dim: int = 2048,
        lambda_offdiag: float = 5e-3,
    ) -> None:
        super().__init__(encoder, views)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=3)
        self.lambda_offdiag = lambda_offdiag

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        z1 = self.projector(self.encoder(v1["x"]))
        z2 = self.projector(self.encoder(v2["x"]))
        return _detached(barlow_twins_terms(z1, z2, self.lambda_offdiag))


@METHODS.register(
    "vicreg",
    family="redundancy reduction",
    paper="Bardes et al. 2022, VICReg: Variance-Invariance-Covariance Regularization for "
    "Self-Supervised Learning",
)
class VICReg(Method):
    r"""VICReg (Bardes, Ponce, LeCun 2022).

    Three terms on the "expander" outputs :math:`Z, Z'` of two views (eq. 6):

    .. math::
        \ell = \lambda\, s(Z, Z') + \mu\, [v(Z) + v(Z')] + \nu\, [c(Z) + c(Z')]

    invariance :math:`s` (MSE between paired embeddings), variance :math:`v` (hinge keeping
    each dimension's standard deviation above :math:`\gamma`, eq. 1) and covariance
    :math:`c` (squared off-diagonal covariances / d, eq. 4); variance and covariance are
    computed over the global batch. The three unweighted terms are returned for logging.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: width of the two hidden layers of the expander.
        projector_dim: output width of the expander.
        invariance_weight: :math:`\lambda`.
        variance_weight: :math:`\mu`.
        covariance_weight: :math:`\nu`.

    Paper defaults vs. library defaults (the paper's ImageNet implementation details):
        * expander: three linear layers of 8192 units, BN + ReLU after the first two.
          Library: 2048-2048-2048.
        * :math:`\lambda = \mu = 25`, :math:`\nu = 1`, :math:`\gamma = 1`,
          :math:`\epsilon = 10^{-4}`. Library: same (eq. 6 as written; the released code
          halves the variance term, see :func:`selfsup.losses.redundancy.vicreg_terms`).
        * batch 2048 with LARS, 1000 epochs; the engine chooses the optimiser.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 2048,
        projector_dim: int = 2048,
        invariance_weight: float = 25.0,
        variance_weight: float = 25.0,
        covariance_weight: float = 1.0,
    ) -> None:
        super().__init__(encoder, views)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=3)
        self.invariance_weight = invariance_weight
        self.variance_weight = variance_weight
        self.covariance_weight = covariance_weight

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        z1 = self.projector(self.encoder(v1["x"]))
        z2 = self.projector(self.encoder(v2["x"]))
        terms = vicreg_terms(
            z1,
            z2,
            invariance_weight=self.invariance_weight,
            variance_weight=self.variance_weight,
            covariance_weight=self.covariance_weight,
        )
        return _detached(terms)


@METHODS.register(
    "mixed_barlow_twins",
    family="redundancy reduction",
    paper="Bandara et al. 2023, Guarding Barlow Twins Against Overfitting with Mixed Samples",
)
class MixedBarlowTwins(Method):
    r"""Mixed Barlow Twins (Bandara, De Melo, Patel 2023).

    Barlow Twins plus a MixUp regulariser. A third batch mixes the two views,
    :math:`x^M = \lambda x^A + (1 - \lambda) x^B_{\pi}` with
    :math:`\lambda \sim \mathrm{Beta}(\alpha, \alpha)` and a random permutation
    :math:`\pi`, and its cross-correlations with both views must be the
    :math:`\lambda`-interpolation of the views' own (see
    :func:`selfsup.losses.mixed_barlow.mixed_barlow_regularizer`):

    .. math::
        \mathcal{L} = \mathcal{L}_{BT} + \lambda_{reg} \lambda_{BT}
            \big(\| C^{MA} - C^{MA}_{gt} \|_F^2 + \| C^{MB} - C^{MB}_{gt} \|_F^2\big)

    **Input requirement.** This is the one method that does arithmetic on ``batch["x"]``:
    the views' inputs must be floating-point tensors of equal shape (images, time series,
    tabular vectors). Graph batches, token ids or other structures cannot be interpolated;
    the forward pass raises a :class:`~selfsup.errors.SelfsupError` for them (use
    ``barlow_twins``). Other batch keys (``"lengths"``, masks) are taken from view A.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_A, view_B]``.
        projector_hidden_dim: width of the two hidden layers of the projector.
        projector_dim: output width of the projector.
        lambda_offdiag: :math:`\lambda_{BT}`.
        mixup_weight: :math:`\lambda_{reg}`.
        mixup_alpha: :math:`\alpha` of the Beta distribution of :math:`\lambda`.
        standardization: ``"shared"`` (the regulariser vanishes for a linear encoder) or
            ``"own"`` (the released code); see ``mixed_barlow_regularizer``.

    Paper defaults vs. library defaults (the released code's recipes and model table):
        * projector ``Linear(512)-BN-ReLU-Linear(1024)`` (d = 1024, outputs l2-normalised
          before the batch standardisation) with :math:`\lambda_{BT} = 1/128` on CIFAR and
          STL-10; three 8192-wide layers with 0.0051 on ImageNet. Library: the BarlowTwins
          defaults (three layers, 2048 wide, :math:`\lambda_{BT}` = 5e-3).
        * :math:`\lambda_{reg}` = 4 (CIFAR-10/100, TinyImageNet), 2 (STL-10); the ImageNet
          script halves the regulariser, warms :math:`\lambda_{reg}` up over 10 epochs and
          finds 1.0 best. Library: 4, no warm-up.
        * :math:`\lambda \sim \mathrm{Beta}(1, 1)` (uniform). Library: same.
        * ``standardization``: the released code standardises the mixed batch by its own
          statistics ("own"). Library: "shared", which makes the regulariser measure exactly
          the departure from linearity the paper assumes.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 2048,
        projector_dim: int = 2048,
        lambda_offdiag: float = 5e-3,
        mixup_weight: float = 4.0,
        mixup_alpha: float = 1.0,
        standardization: str = "shared",
    ) -> None:
        super().__init__(encoder, views)
        check_positive(projector_hidden_dim=projector_hidden_dim, projector_dim=projector_dim,
                        lambda_offdiag=lambda_offdiag, mixup_alpha=mixup_alpha)
        if mixup_weight < 0:
            raise ValueError(f"mixup_weight must be >= 0, got {mixup_weight}")
        if standardization not in MIXED_STANDARDIZATIONS:
            raise ValueError(f"standardization must be one of {MIXED_STANDARDIZATIONS}, "
                             f"got {standardization!r}")
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=3)
        self.lambda_offdiag = lambda_offdiag
        self.mixup_weight = mixup_weight
        self.mixup_alpha = mixup_alpha
        self.standardization = standardization

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        x1, x2 = v1["x"], v2["x"]
        _check_mixable(x1, x2)
        # lambda ~ Beta(alpha, alpha) and the partner permutation, from torch's RNG (seeded).
        alpha = torch.tensor(float(self.mixup_alpha))
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        perm = torch.randperm(x1.shape[0], device=x1.device)
        x_mixed = lam * x1 + (1.0 - lam) * x2[perm]
        z1 = self.projector(self.encoder(x1))
        z2 = self.projector(self.encoder(x2))
        z_mixed = self.projector(self.encoder(x_mixed))
        terms = mixed_barlow_twins_terms(
            z1, z2, z_mixed, lam, perm, self.lambda_offdiag, self.mixup_weight,
            self.standardization,
        )
        return {**_detached(terms), "lam": torch.tensor(lam, device=z1.device)}


def _check_mixable(x1: Any, x2: Any) -> None:
    for x in (x1, x2):
        if not (isinstance(x, torch.Tensor) and x.is_floating_point()):
            found = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else type(x).__name__
            raise SelfsupError(
                "mixed_barlow_twins interpolates inputs (x_mix = lam * x1 + (1 - lam) * "
                f"x2[perm]) and needs batch['x'] to be a floating-point tensor, got {found}. "
                "Inputs such as graph batches or token ids cannot be mixed: use barlow_twins."
            )
    if x1.shape != x2.shape:
        raise SelfsupError(
            f"mixed_barlow_twins mixes the two views element-wise, but the view maker gave "
            f"shapes {tuple(x1.shape)} and {tuple(x2.shape)}; use views of equal shape."
        )
