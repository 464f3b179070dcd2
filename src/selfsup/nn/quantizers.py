r"""Vector quantisers as plain modules: VQ (EMA codebook, dead-code restarts), Gumbel-softmax VQ,
product VQ and residual VQ (FSQ, which has no codebook, is in :mod:`selfsup.nn.fsq`).

Every quantiser maps ``x: [..., D]`` to a :class:`Quantized` ``(quantized, codes, aux)``:

- ``quantized``: ``[..., D_out]``, carrying the straight-through gradient to ``x``
  (``x + sg(q - x)``, van den Oord et al. 2017, Section 3.2);
- ``codes``: long indices, ``[...]`` for one codebook, ``[..., G]`` for ``G`` groups or stages;
- ``aux``: ``"loss"`` (the term to add to a training loss, zero where there is none), its
  components, ``"perplexity"`` (``exp`` of the entropy of the batch's code frequencies, per
  group/stage averaged) and ``"usage"`` (share of the codebook used in this batch).

``decode(codes)`` maps codes back to vectors, so a codebook can be stored and reused.

Example:
    >>> vq = VectorQuantizer(num_codes=512, dim=64)
    >>> quantized, codes, aux = vq(torch.randn(8, 100, 64))
    >>> loss = reconstruction + aux["loss"]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.nn.gather import is_distributed


class Quantized(NamedTuple):
    """What every quantiser returns (unpacks as ``quantized, codes, aux``)."""

    quantized: Tensor
    codes: Tensor
    aux: dict[str, Tensor]


def code_perplexity(codes: Tensor, num_codes: int) -> tuple[Tensor, Tensor]:
    """``(perplexity, usage)`` of integer ``codes`` (any shape) over a codebook of ``num_codes``.

    ``perplexity = exp(-sum_k p_k log p_k)`` with ``p_k`` the frequency of code ``k``
    (1 when one code is used, ``num_codes`` when all are used equally); ``usage`` is the share
    of codes used at least once.
    """
    counts = torch.bincount(codes.reshape(-1), minlength=num_codes).float()
    p = counts / counts.sum().clamp_min(1.0)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return entropy.exp(), (counts > 0).float().mean()


def _all_reduce_sum(x: Tensor) -> Tensor:
    if is_distributed():
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def _mean_squared(a: Tensor, b: Tensor) -> Tensor:
    """``mean((a - b)^2)``, 0 (not NaN) for empty inputs."""
    return (a - b).pow(2).sum() / max(a.numel(), 1)


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class VectorQuantizer(nn.Module):
    r"""VQ-VAE's quantiser (van den Oord, Vinyals, Kavukcuoglu 2017, "Neural Discrete
    Representation Learning", Eq. 3), with the EMA codebook of its Appendix A.1 / VQ-VAE-2
    (Razavi et al. 2019) and dead-code restarts (Dhariwal et al. 2020, Jukebox; Zeghidour et al.
    2021, SoundStream, Section 3.3).

    Each vector goes to its nearest entry ``e_k`` (squared Euclidean distance). The loss is

    .. math::
        \| sg[z] - e \|^2 + \beta \| z - sg[e] \|^2

    (codebook + commitment term, ``beta = 0.25``), both means over elements. With ``ema=True``
    (the default) the codebook term is dropped and entries follow, in training mode,

    .. math::
        N_k \leftarrow \gamma N_k + (1-\gamma) n_k, \quad
        m_k \leftarrow \gamma m_k + (1-\gamma) \sum_{i: a_i = k} z_i, \quad
        e_k = m_k / \tilde N_k

    with ``gamma = 0.99`` and ``\tilde N`` the Laplace-smoothed counts
    ``(N_k + \epsilon) / (\sum N + K \epsilon) \cdot \sum N``. An entry not chosen for
    ``restart_after`` consecutive training steps is reset to a random input vector of the
    current batch (``None`` disables restarts). Under DDP the counts and sums are summed over
    processes and restarts are drawn on rank 0 and broadcast, so every copy keeps one codebook.

    Args:
        num_codes: ``K``. dim: ``D``. commitment: ``beta``. ema: EMA updates (else a learned
            codebook with the codebook loss). decay: ``gamma``. epsilon: Laplace smoothing.
        restart_after: steps without use before an entry is restarted.
        init_from_data: the first training batch sets the entries to random input vectors
            (SoundStream initialises by k-means on the first batch), so no entry starts far
            from the data.
    """

    def __init__(self, num_codes: int, dim: int, commitment: float = 0.25, ema: bool = True,
                 decay: float = 0.99, epsilon: float = 1e-5, restart_after: int | None = 100,
                 init_from_data: bool = True) -> None:
        super().__init__()
        _check_positive("num_codes", num_codes)
        _check_positive("dim", dim)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        if restart_after is not None:
            _check_positive("restart_after", restart_after)
        self.num_codes, self.dim, self.output_dim = num_codes, dim, dim
        self.commitment, self.ema, self.decay, self.epsilon = commitment, ema, decay, epsilon
        self.restart_after = restart_after
        initial = torch.randn(num_codes, dim)
        if ema:
            self.register_buffer("codebook", initial)
            self.register_buffer("cluster_size", torch.ones(num_codes))
            self.register_buffer("embed_sum", initial.clone())
        else:
            self.codebook = nn.Parameter(initial / math.sqrt(dim))
        self.register_buffer("unused_steps", torch.zeros(num_codes, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(not init_from_data))

    def assign(self, flat: Tensor) -> Tensor:
        """Nearest entry of each row of ``flat: [N, D]`` -> ``[N]`` long."""
        codebook = self.codebook.detach()
        distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.T
                     + codebook.pow(2).sum(1)[None])
        return distances.argmin(dim=1)

    def decode(self, codes: Tensor) -> Tensor:
        """``codes: [...]`` -> ``[..., D]``."""
        return F.embedding(codes, self.codebook)

    def forward(self, x: Tensor) -> Quantized:
        if x.shape[-1] != self.dim:
            raise ValueError(f"VectorQuantizer expects x[..., {self.dim}], got {tuple(x.shape)}")
        flat = x.reshape(-1, self.dim)
        learn = self.training and flat.shape[0] > 0  # no vector (an all-padding batch): nothing to learn from
        if learn and not bool(self.initialized):
            self._init_from(flat.detach().float())
        codes = self.assign(flat.detach().float())
        if learn and self.ema:
            self._ema_update(flat.detach().float(), codes)
        if learn:
            self._track_and_restart(flat.detach().float(), codes)
        chosen = self.decode(codes).to(x.dtype)
        commitment = _mean_squared(flat, chosen.detach())
        aux = {"commitment": commitment}
        loss = self.commitment * commitment
        if not self.ema:
            aux["codebook"] = _mean_squared(chosen, flat.detach())
            loss = loss + aux["codebook"]
        aux["loss"] = loss
        aux["perplexity"], aux["usage"] = code_perplexity(codes, self.num_codes)
        quantized = flat + (chosen - flat).detach()
        return Quantized(quantized.reshape(x.shape), codes.reshape(x.shape[:-1]), aux)

    @torch.no_grad()
    def _init_from(self, flat: Tensor) -> None:
        picks = torch.randperm(flat.shape[0], device=flat.device)[:self.num_codes]
        if len(picks) < self.num_codes:  # fewer vectors than entries: repeat them, jittered
            picks = picks[torch.randint(0, len(picks), (self.num_codes,), device=flat.device)]
        fresh = flat[picks] + 1e-3 * flat.std() * torch.randn(self.num_codes, self.dim, device=flat.device)
        if is_distributed():
            dist.broadcast(fresh, src=0)
        self.codebook.data.copy_(fresh)
        if self.ema:
            self.embed_sum.copy_(fresh)
            self.cluster_size.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _ema_update(self, flat: Tensor, codes: Tensor) -> None:
        one_hot = F.one_hot(codes, self.num_codes).type(flat.dtype)
        counts = _all_reduce_sum(one_hot.sum(0))
        sums = _all_reduce_sum(one_hot.T @ flat)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.num_codes * self.epsilon) * total
        self.codebook.copy_(self.embed_sum / smoothed[:, None])

    @torch.no_grad()
    def _track_and_restart(self, flat: Tensor, codes: Tensor) -> None:
        used = _all_reduce_sum(torch.bincount(codes, minlength=self.num_codes)) > 0
        self.unused_steps.add_(1).masked_fill_(used, 0)
        if self.restart_after is None:
            return
        dead = self.unused_steps >= self.restart_after
        if not bool(dead.any()):
            return
        picks = torch.randint(0, flat.shape[0], (int(dead.sum()),), device=flat.device)
        fresh = flat[picks].to(self.codebook.dtype)
        if is_distributed():
            dist.broadcast(fresh, src=0)
        self.codebook.data[dead] = fresh
        if self.ema:
            self.embed_sum[dead] = fresh
            self.cluster_size[dead] = 1.0
        self.unused_steps[dead] = 0


class GumbelVectorQuantizer(nn.Module):
    r"""Gumbel-softmax quantiser of vq-wav2vec (Baevski, Schneider, Auli 2020, Section 3.2) and
    wav2vec 2.0 (Baevski et al. 2020, Section 3.2, Eq. 1-4).

    A linear map gives logits ``l: [..., G, V]``; in training the choice is the hard
    Gumbel-softmax ``one_hot(argmax(l + g))`` with the gradient of
    ``softmax((l + g) / tau)`` (straight-through), in evaluation ``argmax(l)``. The chosen
    entries of the ``G`` codebooks ``[V, out_dim / G]`` are concatenated. ``tau`` anneals as
    ``max(tau_max * decay^step, tau_min)`` (2 -> 0.5 by 0.999995, wav2vec 2.0 Section 4.2);
    call :meth:`anneal` each step.

    The diversity loss (Eq. 4) encourages equal use of the entries, through the averaged
    softmax ``p_g`` (no noise) over the batch; as the authors' code trains it,
    ``L_d = (G V - sum_g exp(H(p_g))) / (G V)``: 0 when every entry is used equally, near 1
    at collapse. ``aux["loss"]`` is ``L_d`` (weight ``alpha = 0.1`` in wav2vec 2.0 is the
    method's choice).
    """

    def __init__(self, dim: int, out_dim: int, groups: int = 2, entries: int = 320,
                 tau_max: float = 2.0, tau_min: float = 0.5, tau_decay: float = 0.999995) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("out_dim", out_dim), ("groups", groups), ("entries", entries)):
            _check_positive(name, value)
        if out_dim % groups:
            raise ValueError(f"out_dim={out_dim} must be divisible by groups={groups}")
        self.dim, self.output_dim, self.groups, self.num_codes = dim, out_dim, groups, entries
        self.tau_max, self.tau_min, self.tau_decay = tau_max, tau_min, tau_decay
        self.temperature = tau_max
        self.to_logits = nn.Linear(dim, groups * entries)
        nn.init.normal_(self.to_logits.weight, std=1.0)
        nn.init.zeros_(self.to_logits.bias)
        self.codebooks = nn.Parameter(torch.rand(groups, entries, out_dim // groups))

    def anneal(self, step: int) -> float:
        """Set and return ``tau = max(tau_max * decay^step, tau_min)``."""
        self.temperature = max(self.tau_max * self.tau_decay ** step, self.tau_min)
        return self.temperature

    def decode(self, codes: Tensor) -> Tensor:
        """``codes: [..., G]`` -> ``[..., out_dim]``."""
        parts = [F.embedding(codes[..., g], self.codebooks[g]) for g in range(self.groups)]
        return torch.cat(parts, dim=-1)

    def forward(self, x: Tensor) -> Quantized:
        if x.shape[-1] != self.dim:
            raise ValueError(f"GumbelVectorQuantizer expects x[..., {self.dim}], got {tuple(x.shape)}")
        logits = self.to_logits(x).reshape(*x.shape[:-1], self.groups, self.num_codes).float()
        if self.training:
            weights = F.gumbel_softmax(logits, tau=self.temperature, hard=True, dim=-1)
        else:
            weights = F.one_hot(logits.argmax(-1), self.num_codes).float()
        codes = weights.argmax(-1)
        # [..., G, V] x [G, V, d] -> [..., G, d]: the selected entries, differentiable in weights.
        quantized = torch.einsum("...gv,gvd->...gd", weights.to(x.dtype), self.codebooks)
        avg_probs = logits.softmax(-1).reshape(-1, self.groups, self.num_codes).mean(0)
        prob_perplexity = torch.exp(-(avg_probs * torch.log(avg_probs + 1e-7)).sum(-1)).sum()
        total = self.groups * self.num_codes
        diversity = (total - prob_perplexity) / total
        perplexity, usage = _grouped_perplexity(codes, self.num_codes)
        aux = {"loss": diversity, "diversity": diversity, "prob_perplexity": prob_perplexity,
               "perplexity": perplexity, "usage": usage,
               "temperature": logits.new_tensor(self.temperature)}
        return Quantized(quantized.flatten(-2), codes, aux)


def _grouped_perplexity(codes: Tensor, num_codes: int) -> tuple[Tensor, Tensor]:
    """Mean over the last axis (groups / stages) of :func:`code_perplexity`."""
    stats = [code_perplexity(codes[..., g], num_codes) for g in range(codes.shape[-1])]
    return (torch.stack([s[0] for s in stats]).mean(), torch.stack([s[1] for s in stats]).mean())


class ProductQuantizer(nn.Module):
    """Product (grouped) VQ (Jégou, Douze, Schmid 2011, "Product quantization for nearest
    neighbor search"; the grouped codebooks of vq-wav2vec, Section 3.3): ``x`` is split into
    ``groups`` slices of ``D / groups`` and each slice has its own :class:`VectorQuantizer`,
    so ``K^groups`` combinations are reachable with ``groups * K`` entries. Codes ``[..., G]``;
    ``aux["loss"]`` is the mean of the groups' losses. Extra keyword arguments go to each
    :class:`VectorQuantizer`."""

    def __init__(self, num_codes: int, dim: int, groups: int = 2, **vq_options) -> None:
        super().__init__()
        _check_positive("groups", groups)
        if dim % groups:
            raise ValueError(f"dim={dim} must be divisible by groups={groups}")
        self.num_codes, self.dim, self.output_dim, self.groups = num_codes, dim, dim, groups
        self.quantizers = nn.ModuleList(VectorQuantizer(num_codes, dim // groups, **vq_options)
                                        for _ in range(groups))

    def decode(self, codes: Tensor) -> Tensor:
        """``codes: [..., G]`` -> ``[..., D]``."""
        return torch.cat([q.decode(codes[..., g]) for g, q in enumerate(self.quantizers)], dim=-1)

    def forward(self, x: Tensor) -> Quantized:
        if x.shape[-1] != self.dim:
            raise ValueError(f"ProductQuantizer expects x[..., {self.dim}], got {tuple(x.shape)}")
        outs = [q(part) for q, part in zip(self.quantizers, x.chunk(self.groups, dim=-1))]
        codes = torch.stack([o.codes for o in outs], dim=-1)
        return Quantized(torch.cat([o.quantized for o in outs], dim=-1), codes, _mean_aux(outs, codes, self.num_codes))


def _mean_aux(outs: Sequence[Quantized], codes: Tensor, num_codes: int) -> dict[str, Tensor]:
    aux = {"loss": torch.stack([o.aux["loss"] for o in outs]).mean(),
           "commitment": torch.stack([o.aux["commitment"] for o in outs]).mean()}
    aux["perplexity"], aux["usage"] = _grouped_perplexity(codes, num_codes)
    return aux


class ResidualVectorQuantizer(nn.Module):
    r"""Residual VQ (Zeghidour et al. 2021, SoundStream, Algorithm 1): stage ``i`` quantises
    the residual left by stages ``< i``,

    .. math::
        r_0 = x, \quad q_i = Q_i(r_{i-1}), \quad r_i = r_{i-1} - q_i, \quad \hat x = \sum_i q_i,

    each stage a :class:`VectorQuantizer` (EMA codebook, restarts) with its own commitment loss;
    ``aux["loss"]`` is their mean. Codes ``[..., stages]``; ``decode(codes[..., :n])`` gives the
    reconstruction from the first ``n`` stages (SoundStream's bitrate scalability).
    """

    def __init__(self, num_codes: int, dim: int, stages: int = 4, **vq_options) -> None:
        super().__init__()
        _check_positive("stages", stages)
        self.num_codes, self.dim, self.output_dim, self.stages = num_codes, dim, dim, stages
        self.quantizers = nn.ModuleList(VectorQuantizer(num_codes, dim, **vq_options) for _ in range(stages))

    def decode(self, codes: Tensor) -> Tensor:
        """``codes: [..., n]`` with ``n <= stages`` -> ``[..., D]``, the sum of the first ``n`` entries."""
        return sum(self.quantizers[i].decode(codes[..., i]) for i in range(codes.shape[-1]))

    def forward(self, x: Tensor) -> Quantized:
        if x.shape[-1] != self.dim:
            raise ValueError(f"ResidualVectorQuantizer expects x[..., {self.dim}], got {tuple(x.shape)}")
        residual, total, outs = x, torch.zeros_like(x), []
        for quantizer in self.quantizers:
            out = quantizer(residual)
            chosen = quantizer.decode(out.codes).to(x.dtype)
            residual = residual - chosen.detach()
            total = total + chosen
            outs.append(out)
        codes = torch.stack([o.codes for o in outs], dim=-1)
        return Quantized(x + (total - x).detach(), codes, _mean_aux(outs, codes, self.num_codes))
