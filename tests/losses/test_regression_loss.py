import torch

from selfsup.losses.byol import BYOLLoss, byol_loss


def test_byol_loss_equals_two_minus_two_cosine():
    p, z = torch.randn(10, 6, dtype=torch.float64), torch.randn(10, 6, dtype=torch.float64)
    cos = (p * z).sum(1) / (p.norm(dim=1) * z.norm(dim=1))
    torch.testing.assert_close(byol_loss(p, z), (2 - 2 * cos).mean())


def test_byol_loss_equals_squared_distance_of_normalized_vectors():
    p, z = torch.randn(10, 6, dtype=torch.float64), torch.randn(10, 6, dtype=torch.float64)
    p_bar = p / p.norm(dim=1, keepdim=True)
    z_bar = z / z.norm(dim=1, keepdim=True)
    torch.testing.assert_close(byol_loss(p, z), (p_bar - z_bar).pow(2).sum(1).mean())


def test_byol_loss_is_zero_for_parallel_and_four_for_opposite_vectors():
    p = torch.randn(5, 3)
    torch.testing.assert_close(byol_loss(p, 7.0 * p), torch.tensor(0.0), atol=1e-6, rtol=0)
    torch.testing.assert_close(byol_loss(p, -p), torch.tensor(4.0))
    torch.testing.assert_close(BYOLLoss()(p, -p), torch.tensor(4.0))
