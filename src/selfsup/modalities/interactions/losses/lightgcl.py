r"""LightGCL's contrast between the graph view and the SVD view (Cai et al. 2023, Eq. 6, in the form
of the authors' released code).

Each anchor :math:`g_u` (a node's embedding in the SVD-reconstructed view) must pick its own graph
embedding :math:`e_u` among the graph embeddings of every node of its side (all users, or all items):

.. math::
    \mathcal{L}_s = \frac{1}{B} \sum_{u \in B} \Big[ -\mathrm{clip}\big(g_u^\top e_u / \tau, -5, 5\big)
    + \log \sum_{v} \exp\big(g_u^\top e_v / \tau\big) \Big]

Inner products of the layer-summed embeddings, not cosines, and the positive term clipped to
:math:`[-5, 5]`: the code behind the paper's figures (its Eq. 6 writes a cosine :math:`s(\cdot)`
per layer). With raw inner products the term's gradient grows with the embeddings, as BPR's does,
so it does not swamp BPR at initialisation (see ``methods/base.py``).

Shapes: ``anchors [B, D]`` (SVD view of the batch's nodes), ``positives [B, D]`` (their graph
embeddings), ``candidates [N, D]`` (graph embeddings of every node of the side); returns a scalar.

Example:
    >>> g, e = torch.randn(2, 16, 64).unbind(0)
    >>> loss = svd_contrast(g, e, torch.randn(100, 64), temperature=0.2)
"""

from __future__ import annotations

import torch
from torch import Tensor

# the authors' clip of the positive logit
POSITIVE_CLIP = 5.0


def svd_contrast(anchors: Tensor, positives: Tensor, candidates: Tensor, temperature: float) -> Tensor:
    """LightGCL's contrast (module doc)."""
    positive = ((anchors * positives).sum(-1) / temperature).clamp(-POSITIVE_CLIP, POSITIVE_CLIP)
    every = torch.logsumexp(anchors @ candidates.T / temperature, dim=-1)
    return (every - positive).mean()
