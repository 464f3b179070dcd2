r"""GCA's adaptive views (Zhu, Xu, Yu, Liu, Wu, Wang 2021, "Graph Contrastive Learning with
Adaptive Augmentation", WWW'21, Section 3.2): edges and feature dimensions are removed with
probabilities that fall with a node centrality, so important structure and attributes tend to
survive while the unimportant ones are perturbed more.

**Node centrality** :math:`\varphi_c` (Section 3.2.1), on the batch's graph: ``degree`` (the
in-degree, the degree of an undirected graph), ``pagerank`` (:math:`\sigma = \alpha A D^{-1}
\sigma + \mathbf 1`, :math:`\alpha = 0.85`, by power iteration) or ``eigenvector`` (the leading
eigenvector of :math:`A`, by power iteration on :math:`A + I`, unit norm per graph).

**Edges** (Section 3.2.1). An edge's weight is the centrality of the node it points to,
:math:`w^e_{uv} = \varphi_c(v)`, its score :math:`s^e_{uv} = \log w^e_{uv}`, and it is removed with

.. math::
    p^e_{uv} = \min\Big(\frac{s^e_{\max} - s^e_{uv}}{s^e_{\max} - \mu^e_s}\, p_e,\; p_\tau\Big),

:math:`s^e_{\max}`, :math:`\mu^e_s` the largest and the mean score, :math:`p_e` the view's overall
rate (the mean of :math:`p^e` before the cut-off) and :math:`p_\tau < 1` the cut-off. The paper's
text gives an undirected edge the mean of its two ends, :math:`(\varphi_c(u) + \varphi_c(v))/2`,
and a directed one its target's; the authors' code scores every stored direction ``u -> v`` by its
target :math:`v` (both directions of an undirected edge are stored and dropped independently),
which is the default here (``edge_centrality="target"``; ``"mean"`` gives the text's rule).

**Features** (Section 3.2.2). Dimension :math:`i` weighs :math:`w^f_i = \sum_u |x_{ui}|\,
\varphi_c(u)` (on 0/1 features: the centrality of the nodes that have it), scores
:math:`s^f_i = \log w^f_i`, and is zeroed for every node with

.. math::
    p^f_i = \min\Big(\frac{s^f_{\max} - s^f_i}{s^f_{\max} - \mu^f_s}\, p_f,\; p_\tau\Big).

Scores are :math:`\log(w + 1)`, as in the authors' code: it keeps a zero weight (a feature no node
has) finite. When every score is equal, every probability is the overall rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from selfsup.modalities.graph.data.graphs import Graphs, GraphSpec
from selfsup.modalities.graph.views.augment import rate_of_view, view_rates
from selfsup.registry import VIEWS
from selfsup.views import ViewMaker

CENTRALITIES = ("degree", "pagerank", "eigenvector")
EDGE_CENTRALITIES = ("target", "mean")
PAGERANK_DAMPING = 0.85  # the paper's alpha
ITERATIONS = 100  # power iterations: 0.85^100 < 1e-7 for PageRank


def degree_centrality(edge_index: Tensor, num_nodes: int) -> Tensor:
    """``[n]``: each node's in-degree (its degree when both directions of each edge are stored)."""
    return torch.bincount(edge_index[1], minlength=num_nodes).float()


def pagerank_centrality(edge_index: Tensor, num_nodes: int, damping: float = PAGERANK_DAMPING,
                        iterations: int = ITERATIONS) -> Tensor:
    r"""``[n]``: the PageRank of the GCA paper, :math:`\sigma = \alpha A D^{-1} \sigma + \mathbf 1`
    (``A[v, u] = 1`` for an edge ``u -> v``, ``D`` the out-degrees; a node without out-edges
    passes nothing on), by ``iterations`` steps of power iteration from :math:`\mathbf 1`.
    Up to the factor :math:`(1 - \alpha)/n` it is the usual PageRank of a graph without sinks."""
    src, dst = edge_index
    out_degree = torch.bincount(src, minlength=num_nodes).float()
    share = torch.where(out_degree > 0, 1.0 / out_degree.clamp(min=1), 0.0)
    sigma = torch.ones(num_nodes, device=edge_index.device)
    for _ in range(iterations):
        passed = torch.zeros_like(sigma).index_add_(0, dst, (sigma * share)[src])
        sigma = damping * passed + 1.0
    return sigma


def eigenvector_centrality(edge_index: Tensor, num_nodes: int, batch: Tensor | None = None,
                           iterations: int = ITERATIONS) -> Tensor:
    """``[n]``: the leading eigenvector of the adjacency matrix, non-negative, of unit norm within
    each graph of ``batch`` (the whole graph when None), by power iteration on ``A + I`` (same
    eigenvectors; the shift keeps a bipartite graph's iteration from oscillating). On a graph of
    several components the smaller components' entries fade towards 0, as the exact vector's."""
    src, dst = edge_index
    group = batch if batch is not None else torch.zeros(num_nodes, dtype=torch.long, device=src.device)
    groups = int(group.max()) + 1 if num_nodes else 0
    x = torch.ones(num_nodes, device=src.device)
    for _ in range(iterations):
        x = x + torch.zeros_like(x).index_add_(0, dst, x[src])
        norm = torch.zeros(groups, device=x.device).index_add_(0, group, x * x).sqrt()
        x = x / norm.clamp(min=torch.finfo(x.dtype).tiny)[group]
    return x


def adaptive_probabilities(scores: Tensor, rate: float, cutoff: float) -> Tensor:
    r"""``[m]``: :math:`\min\big((s_{\max} - s) / (s_{\max} - \mu_s) \cdot rate,\ cutoff\big)` of
    ``scores [m]``; ``rate`` everywhere (under the cut-off) when the scores are all equal."""
    if scores.numel() == 0:
        return scores
    top, mean = scores.max(), scores.mean()
    if bool(torch.all(scores == top)):
        return torch.full_like(scores, min(rate, cutoff))
    spread = (top - mean).clamp(min=torch.finfo(scores.dtype).tiny)
    return ((top - scores) / spread * rate).clamp(max=cutoff)


def edge_drop_probabilities(edge_index: Tensor, centrality: Tensor, rate: float, cutoff: float,
                            edge_centrality: str = "target") -> Tensor:
    """``[E]``: GCA's removal probability of each edge (see the module docstring)."""
    weight = centrality[edge_index[1]]
    if edge_centrality == "mean":
        weight = (weight + centrality[edge_index[0]]) / 2
    return adaptive_probabilities(torch.log1p(weight), rate, cutoff)


def feature_mask_probabilities(x: Tensor, centrality: Tensor, rate: float, cutoff: float) -> Tensor:
    """``[F]``: GCA's masking probability of each feature dimension of ``x [n, F]``."""
    weight = x.abs().t() @ centrality.to(x.dtype)
    return adaptive_probabilities(torch.log1p(weight), rate, cutoff)


@VIEWS.register("gca_augment", modality="graph",
                paper="Zhu et al. 2021, Graph Contrastive Learning with Adaptive Augmentation",
                description="GCA: centrality-adaptive edge dropping and feature masking; rates per view")
class GCAAugment(ViewMaker):
    """GCA's views of a graph batch (see the module docstring): node or graph level, the
    centrality computed on the batch's graph (a graph-level batch's graphs side by side).

    Args:
        input_spec: the graph's spec (unused: the views need nothing of it).
        drop_edge: :math:`p_e`, the mean edge-removal probability before the cut-off; a pair
            gives view 0 and view 1 their own.
        mask_feature: :math:`p_f`, the mean feature-masking probability; a pair, per view.
        cutoff: :math:`p_\\tau`, no edge or feature is removed with a higher probability, in (0, 1).
        centrality: ``degree``, ``pagerank`` or ``eigenvector``.
        edge_centrality: an edge's weight, ``target`` (its target node's centrality, the authors'
            code) or ``mean`` (the mean of its two ends', the paper's text for undirected graphs).

    Paper defaults vs. library defaults: the paper tunes the rates per data set (Appendix,
    hyper-parameter table; no citation graph such as Cora is among them). Library: Coauthor-CS's,
    the closest to a citation graph: :math:`p_e` 0.3 / 0.2, :math:`p_f` 0.3 / 0.4;
    :math:`p_\\tau = 0.7` and degree centrality as the paper's main variant (GCA-DE).
    """

    def __init__(
        self,
        input_spec: GraphSpec | None = None,
        drop_edge: float | Sequence[float] = (0.3, 0.2),
        mask_feature: float | Sequence[float] = (0.3, 0.4),
        cutoff: float = 0.7,
        centrality: str = "degree",
        edge_centrality: str = "target",
    ) -> None:
        super().__init__()
        self.drop_edge = view_rates("drop_edge", drop_edge)
        self.mask_feature = view_rates("mask_feature", mask_feature)
        if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 < cutoff < 1:
            raise ValueError(f"cutoff must be a probability in (0, 1), got {cutoff!r}")
        if centrality not in CENTRALITIES:
            raise ValueError(f"centrality must be one of {', '.join(CENTRALITIES)}, got {centrality!r}")
        if edge_centrality not in EDGE_CENTRALITIES:
            raise ValueError(f"edge_centrality must be one of {', '.join(EDGE_CENTRALITIES)}, "
                             f"got {edge_centrality!r}")
        self.cutoff = float(cutoff)
        self.centrality = centrality
        self.edge_centrality = edge_centrality
        self._cache: tuple[Tensor, int, Tensor] | None = None

    def node_centrality(self, g: Graphs) -> Tensor:
        """``[n]``: :math:`\\varphi_c` of every node of ``g``'s graph; PageRank and eigenvector
        centrality are cached for the last graph seen (the same edges: the same graph)."""
        if self.centrality == "degree":
            return degree_centrality(g.edge_index, g.num_nodes)
        cached = self._cache
        if (cached is not None and cached[1] == g.num_nodes and cached[0].device == g.edge_index.device
                and cached[0].shape == g.edge_index.shape and torch.equal(cached[0], g.edge_index)):
            return cached[2]
        if self.centrality == "pagerank":
            value = pagerank_centrality(g.edge_index, g.num_nodes)
        else:
            value = eigenvector_centrality(g.edge_index, g.num_nodes, g.batch)
        self._cache = (g.edge_index.clone(), g.num_nodes, value)
        return value

    def augment(self, x: Graphs, i: int) -> Graphs:
        centrality = self.node_centrality(x)
        edge_rate, feature_rate = rate_of_view(self.drop_edge, i), rate_of_view(self.mask_feature, i)
        view = x
        if edge_rate > 0:
            p = edge_drop_probabilities(x.edge_index, centrality, edge_rate, self.cutoff, self.edge_centrality)
            view = view.keep_edges(torch.rand_like(p) >= p)
        if feature_rate > 0:
            p = feature_mask_probabilities(x.x, centrality, feature_rate, self.cutoff)
            keep = torch.rand_like(p) >= p
            view = view.with_(x=x.x * keep.to(x.x.dtype))
        return view

    def extra_repr(self) -> str:
        return (f"drop_edge={list(self.drop_edge)}, mask_feature={list(self.mask_feature)}, "
                f"cutoff={self.cutoff}, centrality={self.centrality!r}, edge_centrality={self.edge_centrality!r}")
