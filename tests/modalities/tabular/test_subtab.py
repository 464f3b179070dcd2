"""SubTab: the joint loss's three terms, forward/backward through the table MLP with the subtab
views, and the options it refuses."""

from __future__ import annotations

import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modality import get_modality
from selfsup.registry import ENCODERS, METHODS, VIEWS

get_modality("tabular")
from selfsup.modalities.tabular import table_source
from selfsup.modalities.tabular.data.builtins import synthetic_table
from selfsup.modalities.tabular.losses.subtab import subtab_terms


def _method(source, **options):
    torch.manual_seed(0)
    encoder = ENCODERS.build("tabular_mlp", source.input_spec, hidden_dims=[32, 32])
    return METHODS.build("subtab", encoder, VIEWS.build("subtab", source.input_spec, num_subsets=3), **options)


def test_terms_vanish_when_every_subset_reconstructs_the_row_and_projects_alike():
    torch.manual_seed(0)
    rows, numeric = 16, torch.randn(16, 5)
    same = torch.randn(rows, 64)
    terms = subtab_terms([same, same.clone(), same.clone()], [numeric] * 3, [[], [], []], numeric,
                         torch.zeros(rows, 5, dtype=torch.bool), torch.zeros(rows, 0, dtype=torch.long))
    assert terms["reconstruction_loss"] == 0 and terms["distance_loss"] == 0
    assert terms["contrastive_loss"] < 0.05  # each row's subsets pick each other out
    shuffled = subtab_terms([same, same[torch.randperm(rows)]], [numeric] * 2, [[], []], numeric,
                            torch.zeros(rows, 5, dtype=torch.bool), torch.zeros(rows, 0, dtype=torch.long))
    assert shuffled["contrastive_loss"] > 1 and shuffled["distance_loss"] > 1


def test_reconstruction_targets_are_the_whole_original_row_missing_values_left_out():
    numeric = torch.zeros(4, 2)
    missing = torch.tensor([[False, True]] * 4)
    prediction = torch.tensor([[1.0, 100.0]] * 4)  # wrong on the missing column only by 100
    terms = subtab_terms([torch.randn(4, 3), torch.randn(4, 3)], [prediction] * 2, [[], []], numeric, missing,
                         torch.zeros(4, 0, dtype=torch.long))
    assert torch.isclose(terms["reconstruction_loss"], torch.tensor(0.5))  # (1 + 0) / 2 columns


def test_forward_backward_trains_encoder_decoders_and_projector():
    source = table_source(synthetic_table(n=96), target="class")
    method = _method(source)
    out = method(source.train.__getitems__(list(range(64))))
    assert {"reconstruction_loss", "contrastive_loss", "distance_loss"} <= set(out)
    out["loss"].backward()
    for module in (method.encoder, method.numeric_decoder, method.categorical_decoders, method.projector):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


@pytest.mark.parametrize("option, value", [("temperature", 0), ("distance_weight", -1), ("projector_dim", 0)])
def test_invalid_options_are_one_error(option, value):
    with pytest.raises(SelfsupError, match=option):
        _method(table_source(synthetic_table(n=40), target="class"), **{option: value})


def test_subtab_refuses_views_with_a_single_subset():
    source = table_source(synthetic_table(n=40), target="class")
    encoder = ENCODERS.build("tabular_mlp", source.input_spec, hidden_dims=[8])
    with pytest.raises(SelfsupError, match="at least 2 feature subsets"):
        METHODS.build("subtab", encoder, VIEWS.build("subtab", source.input_spec, num_subsets=1))
