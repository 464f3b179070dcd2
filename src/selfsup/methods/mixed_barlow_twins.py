"""Mixed Barlow Twins: Barlow Twins plus a regulariser on inputs mixed between the two views."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.losses.mixed_barlow_twins import MIXED_STANDARDIZATIONS, mixed_barlow_twins_terms
from selfsup.methods.base import Method, detach_logs
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS
from selfsup.validate import check_positive


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
    :func:`selfsup.losses.mixed_barlow_twins.mixed_barlow_regularizer`):

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
        return {**detach_logs(terms), "lam": torch.tensor(lam, device=z1.device)}


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
