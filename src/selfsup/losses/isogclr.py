"""The robust global contrastive loss with per-sample temperatures of iSogCLR (Qiu et al. 2023).

Similarities and distribution as :mod:`selfsup.losses.two_view_similarities`; the temperature
step itself is the method's (:class:`selfsup.methods.isogclr.ISogCLR`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from selfsup.losses.two_view_similarities import two_view_similarities
from selfsup.validate import check_pair


class ISogCLROutput(NamedTuple):
    """What :func:`isogclr_loss` returns."""

    loss: Tensor  #: scalar: value = RGCL objective estimate, gradient = Algorithm 1's G(w)
    u: Tensor  #: ``[B]`` updated moving-average estimates :math:`u_i` (detached)
    temperature_grad: Tensor  #: ``[B]`` stochastic gradient of the objective in :math:`\tau_i`


def isogclr_loss(
    z1: Tensor, z2: Tensor, temperature: Tensor, u: Tensor, gamma: float = 0.8, rho: float = 0.4
) -> ISogCLROutput:
    r"""Robust global contrastive loss with individual temperatures (iSogCLR; Qiu et al. 2023,
    "Not All Semantics are Created Equal: Contrastive Self-supervised Learning with Automatic
    Temperature Individualization", the RGCL objective and Algorithm 1).

    A KL-constrained DRO over each anchor's negatives (radius :math:`\rho`) has the dual

    .. math::
        F(w, \tau) = \frac{1}{n} \sum_i \Big[\tau_i \log \underbrace{\mathbb{E}_{z \in S_i^-}
            \exp\big(h_i(z)/\tau_i\big)}_{g_i(w, \tau_i)} + \tau_i \rho\Big],\qquad
        h_i(z) = s(x_i, z) - s(x_i, x_i^+)

    minimised over the encoder :math:`w` *and* every sample's temperature
    :math:`\tau_i`. Here :math:`S_i^-` holds the :math:`2N - 2` negatives of *both* views of
    sample :math:`i` (each view anchors once, as in SimCLR), so :math:`g_i` is the mean over the
    two views. Algorithm 1 replaces :math:`g_i` by the moving average
    :math:`u_i \leftarrow (1 - \gamma) u_i + \gamma\, g_i` (the SogCLR estimator, so small
    batches suffice) and uses

    .. math::
        G(w) = \frac{1}{B}\sum_i \frac{\tau_i}{u_i} \nabla_w g_i,\qquad
        \nabla_{\tau_i} F = \log u_i + \rho - \mathbb{E}_{z}\Big[\frac{e^{h_i(z)/\tau_i}}{u_i}
            \frac{h_i(z)}{\tau_i}\Big]

    The temperature gradient is :math:`\rho - \mathrm{KL}(p_i \,\|\, \mathrm{uniform})` for the
    softmax weights :math:`p_i` (when :math:`u_i = g_i`): :math:`\tau_i` grows while the
    weights over the negatives are more concentrated than the radius allows, and shrinks
    otherwise. The temperature step itself (momentum, projection onto
    :math:`[\tau_{min}, \tau_{max}]`) is the caller's, see
    :class:`selfsup.methods.isogclr.ISogCLR`.

    Args:
        z1, z2: ``[B, D]`` paired embeddings (normalised here).
        temperature: ``[B]`` the samples' temperatures :math:`\tau_i` (constants here).
        u: ``[B]`` their previous estimates :math:`u_i`; a value ``<= 0`` marks a first visit,
            where :math:`u_i` starts at the batch estimate :math:`g_i`.
        gamma: moving-average weight :math:`\gamma \in (0, 1]` of the new batch estimate.
        rho: DRO radius :math:`\rho \ge 0`.

    Returns:
        :class:`ISogCLROutput`: ``loss`` whose value is the objective estimate
        :math:`\frac{1}{B}\sum_i \tau_i(\log u_i + \rho)` and whose gradient is :math:`G(w)`;
        the new ``u`` and ``temperature_grad`` of this process's samples.
    """
    check_pair("isogclr_loss", z1, z2)
    batch = z1.shape[0]
    if temperature.shape != (batch,) or u.shape != (batch,):
        raise ValueError(
            f"isogclr_loss expects temperature and u of shape [B] = ({batch},), got "
            f"{tuple(temperature.shape)} and {tuple(u.shape)}"
        )
    dtype = torch.promote_types(z1.dtype, torch.float32)  # exp(h / tau) needs at least float32
    s = two_view_similarities(z1.to(dtype), z2.to(dtype))
    h = s.sim - s.positive.unsqueeze(1)  # h_i(z), [2B, 2N]
    is_negative = ~(s.is_self | s.is_positive)
    num_negatives = h.shape[1] - 2
    tau = temperature.detach().to(dtype).repeat(2).unsqueeze(1)
    scaled = (h.detach() / tau).masked_fill(~is_negative, float("-inf"))
    # g_i: mean of exp(h/tau) over the negatives of both views of sample i (log-sum-exp).
    log_g = torch.logsumexp(torch.cat([scaled[:batch], scaled[batch:]], dim=1), dim=1) - math.log(
        2 * num_negatives
    )
    g = torch.exp(log_g)
    u_prev = u.detach().to(dtype)
    u_new = torch.where(u_prev > 0, (1 - gamma) * u_prev + gamma * g, g)
    log_u = torch.log(u_new)
    weights = torch.exp(scaled - log_u.repeat(2).unsqueeze(1))  # e^{h/tau} / u, 0 off the negatives
    # (1 / 2N') sum_{views, z} weights * h has gradient (tau_i / u_i) grad g_i.
    surrogate = (weights * h.masked_fill(~is_negative, 0.0)).sum(dim=1)
    surrogate = (surrogate[:batch] + surrogate[batch:]) / (2 * num_negatives)
    tau_i = temperature.detach().to(dtype)
    objective = tau_i * (log_u + rho)
    loss = (surrogate - surrogate.detach() + objective).mean()
    expected_scaled = (weights * scaled.masked_fill(~is_negative, 0.0)).sum(dim=1)
    expected_scaled = (expected_scaled[:batch] + expected_scaled[batch:]) / (2 * num_negatives)
    temperature_grad = log_u + rho - expected_scaled
    return ISogCLROutput(loss, u_new.detach(), temperature_grad.detach())
