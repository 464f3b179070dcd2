r"""ID-embedding encoders of users and items: matrix factorisation (``mf``) and LightGCN.

Both hold an embedding table per side (``users [num_users, D]``, ``items [num_items, D]``,
Xavier-uniform initialisation as RecBole and SELFRec use). ``mf`` scores with the tables
themselves (Rendle et al. 2009, BPR-MF); ``lightgcn`` propagates them over the normalised
user–item graph (:mod:`~.graph`) and averages the layers (He et al. 2020, LightGCN, Eq. 8–9):

.. math:: E^{(k+1)} = \hat A E^{(k)}, \qquad E = \frac{1}{K+1} \sum_{k=0}^{K} E^{(k)}.

The contract the methods and the evaluation use:

- ``propagate(adjacency=None, noise=0.0) -> [E^(0), …, E^(K)]`` (each ``[num_users + num_items,
  D]``; ``adjacency`` replaces the graph — one matrix, or one per layer — and ``noise`` adds
  SimGCL's random sign-aligned noise of norm ``noise`` after every layer);
- ``combine(layers)`` the final embeddings, ``split(h) -> (users, items)``;
- ``user_item_embeddings()`` the final tables (cached while the weights do not change, so
  evaluation propagates once); ``forward(batch["x"])`` the final embeddings of the batch's users
  ``[B, D]``.

A LightGCN encoder keeps the training pairs as buffers, so a run's saved encoder carries its graph
and ``selfsup.load`` gives back one that propagates.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.modalities.interactions.data.batch import InteractionBatch, InteractionSpec
from selfsup.modalities.interactions.encoders.graph import BipartiteGraph, propagate
from selfsup.registry import ENCODERS
from selfsup.validate import check_int


class IdEmbeddings(nn.Module):
    """Matrix factorisation: one learned ``D``-vector per user and per item.

    Args:
        input_spec: the catalogue sizes.
        embedding_dim: ``D`` (64 in LightGCN, SGL, SimGCL and RecBole's benchmarks).
    """

    layers = 0

    def __init__(self, input_spec: InteractionSpec, embedding_dim: int = 64) -> None:
        super().__init__()
        check_int(embedding_dim, "embedding_dim")
        self.num_users, self.num_items = input_spec.num_users, input_spec.num_items
        self.users = nn.Embedding(self.num_users, embedding_dim)
        self.items = nn.Embedding(self.num_items, embedding_dim)
        nn.init.xavier_uniform_(self.users.weight)
        nn.init.xavier_uniform_(self.items.weight)
        self.output_dim = embedding_dim
        self._cache: tuple[Any, tuple[Tensor, Tensor]] | None = None

    def ego(self) -> Tensor:
        """``E^(0)``: both tables stacked, users first ``[num_users + num_items, D]``."""
        return torch.cat([self.users.weight, self.items.weight])

    def propagate(self, adjacency: Tensor | list[Tensor] | None = None, noise: float = 0.0) -> list[Tensor]:
        return [self.ego()]

    def combine(self, layers: list[Tensor]) -> Tensor:
        return layers[-1] if len(layers) == 1 else torch.stack(layers).mean(0)

    def split(self, h: Tensor) -> tuple[Tensor, Tensor]:
        return h[: self.num_users], h[self.num_users:]

    def user_item_embeddings(self) -> tuple[Tensor, Tensor]:
        """The final ``users [num_users, D]`` and ``items [num_items, D]``; without gradients they are
        cached until a weight changes."""
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            return self.split(self.combine(self.propagate()))
        key = tuple((p.data_ptr(), p._version) for p in self.parameters())
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, self.split(self.combine(self.propagate())))
        return self._cache[1]

    def forward(self, x: InteractionBatch) -> Tensor:
        users, _ = self.user_item_embeddings()
        return users[x.users]


def sign_aligned_noise(h: Tensor, eps: float) -> Tensor:
    r"""SimGCL's perturbation (Yu et al. 2022, Eq. 7): :math:`\Delta = \epsilon\, \bar\Delta \odot
    \mathrm{sign}(h)`, :math:`\bar\Delta` uniform in :math:`[0, 1)^D` scaled to unit norm per row."""
    return eps * F.normalize(torch.rand_like(h), dim=1) * torch.sign(h)


class LightGCN(IdEmbeddings):
    """LightGCN (He et al. 2020): ID embeddings propagated over the normalised user–item graph.

    Args:
        input_spec: catalogue sizes and the training pairs (the graph).
        embedding_dim: ``D``; 64 as in the paper.
        layers: propagation layers ``K``; 3 is the paper's best on its data sets (Table 2).
        keep_ego: average ``E^(0)`` with the propagated layers (LightGCN, SGL, NCL) or only the
            propagated ones (SimGCL and XSimGCL's encoders; their methods set it).
    """

    def __init__(self, input_spec: InteractionSpec, embedding_dim: int = 64, layers: int = 3,
                 keep_ego: bool = True) -> None:
        super().__init__(input_spec, embedding_dim)
        check_int(layers, "layers")
        self.layers, self.keep_ego = layers, keep_ego
        graph = input_spec.graph
        if graph is None:  # rebuilt from encoder.json: the buffers are filled from the saved weights
            graph = torch.zeros(2, input_spec.num_train, dtype=torch.long)
        self.register_buffer("graph_pairs", graph.to(torch.int32))
        self._graph: BipartiteGraph | None = None
        self.register_load_state_dict_post_hook(lambda module, keys: setattr(module, "_graph", None))

    @property
    def graph(self) -> BipartiteGraph:
        """The training graph on the encoder's device."""
        pairs = self.graph_pairs
        if self._graph is None or self._graph.device != pairs.device:
            self._graph = BipartiteGraph(pairs[0].long(), pairs[1].long(), self.num_users, self.num_items)
        return self._graph

    def propagate(self, adjacency: Tensor | list[Tensor] | None = None, noise: float = 0.0) -> list[Tensor]:
        if adjacency is None:
            adjacency = self.graph.adjacency()
        per_layer = adjacency if isinstance(adjacency, list) else [adjacency] * self.layers
        h = self.ego()
        layers = [h]
        for a in per_layer:
            h = propagate(a, h)
            if noise:
                h = h + sign_aligned_noise(h, noise)
            layers.append(h)
        return layers

    def combine(self, layers: list[Tensor]) -> Tensor:
        kept = layers if self.keep_ego or len(layers) == 1 else layers[1:]
        return torch.stack(kept).mean(0)


@ENCODERS.register("mf", modality="interactions", description="matrix factorisation: a learned 64-d vector per "
                   "user and per item (Rendle et al. 2009)")
def mf(input_spec: InteractionSpec, embedding_dim: int = 64) -> IdEmbeddings:
    return IdEmbeddings(input_spec, embedding_dim)


@ENCODERS.register("lightgcn", modality="interactions", description="LightGCN: ID embeddings averaged over 3 "
                   "layers of propagation on the normalised user-item graph (He et al. 2020)")
def lightgcn(input_spec: InteractionSpec, embedding_dim: int = 64, layers: int = 3, keep_ego: bool = True) -> LightGCN:
    return LightGCN(input_spec, embedding_dim, layers, keep_ego)
