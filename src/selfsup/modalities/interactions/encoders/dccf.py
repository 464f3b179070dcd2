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
those weights, both differentiated with respect to the embeddings and the weights by sparse
products over the same pattern (its transpose is a permutation of the edges, the graph being
undirected). On ml-100k a step is ~10x faster than gathering the two ends of every edge, and ~3x
faster than autograd's own backward of these sparse products, which masks dense products.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

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


def _csr(pattern: Tensor, values: Tensor) -> Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(pattern.crow_indices(), pattern.col_indices(), values, pattern.shape,
                                       check_invariants=False)


def _edge_dots(a: Tensor, b: Tensor, pattern: Tensor) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        empty = _csr(pattern, a.new_zeros(pattern.col_indices().shape))
        return torch.sparse.sampled_addmm(empty, a, b.T, beta=0.0).values()


def transpose_order(pattern: Tensor) -> Tensor:
    """``[E]``: for the edge ``k = (i, j)`` of a CSR ``pattern`` whose edges come in both directions,
    the position of ``(j, i)``; ``values[transpose_order(pattern)]`` are the transpose's values."""
    crow, col = pattern.crow_indices(), pattern.col_indices()
    n = pattern.shape[0]
    rows = torch.repeat_interleave(torch.arange(n, device=col.device), crow[1:] - crow[:-1])
    return torch.searchsorted(rows * n + col, col * n + rows)


class _EdgeDots(torch.autograd.Function):
    """``h_i · h_j`` on the edges of ``pattern``; backward ``(G + G^T) grad`` with ``G`` the edge
    gradients as a sparse matrix (autograd's own backward of ``sampled_addmm`` masks dense products
    and took most of a DCCF step)."""

    @staticmethod
    def forward(ctx: Any, h: Tensor, pattern: Tensor, transpose: Tensor) -> Tensor:
        ctx.save_for_backward(h, transpose)
        ctx.pattern = pattern
        return _edge_dots(h, h, pattern)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        h, transpose = ctx.saved_tensors
        return (_csr(ctx.pattern, grad) @ h + _csr(ctx.pattern, grad[transpose]) @ h), None, None


class _EdgeProduct(torch.autograd.Function):
    """``A @ h`` for the sparse ``A`` with ``values`` on the edges of ``pattern``; backward
    ``A^T grad`` and the edge gradients ``grad_i · h_j``."""

    @staticmethod
    def forward(ctx: Any, values: Tensor, h: Tensor, pattern: Tensor, transpose: Tensor) -> Tensor:
        ctx.save_for_backward(values, h, transpose)
        ctx.pattern = pattern
        return _csr(pattern, values) @ h

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None, None]:
        values, h, transpose = ctx.saved_tensors
        grad_values = _edge_dots(grad, h, ctx.pattern) if ctx.needs_input_grad[0] else None
        grad_h = _csr(ctx.pattern, values[transpose]) @ grad if ctx.needs_input_grad[1] else None
        return grad_values, grad_h, None, None


def edge_agreement(h: Tensor, pattern: Tensor, transpose: Tensor | None = None) -> Tensor:
    r"""``[E]`` weights :math:`(\cos(h_i, h_j) + 1) / 2` of the edges of the sparse CSR ``pattern``
    ``[N, N]`` (edges in both directions), in its order: a sampled dense–dense product, only the
    edges are computed. ``transpose``: :func:`transpose_order` of ``pattern`` (computed if not given)."""
    transpose = transpose_order(pattern) if transpose is None else transpose
    return (_EdgeDots.apply(F.normalize(h, dim=1), pattern, transpose) + 1) / 2


def weighted_propagation(h: Tensor, pattern: Tensor, weights: Tensor, transpose: Tensor | None = None) -> Tensor:
    """``h`` propagated over the edges of the CSR ``pattern`` with ``weights`` (in its order), each
    row's weights divided by their sum: the row-normalised adaptive adjacency ``D_alpha^-1 A_alpha``
    times ``h``, differentiable with respect to ``h`` and ``weights``."""
    crow = pattern.crow_indices()
    n = pattern.shape[0]
    transpose = transpose_order(pattern) if transpose is None else transpose
    rows = torch.repeat_interleave(torch.arange(n, device=h.device), crow[1:] - crow[:-1])
    row_sum = torch.zeros(n, dtype=weights.dtype, device=weights.device).index_add(0, rows, weights)
    return _EdgeProduct.apply(weights / row_sum.clamp(min=1e-12)[rows], h, pattern, transpose)


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
        self._transpose: tuple[Tensor, Tensor] | None = None  # (adjacency, its transpose_order)

    def layer_views(self, h: Tensor) -> IntentViews:
        """The four representations of a layer whose embeddings are ``h`` (module doc)."""
        adjacency = self.graph.adjacency()
        if self._transpose is None or self._transpose[0] is not adjacency:
            self._transpose = (adjacency, transpose_order(adjacency))
        transpose = self._transpose[1]
        local = propagate(adjacency, h)
        users, items = self.split(h)
        intent = torch.cat([intent_aggregation(users, self.user_intents), intent_aggregation(items, self.item_intents)])
        return IntentViews(
            graph=local, intent=intent,
            graph_adaptive=weighted_propagation(h, adjacency, edge_agreement(local, adjacency, transpose), transpose),
            intent_adaptive=weighted_propagation(h, adjacency, edge_agreement(intent, adjacency, transpose),
                                                 transpose))

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
