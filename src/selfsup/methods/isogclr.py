"""iSogCLR: SimCLR's pipeline with a temperature per training sample, learned.

It is the one InfoNCE variant with per-sample state: temperatures and moving averages indexed
by ``batch["index"]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from selfsup.losses.isogclr import isogclr_loss
from selfsup.methods.projection_method import ProjectionMethod, positive_cosine
from selfsup.nn.gather import gather
from selfsup.registry import METHODS


@METHODS.register(
    "isogclr",
    family="contrastive",
    paper="Qiu et al. 2023, Not All Semantics are Created Equal: Contrastive Self-supervised "
    "Learning with Automatic Temperature Individualization",
)
class ISogCLR(ProjectionMethod):
    r"""iSogCLR (Qiu, Hu, Yuan, Zhou, Zhang, Yang 2023, ICML): a temperature per sample, learned.

    The robust global contrastive loss (RGCL) is a KL-constrained DRO over each anchor's
    negatives; its dual gives every sample :math:`i` its own temperature :math:`\tau_i`,
    optimised jointly with the network (:func:`~selfsup.losses.isogclr.isogclr_loss`):

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
        encoder, views, projector_hidden_dim, projector_dim: as
            :class:`~selfsup.methods.dcl.DCL`.
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
        for ok, message in [
            (0.03 <= tau_min <= tau_init <= tau_max,
             f"need 0.03 <= tau_min <= tau_init <= tau_max, got {tau_min}, {tau_init}, {tau_max}"),
            (rho >= 0, f"rho must be >= 0, got {rho}"),
            (0 < gamma <= 1, f"gamma must be in (0, 1], got {gamma}"),
            (temperature_lr >= 0, f"temperature_lr must be >= 0, got {temperature_lr}"),
            (0 < temperature_momentum <= 1,
             f"temperature_momentum must be in (0, 1], got {temperature_momentum}"),
        ]:
            if not ok:
                raise ValueError(message)
        self.tau_init, self.tau_min, self.tau_max = tau_init, tau_min, tau_max
        self.rho, self.gamma = rho, gamma
        self.temperature_lr, self.temperature_momentum = temperature_lr, temperature_momentum
        # Empty until prepare(num_samples); registered now so state_dict always names them.
        self.register_buffer("temperatures", torch.empty(0))
        self.register_buffer("u", torch.empty(0))
        self.register_buffer("temperature_velocity", torch.empty(0))

    def prepare(self, num_samples: int) -> None:
        """Create the per-sample state for ``num_samples`` training samples."""
        if not num_samples > 0:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
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
            "positive_cosine": positive_cosine(z1, z2),
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
