"""The token-encoder contract (vit_tiny implements it), sin-cos position embeddings, gathering."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from selfsup.encoders.tokens import TokenEncoder, check_token_encoder, gather_tokens
from selfsup.errors import SelfsupError
from selfsup.modalities.image.encoders.cnn import SmallCNN
from selfsup.modalities.image.encoders.vit import ViTEncoder
from selfsup.nn.pos_embed import sincos_pos_embed, sincos_pos_embed_1d, sincos_pos_embed_2d

SMALL_VIT = {"depth": 1, "dim": 16, "heads": 2}


def test_vit_tiny_states_the_token_contract():
    vit = ViTEncoder((3, 8, 12), patch_size=2, **SMALL_VIT)
    assert isinstance(vit, TokenEncoder)
    assert check_token_encoder(vit, "mae") is vit
    assert vit.token_grid == (4, 6) and vit.num_tokens == 24
    assert vit.token_dim == 16 and vit.token_target_dim == 2 * 2 * 3
    x = torch.rand(2, 3, 8, 12)
    assert vit.forward_tokens(x).shape == (2, 24, 16)
    assert vit.forward_tokens(x, keep_index=torch.tensor([[0, 3], [5, 1]])).shape == (2, 2, 16)


def test_vit_token_targets_are_the_pixels_of_each_patch_in_row_major_order():
    vit = ViTEncoder((3, 8, 12), patch_size=2, **SMALL_VIT)
    x = torch.rand(2, 3, 8, 12)
    targets = vit.token_targets(x)
    assert targets.shape == (2, 24, 12)
    gh, gw = vit.token_grid
    for b in range(2):
        for i in range(gh * gw):
            r, c = divmod(i, gw)
            patch = x[b, :, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2]  # [C, p, p]
            # same pixels (the order inside a token is the encoder's business)
            assert torch.equal(targets[b, i].sort().values, patch.reshape(-1).sort().values)


def test_check_token_encoder_names_the_method_and_what_is_missing():
    with pytest.raises(SelfsupError, match="method 'mae' needs a token encoder such as vit_tiny; "
                                           "small_cnn has no forward_tokens"):
        check_token_encoder(SmallCNN((1, 8, 8)), "mae")


def test_check_token_encoder_rejects_a_grid_that_does_not_match_num_tokens():
    vit = ViTEncoder((1, 8, 8), **SMALL_VIT)
    vit.token_grid = (3, 5)
    with pytest.raises(SelfsupError, match="token_grid"):
        check_token_encoder(vit, "jepa")


def test_gather_tokens_equals_indexing_sample_by_sample():
    tokens = torch.randn(3, 7, 4)
    index = torch.tensor([[0, 6], [2, 2], [5, 1]])
    expected = torch.stack([tokens[b, index[b]] for b in range(3)])
    assert torch.equal(gather_tokens(tokens, index), expected)
    assert torch.equal(gather_tokens(tokens, torch.tensor([4])), tokens[:, [4]])


def test_sincos_1d_equals_the_transformer_formula():
    dim, length = 8, 5
    table = sincos_pos_embed_1d(dim, length)
    for pos in range(length):
        for k in range(dim // 2):
            angle = pos / 10000 ** (k / (dim // 2))
            assert table[pos, k].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, dim // 2 + k].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_sincos_2d_encodes_rows_then_columns_and_dispatches_on_the_grid():
    table = sincos_pos_embed_2d(16, (3, 4))
    rows, cols = sincos_pos_embed_1d(8, 3), sincos_pos_embed_1d(8, 4)
    for i in range(12):
        r, c = divmod(i, 4)
        assert torch.allclose(table[i], torch.cat([rows[r], cols[c]]))
    assert torch.equal(sincos_pos_embed(16, (3, 4)), table)
    assert torch.equal(sincos_pos_embed(16, (7,)), sincos_pos_embed_1d(16, 7))
    assert torch.unique(table, dim=0).shape[0] == 12


@pytest.mark.parametrize("dim, grid", [(6, (2, 2)), (5, (4,)), (8, (2, 2, 2))])
def test_sincos_rejects_bad_widths_and_grids(dim, grid):
    with pytest.raises(SelfsupError):
        sincos_pos_embed(dim, grid)


def test_vit_keeps_working_with_the_shared_position_embedding():
    from selfsup.modalities.image.encoders.vit import sincos_pos_embed as vit_table

    vit = ViTEncoder((1, 8, 8), **SMALL_VIT)
    assert torch.equal(vit.pos_embed[0], sincos_pos_embed(16, (4, 4)))
    assert vit_table is sincos_pos_embed
    assert vit(torch.rand(2, 1, 8, 8)).shape == (2, 16)


def test_any_module_with_the_attributes_is_a_token_encoder():
    class Sequence1D(nn.Module):
        num_tokens, token_grid, token_dim, token_target_dim, output_dim = 5, (5,), 4, 3, 4

        def forward_tokens(self, x, keep_index=None, mask=None, mask_token=None):
            return torch.zeros(x.shape[0], 5, 4)

        def token_targets(self, x):
            return x

    assert check_token_encoder(Sequence1D(), "jepa") is not None
