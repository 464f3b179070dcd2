r"""DCCF's encoder: ID embeddings propagated with disentangled intents and adaptive graphs.

Ren, Xia, Zhao, Yin, Huang, "Disentangled Contrastive Collaborative Filtering" (SIGIR 2023),
Section 3. At every layer :math:`l` the embeddings :math:`E^{(l)}` (users and items stacked) give
four representations, and the next layer is their sum with a residual:

- **graph (local) view** :math:`Z^{(l)} = \hat A E^{(l)}`, LightGCN's normalised propagation (Eq. 1);
- **intent (global) view** :math:`R^{(l)}`: each user attends over ``num_intents`` learned user
  intent prototypes :math:`C_u \in \mathbb{R}^{D \times K}`,
  :math:`r_u = \sum_k \mathrm{softmax}_k(e_u^\top c_k)\, c_k` (Eq. 2–3), items over their own;
- **adaptive augmentations** :math:`H^{(l)}_\beta = \tilde A_\beta E^{(l)}` for
  :math:`\beta \in \{Z, R\}`: the graph's edges re-weighted by how much their two ends agree in
  that view, :math:`\alpha_{ij} = (\cos(\beta_i, \beta_j) + 1) / 2`, then divided by each row's sum
  (Eq. 5–7; learned, so gradients reach the weights);

:math:`E^{(l+1)} = Z^{(l)} + R^{(l)} + H^{(l)}_Z + H^{(l)}_R + E^{(l)}`, and the final embeddings are
:math:`\sum_{l=0}^{L} E^{(l)}` (the authors' code). The views feed DCCF's contrast
(:class:`~selfsup.modalities.interactions.methods.dccf.DCCF`).

The edge weights are a sampled dense–dense product on the graph's sparsity pattern
(``torch.sparse.sampled_addmm``) and the adaptive propagation a sparse CSR product whose values are
those weights; autograd differentiates both with respect to the embeddings and the weights (on
ml-100k, 100x faster than gathering the two ends of every edge).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.modalities.interactions.data.batch import InteractionSpec
from selfsup.modalities.interactions.encoders.graph import propagate
from selfsup.modalities.interactions.encoders.lightgcn import LightGCN
from selfsup.registry import ENCODERS
from selfsup.validate import check_int


@dataclass
class IntentViews:
    """The four representations of one DCCF layer, each ``[num_users + num_items, D]``: ``graph``
    (:math:`Z`), ``intent`` (:math:`R`), ``graph_adaptive`` (:math:`H_Z`), ``intent_adaptive``
    (:math:`H_R`)."""

    graph: Tensor
    intent: Tensor
    graph_adaptive: Tensor
    intent_adaptive: Tensor


def intent_aggregation(h: Tensor, intents: Tensor) -> Tensor:
    r"""``h [n, D]`` attending over ``intents [D, K]``: :math:`\mathrm{softmax}(h C)\, C^\top` ``[n, D]``."""
    return torch.softmax(h @ intents, dim=1) @ intents.T


def edge_agreement(h: Tensor, pattern: Tensor) -> Tensor:
    r"""``[E]`` weights :math:`(\cos(h_i, h_j) + 1) / 2` of the edges of the sparse CSR ``pattern``
    ``[N, N]``, in its order (a sampled dense–dense product: only the edges are computed)."""
    h = F.normalize(h, dim=1)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        cosine = torch.sparse.sampled_addmm(pattern, h, h.T, beta=0.0).values()
    return (cosine + 1) / 2


def weighted_propagation(h: Tensor, pattern: Tensor, weights: Tensor) -> Tensor:
    """``h`` propagated over the edges of the CSR ``pattern`` with ``weights`` (in its order), each
    row's weights divided by their sum: the row-normalised adaptive adjacency ``D_alpha^-1 A_alpha``
    times ``h``, differentiable with respect to ``h`` and ``weights``."""
    crow, col = pattern.crow_indices(), pattern.col_indices()
    n = pattern.shape[0]
    rows = torch.repeat_interleave(torch.arange(n, device=h.device), crow[1:] - crow[:-1])
    row_sum = torch.zeros(n, dtype=weights.dtype, device=weights.device).index_add(0, rows, weights)
    normalised = weights / row_sum.clamp(min=1e-12)[rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        adaptive = torch.sparse_csr_tensor(crow, col, normalised, (n, n), check_invariants=False)
        return adaptive @ h


class DCCFEncoder(LightGCN):
    """DCCF's encoder (module doc): LightGCN's ID embeddings and graph, plus user and item intent
    prototypes.

    Args:
        input_spec: catalogue sizes and the training pairs (the graph).
        embedding_dim: ``D`` (the authors' code: 32; the recipes use 64 like every other method here).
        layers: propagation layers (2 in the paper).
        num_intents: ``K`` intent prototypes per side (128 in the paper).
    """

    def __init__(self, input_spec: InteractionSpec, embedding_dim: int = 64, layers: int = 2,
                 num_intents: int = 128) -> None:
        super().__init__(input_spec, embedding_dim, layers, keep_ego=True)
        self.num_intents = check_int(num_intents, "num_intents")
        self.user_intents = nn.Parameter(nn.init.xavier_normal_(torch.empty(embedding_dim, self.num_intents)))
        self.item_intents = nn.Parameter(nn.init.xavier_normal_(torch.empty(embedding_dim, self.num_intents)))

    def layer_views(self, h: Tensor) -> IntentViews:
        """The four representations of a layer whose embeddings are ``h`` (module doc)."""
        adjacency = self.graph.adjacency()
        local = propagate(adjacency, h)
        users, items = self.split(h)
        intent = torch.cat([intent_aggregation(users, self.user_intents), intent_aggregation(items, self.item_intents)])
        return IntentViews(
            graph=local, intent=intent,
            graph_adaptive=weighted_propagation(h, adjacency, edge_agreement(local, adjacency)),
            intent_adaptive=weighted_propagation(h, adjacency, edge_agreement(intent, adjacency)))

    def propagate_views(self) -> tuple[list[Tensor], list[IntentViews]]:
        """``[E^(0), …, E^(L)]`` and the views of layers ``0 … L-1``."""
        layers, views = [self.ego()], []
        for _ in range(self.layers):
            v = self.layer_views(layers[-1])
            views.append(v)
            layers.append(v.graph + v.intent + v.graph_adaptive + v.intent_adaptive + layers[-1])
        return layers, views

    def propagate(self, adjacency: Tensor | list[Tensor] | None = None, noise: float = 0.0) -> list[Tensor]:
        if adjacency is not None or noise:
            raise ValueError("the dccf encoder builds its own adaptive graphs; it takes no adjacency or noise")
        return self.propagate_views()[0]

    def combine(self, layers: list[Tensor]) -> Tensor:
        return torch.stack(layers).sum(0)


@ENCODERS.register("dccf", modality="interactions", description="DCCF: ID embeddings propagated with 128 learned "
                   "intent prototypes and intent-/graph-adaptive edge weights, layers summed (Ren et al. 2023)")
def dccf(input_spec: InteractionSpec, embedding_dim: int = 64, layers: int = 2, num_intents: int = 128) -> DCCFEncoder:
    return DCCFEncoder(input_spec, embedding_dim, layers, num_intents)
