"""Table views (what they replace, and with what), the table MLP, SCARF and VIME forward/backward,
and a short pretrain through the API on a tiny CSV."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from selfsup.errors import SelfsupError
from selfsup.modality import get_modality
from selfsup.registry import ENCODERS, METHODS, VIEWS

get_modality("tabular")
from selfsup.modalities.tabular import TabularBatch, TabularSpec
from selfsup.modalities.tabular.data.builtins import synthetic_table
from selfsup.modalities.tabular.losses.scarf import scarf_loss

SPEC = TabularSpec(("a", "b", "c", "d"), ("e", "f"), (5, 3))


def _batch(rows: int = 256) -> dict:
    generator = torch.Generator().manual_seed(0)
    # column j of the numbers holds values 100 j + small: a replaced value shows its column
    numeric = torch.arange(4).float() * 100 + torch.rand(rows, 4, generator=generator)
    missing = torch.rand(rows, 4, generator=generator) < 0.1
    categorical = torch.stack([torch.randint(1, 5, (rows,), generator=generator),
                               torch.randint(1, 3, (rows,), generator=generator)], dim=1)
    return {"x": TabularBatch(numeric, missing, categorical, SPEC.cardinalities), "index": torch.arange(rows)}


def test_scarf_replaces_exactly_the_rate_of_each_row_from_the_same_column():
    torch.manual_seed(0)
    batch = _batch()
    (view,) = VIEWS.build("scarf", SPEC, corruption_rate=0.5)(batch, 1)
    corrupted = view["corrupted"]
    assert (corrupted.sum(1) == 3).all()  # round(0.5 * 6) features per row
    x, original = view["x"], batch["x"]
    # every numeric value still belongs to its column, and untouched entries are unchanged
    assert ((x.numeric // 100) == torch.arange(4).float()).all()
    kept = ~corrupted[:, :4]
    assert torch.equal(x.numeric[kept], original.numeric[kept])
    # a replaced entry is the same column of some row of the batch (value and missing flag)
    rows, cols = corrupted[:, :4].nonzero(as_tuple=True)
    for r, c in zip(rows[:50].tolist(), cols[:50].tolist()):
        donors = (original.numeric[:, c] == x.numeric[r, c]).nonzero().flatten()
        assert len(donors) and original.missing[donors[0], c] == x.missing[r, c]
    assert (x.categorical[:, 1] <= 2).all()  # column f's categories stay column f's


@pytest.mark.parametrize("name, option, rate", [("swap_noise", "p", 0.15), ("vime_mask", "mask_prob", 0.3)])
def test_bernoulli_views_replace_about_p_of_the_entries(name, option, rate):
    torch.manual_seed(0)
    batch = _batch(2048)
    (view,) = VIEWS.build(name, SPEC, **{option: rate})(batch, 1)
    assert abs(view["corrupted"].float().mean().item() - rate) < 0.02
    changed = view["x"].numeric != batch["x"].numeric
    assert not (changed & ~view["corrupted"][:, :4]).any()


def test_views_differ_per_row_and_per_call():
    torch.manual_seed(0)
    views = VIEWS.build("scarf", SPEC)
    v1, v2 = views(_batch(), 2)
    assert not torch.equal(v1["corrupted"], v2["corrupted"])
    assert len({tuple(row) for row in v1["corrupted"].int().tolist()}) > 10


def test_gaussian_noise_moves_present_numbers_only():
    torch.manual_seed(0)
    batch = _batch()
    (view,) = VIEWS.build("gaussian_noise", SPEC, sigma=0.5)(batch, 1)
    x, original = view["x"], batch["x"]
    assert torch.equal(x.numeric[original.missing], original.numeric[original.missing])
    assert (x.numeric[~original.missing] != original.numeric[~original.missing]).all()
    assert torch.equal(x.categorical, original.categorical)


@pytest.mark.parametrize("name, option, value", [
    ("scarf", "corruption_rate", 1.5), ("swap_noise", "p", -0.1), ("vime_mask", "mask_prob", "a"),
    ("gaussian_noise", "sigma", -1.0),
])
def test_invalid_view_options_are_one_error(name, option, value):
    with pytest.raises(SelfsupError, match=option):
        VIEWS.build(name, SPEC, **{option: value})


def test_tabular_mlp_maps_rows_to_output_dim():
    encoder = ENCODERS.build("tabular_mlp", SPEC, hidden_dims=[32, 16], embedding_dim=4)
    z = encoder(_batch(8)["x"])
    assert z.shape == (8, 16) and encoder.output_dim == 16
    with pytest.raises(SelfsupError, match="hidden_dims"):
        ENCODERS.build("tabular_mlp", SPEC, hidden_dims=[0])


def test_scarf_loss_is_low_when_each_anchor_matches_its_own_view():
    z = torch.randn(16, 8)
    assert scarf_loss(z, z, 0.1) < scarf_loss(z, torch.randn(16, 8), 0.1)
    assert torch.isclose(scarf_loss(z, z[torch.randperm(16)], 1e9), torch.log(torch.tensor(16.0)), atol=1e-4)


@pytest.mark.parametrize("method_name, views_name", [("scarf", "scarf"), ("vime", "vime_mask")])
def test_tabular_methods_train(method_name, views_name):
    torch.manual_seed(0)
    encoder = ENCODERS.build("tabular_mlp", SPEC, hidden_dims=[32, 32])
    method = METHODS.build(method_name, encoder, VIEWS.build(views_name, SPEC))
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-3)
    batch = _batch(64)
    batch["x"] = batch["x"].with_(numeric=batch["x"].numeric / 100)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        out = method(batch)
        out["loss"].backward()
        optimizer.step()
        losses.append(out["loss"].item())
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert all(p.grad is not None for p in method.encoder.parameters())


def test_vime_refuses_views_that_do_not_say_what_they_replaced():
    encoder = ENCODERS.build("tabular_mlp", SPEC, hidden_dims=[8])
    method = METHODS.build("vime", encoder, VIEWS.build("none", SPEC))
    with pytest.raises(SelfsupError, match="'corrupted' key"):
        method(_batch(8))


def test_short_pretrain_on_a_tiny_csv(tmp_path):
    import selfsup

    path = tmp_path / "tiny.csv"
    synthetic_table(n=300).to_csv(path, index=False)
    out = tmp_path / "run"
    result = selfsup.pretrain(method="scarf", data=str(path), modality="tabular", epochs=2, batch_size=64,
                              out=str(out), progress=False, encoder="tabular_mlp", overrides=["data.options.target=class",
                                                                        "encoder.hidden_dims=[64,64]"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pretrained"]["linear_acc"] > 0.4 and "raw_input" in metrics
    assert result.encoder.output_dim == 64
    batch = next(iter(_loader(path)))
    assert selfsup.load(out)(batch["x"]).shape == (16, 64)  # rebuilt from encoder.json by name


def _loader(path):
    from selfsup.data import load_data

    source = load_data(str(path), modality="tabular", target="class")
    return source.loader(source.train, 16)


def test_dataframe_through_the_python_api(tmp_path):
    import selfsup
    from selfsup.modalities.tabular import table_source

    frame = synthetic_table(n=200)
    frame["when"] = pd.Timestamp("2020-01-01")  # not a number: taken as a category
    source = table_source(frame, name="frame", target="class")
    result = selfsup.pretrain(method="vime", data=source, epochs=1, batch_size=50, out=str(tmp_path / "run"),
                              progress=False, encoder="tabular_mlp", overrides=["encoder.hidden_dims=[32]"])
    assert result.metrics["pretrained"]["linear_acc"] > 0


def test_ft_transformer_has_one_token_per_column_and_their_targets():
    encoder = ENCODERS.build("ft_transformer", SPEC, dim=16, depth=1, heads=2)
    x = _batch(8)["x"]
    assert encoder(x).shape == (8, 16) and encoder.forward_tokens(x).shape == (8, 6, 16)
    assert encoder.forward_tokens(x, keep_index=torch.tensor([0, 5])).shape == (8, 2, 16)
    targets = encoder.token_targets(x)
    assert targets.shape == (8, 6, 1 + 5)
    assert torch.equal(targets[:, :4, 0], x.numeric) and (targets[:, 4:, 1:].sum(-1) == 1).all()
    with pytest.raises(SelfsupError, match="heads"):
        ENCODERS.build("ft_transformer", SPEC, dim=16, heads=3)


def test_subtab_views_show_different_overlapping_column_blocks():
    torch.manual_seed(0)
    views = VIEWS.build("subtab", SPEC, num_subsets=3, overlap=0.5, noise_p=0.0)
    batch = _batch(64)
    v1, v2 = views(batch, 2)
    shown1, shown2 = ~v1["corrupted"], ~v2["corrupted"]
    assert (shown1 != shown2).any(1).all()  # each row's two views keep different blocks
    assert set(shown1.sum(1).tolist()) <= {3, 4}  # blocks of 2 columns widened by 1 (edges: less)
    hidden_numeric = ~shown1[:, :4]
    assert (v1["x"].numeric[hidden_numeric] == 0).all() and v1["x"].missing[hidden_numeric].all()
    assert (v1["x"].categorical[~shown1[:, 4:]] == 0).all()
    kept = shown1[:, :4]
    assert torch.equal(v1["x"].numeric[kept], batch["x"].numeric[kept])
    with pytest.raises(SelfsupError, match="num_subsets"):
        VIEWS.build("subtab", SPEC, num_subsets=7)
