"""Variants of the InfoNCE / NT-Xent loss of SimCLR.

* :func:`dcl_loss`, :func:`dclw_loss` — Decoupled Contrastive Learning (Yeh et al. 2022): the
  positive pair leaves the denominator; DCLW re-weights the positive term.
* :func:`debiased_contrastive_loss` — Debiased Contrastive Learning (Chuang et al. 2020): the
  negative term corrected for same-class "negatives" with a class prior :math:`\\tau^+`.
* :func:`supcon_loss` — Supervised Contrastive Learning (Khosla et al. 2020), :math:`L^{sup}_{out}`.
* :func:`mv_infonce_loss` — MV-InfoNCE (Koromilas et al. 2025): one term per sample over all of
  its :math:`V \\ge 2` views.
* :func:`isogclr_loss` — the robust global contrastive loss with per-sample temperatures of
  iSogCLR (Qiu et al. 2023).

Conventions shared with :func:`selfsup.losses.contrastive.nt_xent`: embeddings are
l2-normalised here (similarities are cosines); negatives come from the global batch through the
autograd-aware :func:`selfsup.nn.gather.gather`; the anchors are this process's embeddings, so
the mean of the per-process losses (what DDP optimises) equals the single-process loss on the
full batch. With two views the global layout of the ``2N`` candidates is
``[view-1 rows of all ranks, view-2 rows of all ranks]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.nn.gather import gather, rank
from selfsup.validate import check_pair


class _TwoViewSimilarities(NamedTuple):
    sim: Tensor  # [2B, 2N] cosine similarities of this rank's anchors to all candidates
    is_self: Tensor  # [2B, 2N] bool, the anchor itself
    is_positive: Tensor  # [2B, 2N] bool, the other view of the anchor's sample
    positive: Tensor  # [2B] similarity to the positive


def _two_view_similarities(z1: Tensor, z2: Tensor) -> _TwoViewSimilarities:
    """Cosines of the ``2B`` local anchors ``[z1; z2]`` to the ``2N`` global candidates."""
    batch = z1.shape[0]
    z1 = F.normalize(z1, dim=1)
    z2 = F.normalize(z2, dim=1)
    z1_all, z2_all = gather(z1), gather(z2)
    total = z1_all.shape[0]  # N = B * W
    sim = torch.cat([z1, z2]) @ torch.cat([z1_all, z2_all]).T
    local = torch.arange(batch, device=z1.device) + rank() * batch
    rows = torch.arange(2 * batch, device=z1.device)
    is_self = torch.zeros_like(sim, dtype=torch.bool)
    is_self[rows, torch.cat([local, local + total])] = True
    is_positive = torch.zeros_like(is_self)
    positive_index = torch.cat([local + total, local])
    is_positive[rows, positive_index] = True
    return _TwoViewSimilarities(sim, is_self, is_positive, sim[rows, positive_index])


def dcl_loss(
    z1: Tensor, z2: Tensor, temperature: float = 0.1, weights: Tensor | None = None
) -> Tensor:
    r"""Decoupled contrastive loss (Yeh et al. 2022, "Decoupled Contrastive Learning", eq. 6).

    NT-Xent with the positive pair removed from the denominator, which removes the
    "negative-positive coupling" that shrinks NT-Xent's gradient for easy positives or few
    negatives. For view :math:`k` of sample :math:`i`,

    .. math::
        \ell^{(k)}_i = -w_i\,\langle z^{(1)}_i, z^{(2)}_i\rangle/\tau
            + \log \sum_{l \in \{1,2\},\, j \ne i} \exp(\langle z^{(k)}_i, z^{(l)}_j\rangle/\tau)

    averaged over the :math:`2N` anchors; :math:`w_i = 1` for DCL (see :func:`dclw_loss`).

    Args:
        z1: ``[B, D]`` embeddings of the first view (normalised here).
        z2: ``[B, D]`` embeddings of the second view; row ``i`` is the positive of ``z1[i]``.
        temperature: :math:`\tau`.
        weights: optional ``[B]`` weights :math:`w_i` of this process's positive pairs (both
            directions of a pair share the weight); ``None`` means 1.

    Returns:
        Scalar loss.

    Example:
        >>> loss = dcl_loss(torch.randn(8, 16), torch.randn(8, 16), temperature=0.1)
    """
    check_pair("dcl_loss", z1, z2)
    s = _two_view_similarities(z1, z2)
    positive = s.positive / temperature
    if weights is not None:
        if weights.shape != (z1.shape[0],):
            raise ValueError(
                f"dcl_loss weights must have shape [B] = ({z1.shape[0]},), "
                f"got {tuple(weights.shape)}"
            )
        positive = positive * weights.repeat(2)
    negatives = (s.sim / temperature).masked_fill(s.is_self | s.is_positive, float("-inf"))
    return (torch.logsumexp(negatives, dim=1) - positive).mean()


@torch.no_grad()
def vmf_weights(z1: Tensor, z2: Tensor, sigma: float = 0.5) -> Tensor:
    r"""DCLW's negative von Mises-Fisher weights of the positive pairs (Yeh et al. 2022).

    .. math::
        w_i = 2 - \frac{\exp(\langle z^{(1)}_i, z^{(2)}_i\rangle/\sigma)}
                      {\mathbb{E}_j[\exp(\langle z^{(1)}_j, z^{(2)}_j\rangle/\sigma)]}

    The expectation runs over the positive pairs of the global batch (gathered), so
    :math:`\mathbb{E}_i[w_i] = 1` and harder positives (lower similarity) weigh more. As in the
    authors' code and lightly, the weights are constants for the gradient.

    Returns:
        ``[B]`` weights of this process's pairs.
    """
    check_pair("vmf_weights", z1, z2)
    scaled = (F.normalize(z1, dim=1) * F.normalize(z2, dim=1)).sum(dim=1) / sigma
    scaled_all = gather(scaled)
    return 2 - scaled_all.shape[0] * torch.exp(scaled - torch.logsumexp(scaled_all, dim=0))


def dclw_loss(z1: Tensor, z2: Tensor, temperature: float = 0.1, sigma: float = 0.5) -> Tensor:
    r"""Weighted decoupled contrastive loss (DCLW, Yeh et al. 2022): :func:`dcl_loss` with the
    positive term weighted by :func:`vmf_weights` (:math:`\sigma = 0.5` in the paper).

    Shapes: ``z1, z2: [B, D]`` -> scalar.
    """
    return dcl_loss(z1, z2, temperature, weights=vmf_weights(z1, z2, sigma))


def debiased_contrastive_loss(
    z1: Tensor, z2: Tensor, temperature: float = 0.5, tau_plus: float = 0.1
) -> Tensor:
    r"""Debiased contrastive loss (Chuang et al. 2020, "Debiased Contrastive Learning").

    Negatives drawn from the data include same-class samples with probability :math:`\tau^+`
    (the class prior). The debiased objective replaces the negative term by an estimate of the
    sum over *true* negatives, built from the :math:`N' = 2N - 2` negatives :math:`u_k` and the
    positive :math:`v` of each anchor :math:`x` (one positive, :math:`M = 1`):

    .. math::
        \ell = -\log \frac{e^{s(x,v)/t}}{e^{s(x,v)/t} + N' g},\qquad
        g = \max\Big\{\frac{1}{\tau^-}\Big(\frac{1}{N'}\sum_k e^{s(x,u_k)/t}
                     - \tau^+ e^{s(x,v)/t}\Big),\; e^{-1/t}\Big\}

    with :math:`\tau^- = 1 - \tau^+` and the clamp at :math:`e^{-1/t}`, the smallest value
    :math:`e^{s/t}` takes for cosines (so :math:`N' g \ge N' e^{-1/t}`). With
    :math:`\tau^+ = 0` the clamp never binds and the loss *is* NT-Xent
    (:func:`~selfsup.losses.contrastive.nt_xent`, SimCLR eq. 1).

    Args:
        z1, z2: ``[B, D]`` paired embeddings (normalised here).
        temperature: :math:`t`.
        tau_plus: :math:`\tau^+ \in [0, 1)`.

    Returns:
        Scalar loss, the mean over the :math:`2N` anchors.
    """
    check_pair("debiased_contrastive_loss", z1, z2)
    if not 0.0 <= tau_plus < 1.0:
        raise ValueError(f"tau_plus must be in [0, 1), got {tau_plus}")
    s = _two_view_similarities(z1, z2)
    logits = s.sim / temperature
    num_negatives = s.sim.shape[1] - 2
    # Every term is scaled by exp(-shift) (a per-row constant) so exp cannot overflow; the ratio
    # inside the log, clamp included, is unchanged.
    shift = logits.masked_fill(s.is_self, float("-inf")).amax(dim=1, keepdim=True).detach()
    log_positive = s.positive / temperature - shift.squeeze(1)
    positive = torch.exp(log_positive)
    negative_sum = torch.exp(logits - shift).masked_fill(s.is_self | s.is_positive, 0.0).sum(dim=1)
    estimate = (negative_sum - tau_plus * num_negatives * positive) / (1.0 - tau_plus)
    floor = num_negatives * torch.exp(-1.0 / temperature - shift.squeeze(1))
    estimate = torch.maximum(estimate, floor)
    return (torch.log(positive + estimate) - log_positive).mean()


def supcon_loss(z1: Tensor, z2: Tensor, labels: Tensor, temperature: float = 0.1) -> Tensor:
    r"""Supervised contrastive loss :math:`L^{sup}_{out}` (Khosla et al. 2020, eq. 2).

    Over the :math:`2N` views of the (global) batch, anchor :math:`i` has positives
    :math:`P(i)`, every other view with the same label (its own other view included), and
    contrasts against :math:`A(i)`, every view but itself:

    .. math::
        \ell_i = \frac{-1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{\exp(z_i \cdot z_p/\tau)}{\sum_{a \in A(i)} \exp(z_i \cdot z_a/\tau)}

    averaged over anchors. With all labels distinct it is NT-Xent. Labels are gathered with
    the embeddings, so positives are found across processes.

    Args:
        z1, z2: ``[B, D]`` embeddings of the two views (normalised here).
        labels: ``[B]`` integer class labels of the samples.
        temperature: :math:`\tau`.

    Returns:
        Scalar loss.
    """
    check_pair("supcon_loss", z1, z2)
    if labels.shape != (z1.shape[0],):
        raise ValueError(
            f"supcon_loss expects labels of shape [B] = ({z1.shape[0]},), got {tuple(labels.shape)}"
        )
    s = _two_view_similarities(z1, z2)
    labels_all = gather(labels)
    same_label = torch.cat([labels, labels]).unsqueeze(1) == torch.cat(
        [labels_all, labels_all]
    ).unsqueeze(0)
    is_positive = same_label & ~s.is_self
    logits = (s.sim / temperature).masked_fill(s.is_self, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    mean_log_prob_positive = log_prob.masked_fill(~is_positive, 0.0).sum(dim=1) / is_positive.sum(
        dim=1
    )
    return -mean_log_prob_positive.mean()


def mv_infonce_loss(views: Sequence[Tensor], temperature: float = 0.5) -> Tensor:
    r"""MV-InfoNCE (Koromilas et al. 2025, "A Principled Framework for Multi-View Contrastive
    Learning", Sec. IV): one loss term per sample over all pairs of its :math:`V` views.

    With :math:`U_{i,l}` the normalised embedding of view :math:`l` of sample :math:`i` among the
    :math:`M` samples of the global batch,

    .. math::
        \ell_i = -\log \frac{\sum_{l}\sum_{l' \ne l} e^{U_{i,l}^\top U_{i,l'}/\tau}}
            {\sum_{l}\sum_{(j,m) \ne (i,l)} e^{U_{i,l}^\top U_{j,m}/\tau}}

    The numerator aligns all views of :math:`i` at once; the denominator holds every
    interaction of each of its views with the other :math:`MV - 1` embeddings (same-view
    and cross-view negatives, and the positives). This is the authors' implementation
    (``MVINFONCE`` in github.com/pakoromilas/Multi-View-CL); the README of that repository
    writes the denominator over cross-view pairs :math:`m \ne l` only.

    Two views: with :math:`D_{i,k}` the NT-Xent denominator of anchor :math:`(i,k)`,
    :math:`\ell_i = -\log \frac{e^{s_i/\tau}}{(D_{i,1} + D_{i,2})/2}`: InfoNCE with the
    *arithmetic* mean of the two anchors' denominators, where NT-Xent averages the two log terms
    (a *geometric* mean). So MV-InfoNCE :math:`\ge` NT-Xent, with equality when
    :math:`D_{i,1} = D_{i,2}` for every sample.

    Args:
        views: :math:`V \ge 2` tensors ``[B, D]``; row ``i`` of every view is sample ``i``.
        temperature: :math:`\tau`.

    Returns:
        Scalar loss, the mean of :math:`\ell_i` over the samples.
    """
    if len(views) < 2:
        raise ValueError(f"mv_infonce_loss needs at least 2 views, got {len(views)}")
    shape = views[0].shape
    if len(shape) != 2 or any(v.shape != shape for v in views):
        raise ValueError(
            "mv_infonce_loss expects views of equal shape [B, D], got "
            f"{[tuple(v.shape) for v in views]}"
        )
    batch, num_views = shape[0], len(views)
    z = F.normalize(torch.stack(list(views), dim=1), dim=2)  # [B, V, D]
    z_all = gather(z)  # [M, V, D]
    logits = z.reshape(batch * num_views, -1) @ z_all.reshape(-1, z.shape[2]).T / temperature
    # Row (i, l) = i * V + l; column (j, m) = j * V + m in the global numbering.
    global_sample = (torch.arange(batch, device=z.device) + rank() * batch).repeat_interleave(
        num_views
    )
    column_sample = torch.arange(z_all.shape[0], device=z.device).repeat_interleave(num_views)
    rows = torch.arange(batch * num_views, device=z.device)
    is_self = torch.zeros_like(logits, dtype=torch.bool)
    is_self[rows, global_sample * num_views + rows % num_views] = True
    is_positive = (global_sample.unsqueeze(1) == column_sample.unsqueeze(0)) & ~is_self
    numerator = torch.logsumexp(
        logits.masked_fill(~is_positive, float("-inf")).reshape(batch, -1), dim=1
    )
    denominator = torch.logsumexp(
        logits.masked_fill(is_self, float("-inf")).reshape(batch, -1), dim=1
    )
    return (denominator - numerator).mean()


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
    s = _two_view_similarities(z1.to(dtype), z2.to(dtype))
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
