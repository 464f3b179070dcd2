"""Table views, made on the device for the whole batch at once.

Every view here returns the batch with ``"x"`` replaced and one extra key, ``"corrupted"``
``[B, Fn + Fc]`` bool: which entries (numeric columns first, then categorical) the view changed
— the target of VIME's mask estimator. The replacement values come from the empirical marginal
of each column, estimated by the batch: entry ``(i, j)`` takes column ``j`` of a uniformly drawn
row of the batch (its missing flag moves with it). The papers draw from the whole training set;
with batches of a few hundred rows the batch's marginal is a close, device-side stand-in.
"""

from __future__ import annotations

from typing import Any

import torch

from selfsup.modalities.tabular.data.batch import TabularBatch, TabularSpec
from selfsup.registry import VIEWS
from selfsup.views.base import ViewMaker


def check_rate(value: Any, name: str, upper_inclusive: bool = True) -> float:
    """``float(value)`` if it is a number in ``[0, 1]`` (``[0, 1)`` when not ``upper_inclusive``)."""
    bound_ok = (lambda v: v <= 1.0) if upper_inclusive else (lambda v: v < 1.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= value and bound_ok(value)):
        raise ValueError(f"{name} must be a number in [0, 1{']' if upper_inclusive else ')'}, got {value!r}")
    return float(value)


def replace_from_marginals(x: TabularBatch, replace: torch.Tensor) -> TabularBatch:
    """``x`` with each entry where ``replace [B, Fn + Fc]`` is True taken from the same column
    of a random row of the batch."""
    rows, n_numeric = len(x), x.numeric.shape[1]
    donor = torch.randint(0, rows, replace.shape, device=replace.device)
    numeric_donor, categorical_donor = donor[:, :n_numeric], donor[:, n_numeric:]
    numeric_replace, categorical_replace = replace[:, :n_numeric], replace[:, n_numeric:]
    return TabularBatch(
        torch.where(numeric_replace, x.numeric.gather(0, numeric_donor), x.numeric),
        torch.where(numeric_replace, x.missing.gather(0, numeric_donor), x.missing),
        torch.where(categorical_replace, x.categorical.gather(0, categorical_donor), x.categorical),
        x.cardinalities,
    )


class TabularViews(ViewMaker):
    """Base of the table views: :meth:`corrupt` gives the view and the entries it changed."""

    def __init__(self, input_spec: TabularSpec) -> None:
        super().__init__()
        self.input_spec = input_spec
        self.num_features = input_spec.num_features

    def corrupt(self, x: TabularBatch, i: int) -> tuple[TabularBatch, torch.Tensor]:
        raise NotImplementedError

    def augment(self, x: TabularBatch, i: int) -> TabularBatch:
        return self.corrupt(x, i)[0]

    def forward(self, batch: dict[str, Any], n: int = 2) -> list[dict[str, Any]]:
        views = []
        for i in range(n):
            x, corrupted = self.corrupt(batch["x"], i)
            views.append({**batch, "x": x, "corrupted": corrupted})
        return views


@VIEWS.register("scarf", modality="tabular", paper="Bahri et al. 2022, SCARF",
                description="replace a fixed fraction of each row's features with draws from their marginals")
class ScarfCorruption(TabularViews):
    """SCARF's corruption (Bahri, Jiang, Tay, Metzler 2022, Section 2): for every row, a subset
    of exactly ``round(corruption_rate * F)`` features, chosen uniformly, is replaced by draws
    from the features' empirical marginals. Paper default ``c = 0.6`` (Section 3)."""

    def __init__(self, input_spec: TabularSpec, corruption_rate: float = 0.6) -> None:
        super().__init__(input_spec)
        self.corruption_rate = check_rate(corruption_rate, "corruption_rate")

    def corrupt(self, x: TabularBatch, i: int) -> tuple[TabularBatch, torch.Tensor]:
        count = round(self.corruption_rate * self.num_features)
        scores = torch.rand(len(x), self.num_features, device=x.device)
        replace = scores.argsort(dim=1).argsort(dim=1) < count  # each row: `count` random columns
        return replace_from_marginals(x, replace), replace


@VIEWS.register("swap_noise", modality="tabular", paper="Jahrer 2018, Porto Seguro winning solution (DAE)",
                description="swap each entry, with probability p, with the same column of a random row")
class SwapNoise(TabularViews):
    """Swap noise: each entry independently, with probability ``p``, takes the value of the same
    column in a random row (Jahrer's denoising-autoencoder input noise; 0.15 in his write-up)."""

    def __init__(self, input_spec: TabularSpec, p: float = 0.15) -> None:
        super().__init__(input_spec)
        self.p = check_rate(p, "p")

    def corrupt(self, x: TabularBatch, i: int) -> tuple[TabularBatch, torch.Tensor]:
        replace = torch.rand(len(x), self.num_features, device=x.device) < self.p
        return replace_from_marginals(x, replace), replace


@VIEWS.register("vime_mask", modality="tabular", paper="Yoon et al. 2020, VIME",
                description="VIME mask-and-impute: Bernoulli(mask_prob) mask, masked entries from the marginals")
class VimeMask(TabularViews):
    r"""VIME's pretext generator (Yoon, Zhang, Jordon, van der Schaar 2020, Section 4.1): a mask
    :math:`m_j \sim \mathrm{Bern}(p_m)` per entry, and :math:`\tilde x = m \odot \bar x + (1-m)
    \odot x` where :math:`\bar x_j` is drawn from column :math:`j`'s empirical marginal. The
    ``"corrupted"`` key is the mask :math:`m` (an entry whose draw equals its own value still
    counts as masked, as in the paper). Paper default :math:`p_m = 0.3`."""

    def __init__(self, input_spec: TabularSpec, mask_prob: float = 0.3) -> None:
        super().__init__(input_spec)
        self.mask_prob = check_rate(mask_prob, "mask_prob")

    def corrupt(self, x: TabularBatch, i: int) -> tuple[TabularBatch, torch.Tensor]:
        mask = torch.rand(len(x), self.num_features, device=x.device) < self.mask_prob
        return replace_from_marginals(x, mask), mask


@VIEWS.register("gaussian_noise", modality="tabular",
                description="add N(0, sigma^2) to the standardised numeric values; categories kept")
class GaussianNoise(TabularViews):
    """Additive Gaussian noise on the (standardised) numeric columns; missing entries and the
    categorical columns are left as they are. ``sigma`` is in units of each column's std."""

    def __init__(self, input_spec: TabularSpec, sigma: float = 0.1) -> None:
        super().__init__(input_spec)
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma >= 0:
            raise ValueError(f"sigma must be a number >= 0, got {sigma!r}")
        self.sigma = float(sigma)

    def corrupt(self, x: TabularBatch, i: int) -> tuple[TabularBatch, torch.Tensor]:
        noise = torch.randn_like(x.numeric) * self.sigma
        numeric = torch.where(x.missing, x.numeric, x.numeric + noise)
        changed = torch.zeros(len(x), self.num_features, dtype=torch.bool, device=x.device)
        changed[:, : x.numeric.shape[1]] = ~x.missing & (self.sigma > 0)
        return x.with_(numeric=numeric), changed


@VIEWS.register("subtab", modality="tabular", paper="Ucar et al. 2021, SubTab",
                description="feature-subset views: each view keeps one of K overlapping column blocks")
class SubTabSubsets(TabularViews):
    r"""SubTab's feature subsets (Ucar, Hajiramezanali, Edwards, NeurIPS 2021, Section 3): the
    :math:`F` columns are cut into ``num_subsets`` contiguous blocks of :math:`\lfloor F/K \rfloor`
    columns, each widened by ``overlap`` of that size on both sides; a view keeps one block and
    hides the rest (a hidden numeric value becomes 0 and missing, a hidden category "unknown").
    Row :math:`r`'s view :math:`i` keeps block :math:`(o_r + i) \bmod K` with a random offset
    :math:`o_r`, so the views of a row always show different blocks. ``noise_p`` then swaps that
    fraction of the kept entries with other rows' (SubTab adds noise to each subset; paper
    defaults: K = 4, overlap 0.75, masking ratio 0.3 with swap-style noise).
    """

    def __init__(self, input_spec: TabularSpec, num_subsets: int = 4, overlap: float = 0.75,
                 noise_p: float = 0.3) -> None:
        super().__init__(input_spec)
        if isinstance(num_subsets, bool) or not isinstance(num_subsets, int) or not 1 <= num_subsets <= max(
                self.num_features, 1):
            raise ValueError(f"num_subsets must be an integer in [1, {self.num_features}] (the number of "
                             f"columns), got {num_subsets!r}")
        self.overlap = check_rate(overlap, "overlap")
        self.noise_p = check_rate(noise_p, "noise_p")
        size = self.num_features // num_subsets
        extra = int(self.overlap * size)
        blocks = torch.zeros(num_subsets, self.num_features, dtype=torch.bool)
        for k in range(num_subsets):
            end = self.num_features if k == num_subsets - 1 else (k + 1) * size + extra
            blocks[k, max(k * size - extra, 0): end] = True
        self.register_buffer("blocks", blocks, persistent=False)  # [K, F] kept columns
        self.num_subsets = num_subsets

    def forward(self, batch: dict[str, Any], n: int = 2) -> list[dict[str, Any]]:
        offsets = torch.randint(0, self.num_subsets, (len(batch["x"]),), device=batch["x"].device)
        views = []
        for i in range(n):
            x, hidden = self.corrupt(batch["x"], i, offsets)
            views.append({**batch, "x": x, "corrupted": hidden})
        return views

    def corrupt(self, x: TabularBatch, i: int, offsets: torch.Tensor | None = None) -> tuple[TabularBatch, torch.Tensor]:
        if offsets is None:
            offsets = torch.randint(0, self.num_subsets, (len(x),), device=x.device)
        kept = self.blocks.to(x.device)[(offsets + i) % self.num_subsets]  # [B, F]
        noise = kept & (torch.rand(kept.shape, device=x.device) < self.noise_p)
        x = replace_from_marginals(x, noise)
        n_numeric = x.numeric.shape[1]
        hide_numeric, hide_categorical = ~kept[:, :n_numeric], ~kept[:, n_numeric:]
        x = TabularBatch(x.numeric.masked_fill(hide_numeric, 0.0), x.missing | hide_numeric,
                         x.categorical.masked_fill(hide_categorical, 0), x.cardinalities)
        return x, ~kept | noise
