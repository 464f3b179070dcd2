import math

import pytest
import torch

from selfsup.losses.nt_xent import NTXentLoss, nt_xent


def _nt_xent_reference(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Eq. 1 of SimCLR written out anchor by anchor over the 2N x 2N similarity matrix.

    Pairs are interleaved here ([a0, b0, a1, b1, ...]) rather than stacked, so the index
    arithmetic differs from the implementation under test.
    """
    n = z1.shape[0]
    z = torch.stack([z1, z2], dim=1).reshape(2 * n, -1)
    z = z / z.norm(dim=1, keepdim=True)
    sim = (z @ z.T) / temperature
    losses = []
    for i in range(2 * n):
        j = i + 1 if i % 2 == 0 else i - 1
        denominator = sum(math.exp(sim[i, k].item()) for k in range(2 * n) if k != i)
        losses.append(-math.log(math.exp(sim[i, j].item()) / denominator))
    return torch.tensor(sum(losses) / (2 * n), dtype=torch.float64)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_equals_cross_entropy_formulation(temperature):
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(6, 5, generator=g, dtype=torch.float64)
    z2 = torch.randn(6, 5, generator=g, dtype=torch.float64)
    expected = _nt_xent_reference(z1, z2, temperature)
    torch.testing.assert_close(nt_xent(z1, z2, temperature), expected)


def test_nt_xent_is_invariant_to_embedding_scale():
    z1, z2 = torch.randn(8, 4), torch.randn(8, 4)
    torch.testing.assert_close(nt_xent(3.0 * z1, 0.5 * z2), nt_xent(z1, z2))


def test_nt_xent_is_lower_for_aligned_pairs():
    z = torch.randn(16, 8)
    assert nt_xent(z, z + 0.01 * torch.randn_like(z)) < nt_xent(z, torch.randn_like(z))


def test_nt_xent_module_matches_function():
    z1, z2 = torch.randn(8, 4), torch.randn(8, 4)
    torch.testing.assert_close(NTXentLoss(temperature=0.2)(z1, z2), nt_xent(z1, z2, 0.2))


def test_nt_xent_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="equal shape"):
        nt_xent(torch.randn(8, 4), torch.randn(7, 4))
