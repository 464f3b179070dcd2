"""Span masking of frames, as wav2vec 2.0 and HuBERT mask their latent frames (Baevski et al.
2020, Section 3.1; Hsu et al. 2021, Section III-A): a proportion ``p`` of each clip's valid frames
are drawn (without replacement) as starting indices and the ``span`` frames from each are masked;
spans may overlap (with p = 0.065 and span 10, about 49 % of the frames end up masked).

The number of starts per clip is ``floor(p * L + u)``, ``u ~ U[0, 1)`` (at least 1), with starts
among the ``L - span + 1`` positions whose span fits the clip (all ``L`` if the clip is shorter
than a span). Drawn from the global torch RNG on the batch's device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def span_mask(valid: torch.Tensor, start_prob: float, span: int) -> torch.Tensor:
    """Bool ``[B, T]`` mask (True = masked) over the valid frames ``valid [B, T]``."""
    b, t = valid.shape
    n = valid.sum(dim=1)
    positions = (n - span + 1).clamp_min(1)  # where a start may sit
    starts_wanted = (start_prob * n + torch.rand(b, device=valid.device)).floor().long().clamp_min(1)
    starts_wanted = torch.minimum(starts_wanted, positions)
    # a uniform random subset of size k of the allowed positions: the k smallest random scores
    scores = torch.rand(b, t, device=valid.device)
    allowed = torch.arange(t, device=valid.device)[None] < positions[:, None]
    scores = scores.masked_fill(~allowed, 2.0)
    rank = scores.argsort(dim=1).argsort(dim=1)
    starts = (rank < starts_wanted[:, None]).float()
    # frame t is masked when a start lies in (t - span, t]
    covered = F.conv1d(F.pad(starts[:, None], (span - 1, 0)), torch.ones(1, 1, span, device=valid.device))
    return (covered[:, 0] > 0) & valid
