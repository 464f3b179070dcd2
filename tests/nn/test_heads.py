import pytest
import torch
from torch import nn

from selfsup.nn.heads import MLP


def test_mlp_maps_in_dim_to_out_dim():
    head = MLP(7, 16, 3, num_layers=3)
    assert head(torch.randn(5, 7)).shape == (5, 3)
    assert sum(isinstance(m, nn.Linear) for m in head) == 3
    assert sum(isinstance(m, nn.BatchNorm1d) for m in head) == 2


def test_mlp_single_layer_is_one_linear_map():
    head = MLP(7, 16, 3, num_layers=1)
    assert len(head) == 1 and isinstance(head[0], nn.Linear) and head[0].bias is not None


def test_mlp_without_batch_norm_has_biases():
    head = MLP(4, 8, 2, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in head)
    assert all(m.bias is not None for m in head if isinstance(m, nn.Linear))


def test_mlp_last_batch_norm_without_affine_standardises_outputs():
    head = MLP(4, 8, 6, last_batch_norm=True, last_affine=False).train()
    last = head[-1]
    assert isinstance(last, nn.BatchNorm1d) and not last.affine
    out = head(torch.randn(64, 4))
    torch.testing.assert_close(out.mean(0), torch.zeros(6), atol=1e-5, rtol=0)


def test_mlp_rejects_zero_layers():
    with pytest.raises(ValueError):
        MLP(4, 8, 2, num_layers=0)


@pytest.mark.parametrize("widths, name", [((4, -3, 2), "hidden_dim"), ((4, 8, 0), "out_dim")])
def test_mlp_refuses_a_width_below_one_with_a_value_error(widths, name):
    # torch itself raises RuntimeError for a negative width and builds a zero width silently
    with pytest.raises(ValueError, match=f"MLP {name} must be an integer >= 1"):
        MLP(*widths)


def test_mlp_ignores_the_hidden_width_of_a_single_linear_layer():
    assert MLP(4, 0, 2, num_layers=1).out_dim == 2
