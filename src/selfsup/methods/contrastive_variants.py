"""SimCLR-like contrastive methods that differ from SimCLR in the loss.

Each is SimCLR's pipeline (random views, shared encoder :math:`f`, projection head :math:`g`)
with another member of the InfoNCE family from :mod:`selfsup.losses.contrastive_variants`:
DCL / DCLW, Debiased Contrastive Learning, iSogCLR (per-sample learned temperatures),
MV-InfoNCE (more than two views) and SupCon (the supervised reference, trained on labels).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.losses.contrastive_variants import (
    dcl_loss,
    debiased_contrastive_loss,
    isogclr_loss,
    mv_infonce_loss,
    supcon_loss,
    vmf_weights,
)
from selfsup.methods.base import Method
from selfsup.nn.gather import gather
from selfsup.nn.heads import MLP
from selfsup.registry import METHODS


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


class _ProjectedViews(Method):
    """Encoder + SimCLR projection head (``Linear-BN-ReLU-Linear``); subclasses add the loss."""

    def __init__(
        self, encoder: nn.Module, views: nn.Module, projector_hidden_dim: int, projector_dim: int
    ) -> None:
        super().__init__(encoder, views)
        _check(
            projector_hidden_dim > 0 and projector_dim > 0,
            "projector dimensions must be positive, "
            f"got {projector_hidden_dim} and {projector_dim}",
        )
        self.projector = MLP(self.embed_dim, projector_hidden_dim, projector_dim, num_layers=2)

    def project(self, batch: dict[str, Any], num_views: int = 2) -> list[Tensor]:
        """``z = g(f(v))`` for ``num_views`` random views; views are encoded one at a time so
        any batch structure (padded sequences, graph batches) passes through untouched."""
        return [self.projector(self.encoder(view["x"])) for view in self.views(batch, num_views)]


def _positive_cosine(z1: Tensor, z2: Tensor) -> Tensor:
    return F.cosine_similarity(z1, z2, dim=-1).mean().detach()


@METHODS.register(
    "dcl", family="contrastive", paper="Yeh et al. 2022, Decoupled Contrastive Learning"
)
class DCL(_ProjectedViews):
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
        super().__init__(encoder, views, projector_hidden_dim, projector_dim)
        _check(temperature > 0, f"temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z1, z2 = self.project(batch)
        loss = dcl_loss(z1, z2, self.temperature)
        return {"loss": loss, "positive_cosine": _positive_cosine(z1, z2)}


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
        _check(sigma > 0, f"sigma must be > 0, got {sigma}")
        self.sigma = sigma

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z1, z2 = self.project(batch)
        weights = vmf_weights(z1, z2, self.sigma)
        loss = dcl_loss(z1, z2, self.temperature, weights=weights)
        return {
            "loss": loss,
            "positive_cosine": _positive_cosine(z1, z2),
            "weight_min": weights.min(),
        }


@METHODS.register(
    "debiased", family="contrastive", paper="Chuang et al. 2020, Debiased Contrastive Learning"
)
class DebiasedContrastive(_ProjectedViews):
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
        super().__init__(encoder, views, projector_hidden_dim, projector_dim)
        _check(temperature > 0, f"temperature must be > 0, got {temperature}")
        _check(0.0 <= tau_plus < 1.0, f"tau_plus must be in [0, 1), got {tau_plus}")
        self.temperature = temperature
        self.tau_plus = tau_plus

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z1, z2 = self.project(batch)
        loss = debiased_contrastive_loss(z1, z2, self.temperature, self.tau_plus)
        return {"loss": loss, "positive_cosine": _positive_cosine(z1, z2)}


@METHODS.register(
    "isogclr",
    family="contrastive",
    paper="Qiu et al. 2023, Not All Semantics are Created Equal: Contrastive Self-supervised "
    "Learning with Automatic Temperature Individualization",
)
class ISogCLR(_ProjectedViews):
    r"""iSogCLR (Qiu, Hu, Yuan, Zhou, Zhang, Yang 2023, ICML): a temperature per sample, learned.

    The robust global contrastive loss (RGCL) is a KL-constrained DRO over each anchor's
    negatives; its dual gives every sample :math:`i` its own temperature :math:`\tau_i`,
    optimised jointly with the network (:func:`~selfsup.losses.contrastive_variants.isogclr_loss`):

    .. math::
        \min_{w,\ \tau \in [\tau_{min}, \tau_{max}]^n}\ \frac{1}{n}\sum_i \tau_i
            \log \mathbb{E}_{z \in S_i^-} e^{(s(x_i, z) - s(x_i, x_i^+))/\tau_i} + \tau_i\rho

    Algorithm 1, each step, for the samples :math:`i` of the (global) batch:

    1. :math:`u_i \leftarrow (1-\gamma)u_i + \gamma\, g_i` (moving average of the inner mean,
       the SogCLR estimator; :math:`u_i = g_i` on a sample's first visit);
    2. the network takes the gradient :math:`\frac{1}{B}\sum_i \frac{\tau_i}{u_i}\nabla_w g_i`
       (through the engine's optimiser);
    3. :math:`m_i \leftarrow (1-\beta)m_i + \beta\,\mathrm{clip}(\nabla_{\tau_i}F, \pm 3)`,
       :math:`\tau_i \leftarrow \Pi_{[\tau_{min},\tau_{max}]}(\tau_i - \eta\, m_i)`.

    Rare-semantics samples end up with small temperatures, frequent ones with large.

    State: ``temperatures``, ``u`` and ``temperature_velocity`` (:math:`m`) are buffers of size
    ``num_samples`` made by :meth:`prepare` and indexed by ``batch["index"]``; they are in
    ``state_dict``, so checkpoints resume them. Under DDP every process writes the gathered
    rows of the whole global batch, so the buffers stay identical on all processes. They
    change only in training mode.

    Args:
        encoder, views, projector_hidden_dim, projector_dim: as :class:`DCL`.
        tau_init: initial :math:`\tau_i`.
        tau_min, tau_max: the box :math:`[\tau_{min}, \tau_{max}]` for :math:`\tau_i`
            (``tau_min >= 0.03`` keeps :math:`e^{2/\tau}` finite in float32).
        rho: DRO radius :math:`\rho \ge 0`.
        gamma: moving-average weight :math:`\gamma \in (0, 1]`.
        temperature_lr: step size :math:`\eta` of the temperatures.
        temperature_momentum: :math:`\beta \in (0, 1]` of the temperatures' momentum.

    Paper defaults vs. library defaults (authors' unimodal code, CIFAR100 recipe):
        * :math:`\tau_{init} = 0.1`, :math:`[\tau_{min}, \tau_{max}] = [0.05, 1]`,
          :math:`\rho = 0.4`, :math:`\gamma = 0.8`, :math:`\eta = 0.03`, :math:`\beta = 0.5`;
          (LibAUC's ``GCLoss_v1`` uses :math:`\rho = 0.3`, :math:`\gamma = \beta = 0.9`,
          :math:`\eta = 0.01`, :math:`\tau_{max} = 0.7`). Library: the authors' values.
        * SimCLR's head with output 128. Library: hidden 512, output 128.
    """

    _GRAD_CLIP = 3.0  # the authors' clip of the temperature gradient

    def __init__(
        self,
        encoder: nn.Module,
        views: nn.Module,
        projector_hidden_dim: int = 512,
        projector_dim: int = 128,
        tau_init: float = 0.1,
        tau_min: float = 0.05,
        tau_max: float = 1.0,
        rho: float = 0.4,
        gamma: float = 0.8,
        temperature_lr: float = 0.03,
        temperature_momentum: float = 0.5,
    ) -> None:
        super().__init__(encoder, views, projector_hidden_dim, projector_dim)
        _check(
            0.03 <= tau_min <= tau_init <= tau_max,
            f"need 0.03 <= tau_min <= tau_init <= tau_max, got {tau_min}, {tau_init}, {tau_max}",
        )
        _check(rho >= 0, f"rho must be >= 0, got {rho}")
        _check(0 < gamma <= 1, f"gamma must be in (0, 1], got {gamma}")
        _check(temperature_lr >= 0, f"temperature_lr must be >= 0, got {temperature_lr}")
        _check(
            0 < temperature_momentum <= 1,
            f"temperature_momentum must be in (0, 1], got {temperature_momentum}",
        )
        self.tau_init, self.tau_min, self.tau_max = tau_init, tau_min, tau_max
        self.rho, self.gamma = rho, gamma
        self.temperature_lr, self.temperature_momentum = temperature_lr, temperature_momentum
        # Empty until prepare(num_samples); registered now so state_dict always names them.
        self.register_buffer("temperatures", torch.empty(0))
        self.register_buffer("u", torch.empty(0))
        self.register_buffer("temperature_velocity", torch.empty(0))

    def prepare(self, num_samples: int) -> None:
        """Create the per-sample state for ``num_samples`` training samples."""
        _check(num_samples > 0, f"num_samples must be positive, got {num_samples}")
        device = self.u.device
        self.temperatures = torch.full((num_samples,), self.tau_init, device=device)
        self.u = torch.zeros(num_samples, device=device)
        self.temperature_velocity = torch.zeros(num_samples, device=device)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        index = self._index(batch)
        z1, z2 = self.project(batch)
        temperatures = self.temperatures[index]
        out = isogclr_loss(z1, z2, temperatures, self.u[index], self.gamma, self.rho)
        if self.training:
            self._update_state(index, temperatures, out.u, out.temperature_grad)
        return {
            "loss": out.loss,
            "positive_cosine": _positive_cosine(z1, z2),
            "temperature_mean": temperatures.mean(),
        }

    def _index(self, batch: dict[str, Any]) -> Tensor:
        if self.u.numel() == 0:
            raise RuntimeError(
                "ISogCLR keeps per-sample state: call prepare(num_samples) before training."
            )
        if "index" not in batch:
            raise KeyError(
                'ISogCLR needs batch["index"], the position of each sample in the training set.'
            )
        index = torch.as_tensor(batch["index"], device=self.u.device).long()
        if index.numel() and (index.min() < 0 or index.max() >= self.u.numel()):
            raise ValueError(
                f'batch["index"] must lie in [0, {self.u.numel()}) (the num_samples given to '
                f"prepare), got values in [{int(index.min())}, {int(index.max())}]"
            )
        return index

    @torch.no_grad()
    def _update_state(
        self, index: Tensor, temperatures: Tensor, u: Tensor, temperature_grad: Tensor
    ) -> None:
        beta = self.temperature_momentum
        grad = temperature_grad.clamp(-self._GRAD_CLIP, self._GRAD_CLIP)
        velocity = (1 - beta) * self.temperature_velocity[index] + beta * grad
        new_temperatures = (temperatures - self.temperature_lr * velocity).clamp(
            self.tau_min, self.tau_max
        )
        # Every process writes the rows of the whole global batch, so the state stays identical.
        index, u, velocity, new_temperatures = (
            gather(t.contiguous()) for t in (index, u, velocity, new_temperatures)
        )
        # A padded distributed sampler can repeat a sample within a step: keep its first copy, so
        # the write does not depend on the (unspecified) order of duplicate index_put writes.
        keep = _first_occurrences(index)
        self.u[index[keep]] = u[keep].to(self.u.dtype)
        self.temperature_velocity[index[keep]] = velocity[keep].to(self.u.dtype)
        self.temperatures[index[keep]] = new_temperatures[keep].to(self.u.dtype)


def _first_occurrences(index: Tensor) -> Tensor:
    """Positions of the first occurrence of every distinct value of ``index``."""
    distinct, inverse = torch.unique(index, return_inverse=True)
    positions = torch.arange(index.numel(), device=index.device)
    first = torch.full(
        (distinct.numel(),), index.numel(), device=index.device, dtype=positions.dtype
    )
    return first.scatter_reduce(0, inverse, positions, reduce="amin")


@METHODS.register(
    "mv_infonce",
    family="contrastive",
    paper="Koromilas et al. 2025, A Principled Framework for Multi-View Contrastive Learning",
)
class MVInfoNCE(_ProjectedViews):
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
        super().__init__(encoder, views, projector_hidden_dim, projector_dim)
        _check(
            isinstance(num_views, int) and num_views >= 2,
            f"num_views must be an integer >= 2, got {num_views}",
        )
        _check(temperature > 0, f"temperature must be > 0, got {temperature}")
        self.num_views = num_views
        self.temperature = temperature

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        z = self.project(batch, self.num_views)
        loss = mv_infonce_loss(z, self.temperature)
        return {"loss": loss, "positive_cosine": _positive_cosine(z[0], z[1])}


@METHODS.register(
    "supcon", family="contrastive", paper="Khosla et al. 2020, Supervised Contrastive Learning"
)
class SupCon(_ProjectedViews):
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
        super().__init__(encoder, views, projector_hidden_dim, projector_dim)
        _check(temperature > 0, f"temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        if "y" not in batch:
            raise KeyError('SupCon is supervised: it needs the labels batch["y"].')
        z1, z2 = self.project(batch)
        labels = torch.as_tensor(batch["y"], device=z1.device).reshape(-1)
        loss = supcon_loss(z1, z2, labels, self.temperature)
        return {"loss": loss, "positive_cosine": _positive_cosine(z1, z2)}
