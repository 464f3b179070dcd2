"""GCA: GRACE's node-level contrast between two views whose corruption adapts to node centrality."""

from __future__ import annotations

from selfsup.modalities.graph.methods.grace import GRACE
from selfsup.registry import METHODS


@METHODS.register(
    "gca",
    family="contrastive",
    paper="Zhu et al. 2021, Graph Contrastive Learning with Adaptive Augmentation",
    modality="graph",
    default_encoder="gcn",
    default_views="gca_augment",
)
class GCA(GRACE):
    r"""GCA (Zhu, Xu, Yu, Liu, Wu, Wang 2021, WWW'21).

    GRACE's objective on adaptive views. Each view removes edge :math:`(u, v)` with probability
    (Section 3.2.1)

    .. math::
        p^e_{uv} = \min\Big(\frac{s^e_{\max} - s^e_{uv}}{s^e_{\max} - \mu^e_s}\, p_e,\; p_\tau\Big),
        \qquad s^e_{uv} = \log \varphi_c(v),

    and zeroes feature dimension :math:`i` of every node with probability (Section 3.2.2)

    .. math::
        p^f_i = \min\Big(\frac{s^f_{\max} - s^f_i}{s^f_{\max} - \mu^f_s}\, p_f,\; p_\tau\Big),
        \qquad s^f_i = \log \sum_u |x_{ui}|\, \varphi_c(u),

    with :math:`\varphi_c` a node centrality (degree, PageRank or eigenvector), so edges into
    central nodes and features of central nodes are kept more often
    (:class:`~selfsup.modalities.graph.views.adaptive.GCAAugment`). Both views go through a
    shared GNN and a projection head :math:`g`, and node :math:`u_i`'s embedding in one view must
    pick out the same node :math:`v_i` in the other among every other node of both views
    (Section 3.1, the same objective as GRACE):

    .. math::
        \ell(u_i, v_i) = -\log \frac{e^{\theta(u_i, v_i)/\tau}}
            {e^{\theta(u_i, v_i)/\tau} + \sum_{k \ne i} e^{\theta(u_i, v_k)/\tau}
             + \sum_{k \ne i} e^{\theta(u_i, u_k)/\tau}},

    averaged over both directions, :math:`\theta` the cosine similarity of the projections: NT-Xent
    over the :math:`2B` projections of :math:`B` nodes, as :class:`GRACE` computes it.

    Paper defaults vs. library defaults:
        * all nodes in the loss at every step. Library: the batch's nodes (``--batch-size``);
          message passing still uses the whole graph.
        * the views: degree centrality (GCA-DE, the main variant), :math:`p_\tau = 0.7`, rates
          tuned per data set (Appendix, hyper-parameter table; no Cora there). Library: the
          ``gca_augment`` defaults, Coauthor-CS's rates, :math:`p_e` 0.3 / 0.2, :math:`p_f`
          0.3 / 0.4.
        * :math:`\tau` 0.4 on Coauthor-CS (0.2 to 0.4 on the others), learning rate 5e-4, weight
          decay 1e-5, 1,000 full-graph epochs. Library: :math:`\tau = 0.4`; the trainer's optimiser.
        * a 2-layer GCN with 256-wide embeddings and a 2-layer ELU projection head, 256 wide on
          Coauthor-CS. Library: the ``gcn`` encoder and GRACE's head, hidden 128, output 128.
    """
