r"""Cross-entropy to hard cluster labels (pseudo-labels), averaged over several clustering heads:
the objective of SeLa (Asano et al. 2020, eq. 1 with self-labels; several heads in Section 3.3
"Multiple heads") and DeepCluster-v2 (SwAV paper, Appendix, scores against fixed centroids at
temperature 0.1).

A per-sample mean, so ``W`` processes with ``B`` samples each (DDP averages their losses and
gradients) optimise the full-batch objective provided the labels are the global ones — which
the methods' replicated label banks ensure.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from selfsup.validate import check_positive


def pseudo_label_loss(
    logits: Sequence[Tensor],
    labels: Sequence[Tensor],
    temperature: float = 1.0,
    ignore_index: int = -1,
) -> Tensor:
    r"""Cross-entropy to hard pseudo-labels, averaged over ``H`` clustering heads.

    .. math::
        \mathcal{L} = \frac{1}{H} \sum_{h=1}^{H} \frac{1}{|I_h|} \sum_{i \in I_h}
                      -\log \operatorname{softmax}(s_{h,i} / \tau)_{y_{h,i}}

    with :math:`I_h` the samples whose label is not ``ignore_index`` (DeepCluster-v2 has no
    label yet for a sample never clustered). SeLa: :math:`s` are head logits, :math:`\tau=1`.
    DeepCluster-v2: :math:`s` are cosine scores against the centroids, :math:`\tau = 0.1`.

    Args:
        logits: ``H`` tensors ``[N, K_h]`` (heads may have different numbers of clusters).
        labels: ``H`` long tensors ``[N]`` in ``[0, K_h)`` or ``ignore_index``.
        temperature: :math:`\tau`.
        ignore_index: label value that contributes nothing.

    Returns:
        Scalar loss (0, still attached to ``logits``, for a head whose labels are all
        ignored).
    """
    if len(logits) == 0 or len(logits) != len(labels):
        raise ValueError(f"pseudo_label_loss needs one label tensor per head, got {len(logits)} "
                         f"logit tensors and {len(labels)} label tensors")
    check_positive(temperature=temperature)
    per_head = []
    for s, y in zip(logits, labels):
        if s.dim() != 2 or y.shape != s.shape[:1]:
            raise ValueError(f"pseudo_label_loss expects logits [N, K] and labels [N], got "
                             f"{tuple(s.shape)} and {tuple(y.shape)}")
        if bool((y == ignore_index).all()):
            per_head.append(s.sum() * 0.0)  # keeps every parameter in the graph (DDP)
            continue
        per_head.append(F.cross_entropy(s / temperature, y, ignore_index=ignore_index))
    return torch.stack(per_head).mean()
