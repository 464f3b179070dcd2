"""Redundancy-reduction methods: decorrelate (or whiten) embedding dimensions instead of
using negatives — Barlow Twins, VICReg, W-MSE, Mixed Barlow Twins — and SimSiam, the
negative-free siamese baseline these methods are compared with (registered under the
"self-distillation" family, where it is usually classed)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.losses.redundancy import (
    MIXED_STANDARDIZATIONS,
    barlow_twins_terms,
    mixed_barlow_twins_terms,
    simsiam_loss,
    vicreg_terms,
)
from selfsup.losses.whitening import wmse_loss
from selfsup.methods.base import Method
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS


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


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")


@METHODS.register(
    "simsiam",
    family="self-distillation",
    paper="Chen & He 2021, Exploring Simple Siamese Representation Learning",
)
class SimSiam(Method):
    r"""SimSiam (Chen & He 2021, CVPR).

    Both views go through the same encoder and projector :math:`f`; a predictor :math:`h`
    maps one view's projection onto the other's, which is a stop-gradient target — no
    negatives, no momentum encoder (eq. 4, Algorithm 1):

    .. math::
        \mathcal{L} = \tfrac12 \mathcal{D}(p_1, \mathrm{stopgrad}(z_2))
                    + \tfrac12 \mathcal{D}(p_2, \mathrm{stopgrad}(z_1)), \qquad
        \mathcal{D}(p, z) = -\frac{p}{\|p\|_2} \cdot \frac{z}{\|z\|_2}

    with :math:`z = f(x)`, :math:`p = h(z)`. Logs ``output_std``, the per-dimension standard
    deviation of the l2-normalised projections averaged over dimensions — the collapse
    monitor of Section 4.1: about :math:`1/\sqrt{d}` for well-spread outputs, 0 when
    collapsed.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: width of the projector's two hidden layers.
        projector_dim: :math:`d`, output width of projector and predictor.
        predictor_hidden_dim: the predictor's bottleneck width.

    Paper defaults vs. library defaults (Section 3, "Baseline settings"):
        * projector: 3 layers, hidden 2048 and output 2048, BN after every layer including
          the output (no ReLU there; an affine-free BN as in the released code). Library:
          same structure, hidden and output 1024 (half the width for a CPU budget).
        * predictor: ``Linear(512)-BN-ReLU-Linear(2048)``, a bottleneck of d/4. Library:
          256 for d = 1024 (the same ratio).
        * SGD, lr 0.05 x batch/256, weight decay 1e-4, batch 512, a fixed learning rate for
          the predictor; the engine chooses the optimiser and schedules all parameters alike
          (Table 1: fixed vs. decayed predictor lr is 68.1 vs. 67.7).
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 1024,
        projector_dim: int = 1024,
        predictor_hidden_dim: int = 256,
    ) -> None:
        super().__init__(encoder, views)
        _check_positive(projector_hidden_dim=projector_hidden_dim, projector_dim=projector_dim,
                        predictor_hidden_dim=predictor_hidden_dim)
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=3,
                             last_batch_norm=True)
        self.predictor = MLP(projector_dim, predictor_hidden_dim, projector_dim, num_layers=2)

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        v1, v2 = self.views(batch, 2)
        z1 = self.projector(self.encoder(v1["x"]))
        z2 = self.projector(self.encoder(v2["x"]))
        p1, p2 = self.predictor(z1), self.predictor(z2)
        # Symmetrised loss; simsiam_loss detaches its target (the stop-gradient).
        loss = 0.5 * simsiam_loss(p1, z2) + 0.5 * simsiam_loss(p2, z1)
        with torch.no_grad():
            output_std = F.normalize(z1, dim=1).std(dim=0).mean()
        return {"loss": loss, "output_std": output_std}


@METHODS.register(
    "wmse",
    family="redundancy reduction",
    paper="Ermolov et al. 2021, Whitening for Self-Supervised Representation Learning",
)
class WMSE(Method):
    r"""W-MSE (Ermolov, Siarohin, Sangineto, Sebe 2021, ICML).

    ``num_views`` = d views of every sample are projected, whitened (Cholesky, per
    sub-batch of ``w_size`` samples, over ``w_iter`` random partitions) and every pair of
    views is pulled together with the MSE of the l2-normalised whitened embeddings; the
    whitening keeps the batch from collapsing (see :func:`selfsup.losses.whitening.wmse_loss`):

    .. math::
        \mathcal{L} = \frac{1}{\binom{d}{2}} \sum_{i < j} \frac{1}{N} \sum_b
            \big\| \overline{W(z^i)}_b - \overline{W(z^j)}_b \big\|_2^2

    ``num_views = 2`` is the paper's W-MSE 2, ``num_views = 4`` its W-MSE 4. The whitening
    statistics are per process, not gathered (the paper whitens sub-batches; the module
    docstring of :mod:`selfsup.losses.whitening` says why that needs no gather): every
    process needs a batch of at least ``w_size`` samples.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, num_views)``.
        projector_hidden_dim: hidden width of the projector ``Linear-BN-ReLU-Linear``.
        projector_dim: embedding size that is whitened; must be below ``w_size``.
        num_views: d, positives per sample (all d(d-1)/2 pairs are used).
        w_size: whitening sub-batch size.
        w_iter: random sub-batch partitions per step, averaged.
        eps: whitening shrinkage :math:`(1 - \epsilon)\Sigma + \epsilon I`.

    Paper defaults vs. library defaults (Section 4 and the released code's recipes):
        * projector: one hidden layer of 1024 with BN and ReLU; embedding 64 for
          CIFAR-10/100, 128 for STL-10 and Tiny ImageNet. Library: 1024, 64.
        * ``w_size`` 128 for CIFAR (256 for STL-10 / Tiny ImageNet), always twice the
          embedding size; ``w_iter`` 1 (4 for W-MSE 2 on STL-10 / Tiny ImageNet);
          ``eps`` = 1e-4 (the code's ``w_eps``). Library: same as CIFAR.
        * ``num_views`` 2 or 4 (W-MSE 4 is better, Table 1, at twice the encoder cost).
          Library: 2.
        * Adam, lr 3e-3 (CIFAR) / 2e-3, weight decay 1e-6, batch 256 (W-MSE 4) to 1024;
          the engine chooses the optimiser.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 1024,
        projector_dim: int = 64,
        num_views: int = 2,
        w_size: int = 128,
        w_iter: int = 1,
        eps: float = 1e-4,
    ) -> None:
        super().__init__(encoder, views)
        _check_positive(projector_hidden_dim=projector_hidden_dim, projector_dim=projector_dim,
                        w_iter=w_iter)
        if num_views < 2:
            raise ValueError(f"num_views must be >= 2 (pairs of positives), got {num_views}")
        if w_size <= projector_dim:
            raise ValueError(
                f"w_size ({w_size}) must exceed projector_dim ({projector_dim}): a sub-batch "
                "of fewer samples than dimensions has a singular covariance and cannot be "
                "whitened (the paper uses w_size = 2 * projector_dim)"
            )
        if not 0.0 <= eps < 1.0:
            raise ValueError(f"eps must be in [0, 1), got {eps}")
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=2)
        self.num_views = num_views
        self.w_size = w_size
        self.w_iter = w_iter
        self.eps = eps

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        views = self.views(batch, self.num_views)
        z = [self.projector(self.encoder(v["x"])) for v in views]
        loss = wmse_loss(z, self.w_size, self.w_iter, self.eps)
        return {"loss": loss}


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
    :func:`selfsup.losses.redundancy.mixed_barlow_regularizer`):

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
        _check_positive(projector_hidden_dim=projector_hidden_dim, projector_dim=projector_dim,
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
