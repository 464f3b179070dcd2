r"""InfoGraph's local-global objective (Sun, Hoffmann, Verma, Tang 2020, "InfoGraph: Unsupervised
and Semi-supervised Graph-Level Representation Learning via Mutual Information Maximization",
eq. 3 and 4): the Jensen-Shannon mutual-information estimator between each node's (patch's)
embedding and its own graph's summary, against the summaries of the batch's other graphs.

With :math:`T(h^u, H(G)) = \phi(h^u)^\top \psi(H(G))` the score of node :math:`u` against graph
:math:`G` (:math:`\phi, \psi` the local and global discriminators) and
:math:`\mathrm{sp}(z) = \log(1 + e^z)`, the estimator of eq. 4 is

.. math::
    \hat I^{JSD}(h^u; H(G)) = \mathbb{E}_{\mathbb{P}}\big[-\mathrm{sp}(-T(h^u, H(G)))\big]
        - \mathbb{E}_{\mathbb{P} \times \tilde{\mathbb{P}}}\big[\mathrm{sp}(T(h^{u'}, H(G)))\big]

where positives are the (node, own graph) pairs and negatives the (node, other graph) pairs of the
batch. :func:`infograph_jsd_loss` returns :math:`-\hat I`: the mean of
:math:`\mathrm{sp}(-T)` over the :math:`n` positive pairs plus the mean of :math:`\mathrm{sp}(T)`
over the :math:`n (B - 1)` negative pairs (a binary cross-entropy of the scores).

Two conventions follow the authors' code (``local_global_loss_`` with ``measure="JSD"``) rather
than the letter of the paper: the means run over all nodes of the batch (eq. 3 averages each
graph's nodes first, so a graph counts once whatever its size), and the code's JSD carries a
:math:`\log 2` per term (:math:`\log 2 - \mathrm{sp}(-T)`, :math:`\mathrm{sp}(T) - \log 2`) that
is left out here: a constant :math:`2 \log 2` with no gradient.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def infograph_jsd_loss(local: Tensor, summary: Tensor, graph_index: Tensor) -> Tensor:
    r"""Negative Jensen-Shannon MI estimate between node and graph embeddings (eq. 4).

    Args:
        local: ``[n, D]`` the nodes' embeddings after the local discriminator :math:`\phi`.
        summary: ``[B, D]`` the graphs' summaries after the global discriminator :math:`\psi`.
        graph_index: ``[n]`` the graph (row of ``summary``) of each node.

    Returns:
        Scalar :math:`-\hat I^{JSD}`; 0 is its infimum, :math:`2 \log 2` its value at scores 0.

    Example:
        >>> local, summary = torch.randn(10, 8), torch.randn(3, 8)
        >>> loss = infograph_jsd_loss(local, summary, torch.tensor([0] * 4 + [1] * 3 + [2] * 3))
    """
    if local.dim() != 2 or summary.dim() != 2 or local.shape[1] != summary.shape[1]:
        raise ValueError(f"infograph_jsd_loss expects [n, D] and [B, D] embeddings, got "
                         f"{tuple(local.shape)} and {tuple(summary.shape)}")
    if graph_index.shape != (local.shape[0],):
        raise ValueError(f"graph_index must be [n] = [{local.shape[0]}], "
                         f"got {tuple(graph_index.shape)}")
    num_graphs = summary.shape[0]
    if num_graphs < 2:
        raise ValueError("infograph_jsd_loss needs at least 2 graphs (the negatives are the other "
                         f"graphs), got {num_graphs}")
    scores = local @ summary.T  # [n, B]: T(h^u, H(G)) for every node and graph of the batch
    positive = F.one_hot(graph_index, num_graphs).bool()
    positive_term = F.softplus(-scores[positive]).mean()
    negative_term = F.softplus(scores[~positive]).mean()
    return positive_term + negative_term
