"""SimCLR-like contrastive methods that differ from SimCLR in the loss.

Each is SimCLR's pipeline (random views, shared encoder :math:`f`, projection head :math:`g`)
with another member of the InfoNCE family from :mod:`selfsup.losses.contrastive_variants`:
DCL / DCLW, Debiased Contrastive Learning, MV-InfoNCE (more than two views) and SupCon (the
supervised reference, trained on labels). The shared pipeline, temperature included, is
:class:`~selfsup.methods.projected_views.ProjectedViews`. iSogCLR (per-sample learned
temperatures) is in :mod:`selfsup.methods.isogclr` and importable from here too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.losses.contrastive_variants import (
    dcl_loss,
    debiased_contrastive_loss,
    mv_infonce_loss,
    supcon_loss,
    vmf_weights,
)
from selfsup.methods.isogclr import ISogCLR
from selfsup.methods.projected_views import ProjectedViews, positive_cosine
from selfsup.registry import METHODS
from selfsup.validate import check_positive

__all__ = ["DCL", "DCLW", "DebiasedContrastive", "ISogCLR", "MVInfoNCE", "SupCon"]


@METHODS.register(
    "dcl", family="contrastive", paper="Yeh et al. 2022, Decoupled Contrastive Learning"
)
class DCL(ProjectedViews):
    r"""DCL, Decoupled Contrastive Learning (Yeh, Hong, Hsu, Liu, Chen, LeCun 2022, ECCV).

    SimCLR with the positive pair removed from the InfoNCE denominator (eq. 6,
    :func:`~selfsup.losses.contrastive_variants.dcl_loss`):

    .. math::
        \ell^{(k)}_i = -\langle z^{(1)}_i, z^{(2)}_i\rangle/\tau
            + \log \sum_{l \in \{1,2\},\, j \ne i} \exp(\langle z^{(k)}_i, z^{(l)}_j\rangle/\tau)

    The paper shows NT-Xent's gradient is scaled by a "negative-positive coupling" factor
    that becomes small for easy positives or few negatives; removing the positive from the
    denominator removes it, which makes the loss less sensitive to batch size.

    Args:
        encoder: any module mapping ``batch["x"]`` to ``[B, D]`` with ``output_dim = D``.
        views: view maker, ``views(batch, 2) -> [view_1, view_2]``.
        projector_hidden_dim: hidden width of the projection head :math:`g`.
        projector_dim: output width of :math:`g`.
        temperature: :math:`\tau`.

    Paper defaults vs. library defaults:
        * SimCLR's projection head and augmentations (the paper changes only the loss).
          Library: hidden 512, output 128, as :class:`~selfsup.methods.SimCLR`.
        * temperature 0.1 (the paper's ImageNet setting and the authors' code default).
          Library: 0.1.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        temperature: float = 0.1,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z1, z2 = self.project(batch)
        loss = dcl_loss(z1, z2, self.temperature)
        return {"loss": loss, "positive_cosine": positive_cosine(z1, z2)}


@METHODS.register(
    "dclw", family="contrastive", paper="Yeh et al. 2022, Decoupled Contrastive Learning"
)
class DCLW(DCL):
    r"""DCLW, weighted Decoupled Contrastive Learning (Yeh et al. 2022, ECCV).

    :class:`DCL` with the positive term of each pair weighted by a negative von Mises-Fisher
    weight (:func:`~selfsup.losses.contrastive_variants.vmf_weights`):

    .. math::
        w_i = 2 - \frac{\exp(\langle z^{(1)}_i, z^{(2)}_i\rangle/\sigma)}
                      {\mathbb{E}_j[\exp(\langle z^{(1)}_j, z^{(2)}_j\rangle/\sigma)]},
        \qquad \ell^{(k)}_i = -w_i\langle z^{(1)}_i, z^{(2)}_i\rangle/\tau + \log\sum\cdots

    The expectation is over the positive pairs of the (global) batch, so the weights average
    to 1 and pairs whose views are far apart (hard positives) pull harder.

    Args:
        encoder, views, projector_hidden_dim, projector_dim, temperature: as :class:`DCL`.
        sigma: :math:`\sigma` of the weighting function.

    Paper defaults vs. library defaults:
        * :math:`\sigma = 0.5` (the paper's choice for DCLW, also the authors' code). Library: 0.5.
        * temperature and head as :class:`DCL`. Library: 0.1, hidden 512, output 128.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        temperature: float = 0.1,
        sigma: float = 0.5,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)
        check_positive(sigma=sigma)
        self.sigma = sigma

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z1, z2 = self.project(batch)
        weights = vmf_weights(z1, z2, self.sigma)
        loss = dcl_loss(z1, z2, self.temperature, weights=weights)
        return {
            "loss": loss,
            "positive_cosine": positive_cosine(z1, z2),
            "weight_min": weights.min(),
        }


@METHODS.register(
    "debiased", family="contrastive", paper="Chuang et al. 2020, Debiased Contrastive Learning"
)
class DebiasedContrastive(ProjectedViews):
    r"""Debiased Contrastive Learning (Chuang, Robinson, Lin, Torralba, Jegelka 2020, NeurIPS).

    Random "negatives" of an unlabeled batch include samples of the anchor's class with
    probability :math:`\tau^+`. The debiased loss
    (:func:`~selfsup.losses.contrastive_variants.debiased_contrastive_loss`) estimates the
    negative term over *true* negatives by subtracting :math:`\tau^+` times the positive:

    .. math::
        \ell = -\log \frac{e^{s^+/t}}{e^{s^+/t} + N' g},\qquad
        g = \max\Big\{\frac{1}{1-\tau^+}\Big(\frac{1}{N'}\sum_k e^{s^-_k/t}
            - \tau^+ e^{s^+/t}\Big),\; e^{-1/t}\Big\}

    over the :math:`N' = 2N - 2` negatives of each of the :math:`2N` anchors. With
    :math:`\tau^+ = 0` it is SimCLR's NT-Xent.

    Args:
        encoder, views, projector_hidden_dim, projector_dim: as :class:`DCL`.
        temperature: :math:`t`.
        tau_plus: class prior :math:`\tau^+ \in [0, 1)`, the probability that a random sample
            shares the anchor's class (1 / number of classes for balanced data).

    Paper defaults vs. library defaults:
        * :math:`t = 0.5`, :math:`\tau^+ = 0.1` for CIFAR10 (10 balanced classes; the authors'
          code defaults), SimCLR's head with output 128. Library: 0.5, 0.1 (digits also has 10
          balanced classes), hidden 512, output 128.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        temperature: float = 0.5,
        tau_plus: float = 0.1,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)
        if not 0.0 <= tau_plus < 1.0:
            raise ValueError(f"tau_plus must be in [0, 1), got {tau_plus}")
        self.tau_plus = tau_plus

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z1, z2 = self.project(batch)
        loss = debiased_contrastive_loss(z1, z2, self.temperature, self.tau_plus)
        return {"loss": loss, "positive_cosine": positive_cosine(z1, z2)}


@METHODS.register(
    "mv_infonce",
    family="contrastive",
    paper="Koromilas et al. 2025, A Principled Framework for Multi-View Contrastive Learning",
)
class MVInfoNCE(ProjectedViews):
    r"""MV-InfoNCE (Koromilas, Georgiou, Bouritsas, Giannakopoulos, Nicolaou, Panagakis 2025).

    :math:`V > 2` views of every sample, and *one* loss term per sample that aligns all of its
    views at once instead of a sum of pairwise InfoNCE losses
    (:func:`~selfsup.losses.contrastive_variants.mv_infonce_loss`):

    .. math::
        \ell_i = -\log \frac{\sum_{l}\sum_{l' \ne l} e^{U_{i,l}^\top U_{i,l'}/\tau}}
            {\sum_{l}\sum_{(j,m) \ne (i,l)} e^{U_{i,l}^\top U_{j,m}/\tau}},\qquad U = g(f(x))

    With ``num_views=2`` it is InfoNCE with the arithmetic mean of the two anchors' NT-Xent
    denominators (NT-Xent takes their geometric mean), so it is never below NT-Xent and equals
    it when both views of every sample see the same denominator.

    Args:
        encoder, views, projector_hidden_dim, projector_dim: as :class:`DCL`.
        num_views: :math:`V \ge 2` views per sample.
        temperature: :math:`\tau`.

    Paper defaults vs. library defaults:
        * :math:`V = 4` (the main multi-view results), :math:`\tau = 0.5` with batch 256 on
          CIFAR (the authors' ``cifar_train_epochs200_bs256_05`` config), SimCLR's head.
          Library: 4 views, 0.5, hidden 512, output 128.
    """

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        num_views: int = 4,
        temperature: float = 0.5,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)
        if not (isinstance(num_views, int) and num_views >= 2):
            raise ValueError(f"num_views must be an integer >= 2, got {num_views}")
        self.num_views = num_views

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z = self.project(batch, self.num_views)
        loss = mv_infonce_loss(z, self.temperature)
        return {"loss": loss, "positive_cosine": positive_cosine(z[0], z[1])}


@METHODS.register(
    "supcon", family="contrastive", paper="Khosla et al. 2020, Supervised Contrastive Learning"
)
class SupCon(ProjectedViews):
    r"""SupCon, Supervised Contrastive Learning (Khosla et al. 2020, NeurIPS): the labelled
    reference point of the contrastive family. It trains on ``batch["y"]``.

    Every view of the same class is a positive (:math:`L^{sup}_{out}`, eq. 2,
    :func:`~selfsup.losses.contrastive_variants.supcon_loss`):

    .. math::
        \mathcal{L} = \sum_{i} \frac{-1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{\exp(z_i \cdot z_p/\tau)}{\sum_{a \in A(i)} \exp(z_i \cdot z_a/\tau)}

    over the :math:`2N` views (mean over anchors here). With one positive per anchor it is
    SimCLR's NT-Xent.

    Args:
        encoder, views, projector_hidden_dim, projector_dim: as :class:`DCL`.
        temperature: :math:`\tau`.

    Paper defaults vs. library defaults:
        * :math:`\tau = 0.1` (the paper's choice; the authors' code defaults to 0.07 and
          rescales the loss by :math:`\tau / 0.07`, which only changes its scale), projection
          ``2048 -> 128``, batch 6144 with LARS. Library: 0.1, hidden 512, output 128, no
          rescaling.
    """

    uses_labels = True

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        temperature: float = 0.1,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim, temperature)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        if "y" not in batch:
            raise KeyError('SupCon is supervised: it needs the labels batch["y"].')
        z1, z2 = self.project(batch)
        labels = torch.as_tensor(batch["y"], device=z1.device).reshape(-1)
        loss = supcon_loss(z1, z2, labels, self.temperature)
        return {"loss": loss, "positive_cosine": positive_cosine(z1, z2)}
