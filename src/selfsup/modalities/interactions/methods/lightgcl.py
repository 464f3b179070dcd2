"""LightGCL: graph contrastive recommendation with an SVD-reconstructed view."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from selfsup.errors import SelfsupError
from selfsup.methods.base import detach_logs
from selfsup.modalities.interactions.losses.bpr import bpr_loss
from selfsup.modalities.interactions.losses.lightgcl import svd_contrast
from selfsup.modalities.interactions.methods.base import BPRMethod, check_temperature, check_unit
from selfsup.registry import METHODS
from selfsup.validate import check_int, check_weight

# extra random directions of the randomised SVD (Halko et al. 2011, Section 4.2, suggest 5-10)
OVERSAMPLING = 10


def truncated_svd(users: Tensor, items: Tensor, num_users: int, num_items: int, rank: int,
                  seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    r"""Rank-``rank`` SVD :math:`\hat U_q \hat S_q \hat V_q^\top` of the normalised interaction matrix
    :math:`D_u^{-1/2} R D_i^{-1/2}` (``[num_users, num_items]``, the user–item block of LightGCN's
    adjacency) by ``torch.svd_lowrank`` (randomised, Halko et al. 2011) with ``OVERSAMPLING`` extra
    directions, the leading ``rank`` kept (the authors ask it for ``q`` alone, whose 5th singular value
    came out 6 % low on a small graph here), seeded so that a run and its resumption draw the same one. Returns ``U [num_users, q]``, ``S [q]``, ``V [num_items, q]``."""
    user_degree = torch.bincount(users, minlength=num_users).clamp(min=1).float()
    item_degree = torch.bincount(items, minlength=num_items).clamp(min=1).float()
    values = user_degree[users].rsqrt() * item_degree[items].rsqrt()
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sparse support "in beta"
        matrix = torch.sparse_coo_tensor(torch.stack([users, items]), values, (num_users, num_items),
                                         check_invariants=False).coalesce()
        torch.manual_seed(seed)
        u, s, v = torch.svd_lowrank(matrix, q=min(rank + OVERSAMPLING, num_users, num_items))
    return u[:, :rank], s[:rank], v[:, :rank]


@METHODS.register("lightgcl", family="contrastive", paper="Cai et al. 2023, LightGCL: Simple Yet Effective Graph "
                  "Contrastive Learning for Recommendation", modality="interactions", default_encoder="lightgcn",
                  default_views="none", default_encoder_options={"layers": 2, "keep_ego": True})
class LightGCL(BPRMethod):
    r"""LightGCL (Cai, Huang, Xia, Ren, ICLR 2023): the graph propagation contrasted with a view
    propagated over a rank-:math:`q` SVD of the normalised interaction matrix, which keeps its global
    collaborative structure and drops the rest (:func:`truncated_svd`, computed once).

    Graph view (Eq. 2–4): :math:`E^{(l)} = \hat A\, p(E^{(l-1)})` (``edge_dropout`` :math:`p`), final
    :math:`E = \sum_{l=0}^{L} E^{(l)}`. SVD view (Eq. 5): :math:`G^{(l)}_u = \hat U_q \hat S_q \hat
    V_q^\top E^{(l-1)}_i`, :math:`G^{(l)}_i = \hat V_q \hat S_q \hat U_q^\top E^{(l-1)}_u` (from the
    graph view's previous layer), :math:`G = E^{(0)} + \sum_{l \ge 1} G^{(l)}`. Loss (Eq. 7):
    :math:`\mathcal{L}_{BPR} + \lambda_1 (\mathcal{L}^u_s + \mathcal{L}^i_s) + \lambda_2
    \lVert\Theta\rVert^2` with :func:`~..losses.lightgcl.svd_contrast` over the batch's distinct users
    and distinct (positive and negative) items, and :math:`\lVert\Theta\rVert^2` over both whole
    embedding tables.

    The ``lightgcn`` encoder with ``keep_ego: true`` (the default under this method, with 2 layers)
    averages the layers; the loss uses their sum, :math:`(L+1)` times that average, as the paper
    does, and the evaluation's ranking is the same either way.

    Defaults (the authors' code, ``parser.py``, and Section 4): rank :math:`q = 5`, 2 layers,
    :math:`\tau = 0.2`, :math:`\lambda_1 = 0.2`, :math:`\lambda_2 = 10^{-7}`, edge dropout 0, 64-d,
    Adam at 1e-3 (the paper's batches of 256 users are 2048 interactions in the recipe). No BPR
    warm-up: the contrast on inner products does not stall BPR (``ssl_warmup_steps`` 0; :mod:`~.base`).
    On ml-100k (943 users, dense next to the paper's Yelp or Gowalla) :math:`\lambda_1 = 0.2` pushes
    every user away from all the others and swamps BPR: after 10 epochs test Recall@20 0.063, below
    the popularity ranking's 0.170, with a long-tail share of 0.75; the ml-100k recipe takes 0.02,
    chosen on the validation split (valid Recall@20 0.316; 0.05: 0.244; 0.005: 0.301; 0: 0.279).
    """

    name = "lightgcl"
    needs_graph = True

    def __init__(self, encoder: nn.Module, views: nn.Module, ssl_weight: float = 0.2, temperature: float = 0.2,
                 rank: int = 5, reg_weight: float = 1e-7, edge_dropout: float = 0.0,
                 ssl_warmup_steps: int = 0) -> None:
        super().__init__(encoder, views, reg_weight, ssl_warmup_steps)
        if not getattr(encoder, "keep_ego", False):
            raise SelfsupError("lightgcl sums E(0) with the propagated layers; the encoder leaves E(0) out "
                               "(keep_ego: false). Set encoder.keep_ego: true.")
        self.ssl_weight = check_weight(ssl_weight, "ssl_weight")
        self.temperature = check_temperature(temperature)
        self.rank = check_int(rank, "rank")
        if self.rank > min(encoder.num_users, encoder.num_items):
            raise SelfsupError(f"lightgcl: rank={rank} exceeds the number of users or of items "
                               f"({encoder.num_users:,} and {encoder.num_items:,}).")
        self.edge_dropout = check_unit(edge_dropout, "edge_dropout")
        graph = encoder.graph
        u, s, v = truncated_svd(graph.users, graph.items, encoder.num_users, encoder.num_items, self.rank)
        # kept in the checkpoint: a resumed run contrasts with the same view
        self.register_buffer("svd_users", u * s)  # U S   [num_users, q]
        self.register_buffer("svd_items", v * s)  # V S   [num_items, q]
        self.register_buffer("svd_u", u)
        self.register_buffer("svd_v", v)

    def svd_view(self, layers: list[Tensor]) -> tuple[Tensor, Tensor]:
        """``G_u [num_users, D]``, ``G_i [num_items, D]`` from the graph view's ``layers`` (class doc)."""
        view_users, view_items = self.encoder.split(layers[0])
        for previous in layers[:-1]:
            users, items = self.encoder.split(previous)
            view_users = view_users + self.svd_users @ (self.svd_v.T @ items)
            view_items = view_items + self.svd_items @ (self.svd_u.T @ users)
        return view_users, view_items

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x = self.triples(batch)
        step = self.step_index(len(x))
        encoder = self.encoder
        adjacency = encoder.graph.edge_dropout(self.edge_dropout) if self.edge_dropout and self.training else None
        layers = encoder.propagate(adjacency)
        users, items = encoder.split(torch.stack(layers).sum(0))
        terms = {
            "bpr": bpr_loss(users[x.users], items[x.items], items[x.negatives]),
            "reg": self.reg_weight * sum(p.pow(2).sum() for p in encoder.parameters()),
        }
        if self.ssl_active(step):
            view_users, view_items = self.svd_view(layers)
            u = torch.unique(x.users)
            i = torch.unique(torch.cat([x.items, x.negatives]))
            terms["ssl"] = self.ssl_weight * (svd_contrast(view_users[u], users[u], users, self.temperature)
                                              + svd_contrast(view_items[i], items[i], items, self.temperature))
        terms["loss"] = sum(terms.values())
        return detach_logs(terms)
