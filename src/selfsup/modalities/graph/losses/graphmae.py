r"""GraphMAE's scaled cosine error (Hou, Liu, Cen, Dong, Yang, Wang, Tang 2022, "GraphMAE:
Self-Supervised Masked Graph Autoencoders", KDD, eq. 2): the reconstruction loss of masked
node features, with an exponent that down-weights the nodes already reconstructed well.

Per sample: no cross-process gather.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from selfsup.validate import check_positive_number


def scaled_cosine_error(reconstruction: Tensor, target: Tensor, gamma: float = 2.0) -> Tensor:
    r"""The scaled cosine error (SCE) of eq. 2, averaged over the rows:

    .. math::
        \mathcal{L}_{\text{SCE}} = \frac{1}{|\tilde V|} \sum_{v_i \in \tilde V}
            \Big( 1 - \frac{x_i^\top z_i}{\|x_i\| \cdot \|z_i\|} \Big)^\gamma, \qquad \gamma \ge 1

    Args:
        reconstruction: ``[M, F]`` the decoder's output :math:`z_i` for the masked nodes.
        target: ``[M, F]`` their original features :math:`x_i`.
        gamma: the scaling exponent :math:`\gamma` (> 0; the paper takes it >= 1).

    Returns:
        Scalar in ``[0, 2^\gamma]``; 0 when every reconstruction points along its target.

    Example:
        >>> x = torch.randn(5, 3)
        >>> scaled_cosine_error(2 * x, x)
        tensor(0.)
    """
    if reconstruction.shape != target.shape or reconstruction.dim() != 2:
        raise ValueError(f"scaled_cosine_error expects two [M, F] tensors of equal shape, got "
                         f"{tuple(reconstruction.shape)} and {tuple(target.shape)}")
    gamma = check_positive_number(gamma, "gamma")
    cosine = (F.normalize(reconstruction, dim=-1) * F.normalize(target, dim=-1)).sum(-1)
    # clamp: rounding can make 1 - cos slightly negative, and a fractional power of it NaN
    return (1 - cosine).clamp_min(0).pow(gamma).mean()


class ScaledCosineError(nn.Module):
    """Module form of :func:`scaled_cosine_error` (Hou et al. 2022, eq. 2).

    Shapes: ``reconstruction: [M, F]``, ``target: [M, F]`` -> scalar.
    """

    def __init__(self, gamma: float = 2.0) -> None:
        super().__init__()
        self.gamma = check_positive_number(gamma, "gamma")

    def forward(self, reconstruction: Tensor, target: Tensor) -> Tensor:
        return scaled_cosine_error(reconstruction, target, self.gamma)
