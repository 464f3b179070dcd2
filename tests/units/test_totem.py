"""TOTEM: the VQ-VAE tokeniser of time series (encoder totem_vqvae, method totem)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import selfsup
from selfsup.errors import SelfsupError
from selfsup.registry import ENCODERS, METHODS, VIEWS
from selfsup.units import encode_units, fit_units

SHAPE = (30, 2)


def _method(**options):
    encoder = ENCODERS.build("totem_vqvae", SHAPE, codebook_size=16, code_dim=8, hidden_dim=16, **options)
    return METHODS.build("totem", encoder, VIEWS.build("none", SHAPE))


def _sines(n: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(SHAPE[0], dtype=torch.float32)
    freq = 0.2 + 0.5 * torch.rand(n, 1, SHAPE[1], generator=g)
    phase = 6.28 * torch.rand(n, 1, SHAPE[1], generator=g)
    return 3.0 + 2.0 * torch.sin(freq * t[None, :, None] + phase)


def test_totem_normalises_each_channel_of_each_sample_over_its_observed_steps():
    encoder = ENCODERS.build("totem_vqvae", SHAPE, code_dim=8, hidden_dim=16)
    x = _sines(4)
    x[0, 22:] = float("nan")
    series, observed = encoder.normalise(x)
    assert series.shape == (8, 32)  # B * C rows, 30 steps padded to a multiple of F = 4
    row = series[0][observed[0]]  # sample 0, channel 0: 22 observed steps
    assert len(row) == 22
    torch.testing.assert_close(row.mean(), torch.tensor(0.0), atol=1e-5, rtol=0)
    torch.testing.assert_close(row.var(unbiased=False), torch.tensor(1.0), atol=1e-3, rtol=0)
    assert torch.all(series[~observed] == 0)


def test_totem_loss_equals_reconstruction_plus_codebook_plus_beta_commitment():
    torch.manual_seed(0)
    method = _method(restart_after=0).eval()
    method.encoder.quantizer.initialized.fill_(True)
    x = _sines(4)
    x[1, 25:] = float("nan")
    out = method({"x": x})
    latents, exists, series, observed = method.encoder.encode(x)
    z = latents[exists]
    codebook = method.encoder.quantizer.codebook
    e = codebook[torch.cdist(z, codebook).argmin(1)]
    placed = torch.zeros_like(latents)
    placed[exists] = e
    reconstruction = method.decoder(placed.transpose(1, 2))[:, 0]
    error = ((reconstruction - series) ** 2)[observed].mean()
    expected = error + F.mse_loss(e, z) + 0.25 * F.mse_loss(z, e)
    torch.testing.assert_close(out["loss"], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out["reconstruction"], error, rtol=1e-5, atol=1e-6)


def test_totem_compresses_time_by_its_factor_and_padding_takes_no_token():
    encoder = ENCODERS.build("totem_vqvae", SHAPE, compression=8, code_dim=8, hidden_dim=16)
    x = _sines(3)
    x[2, 16:] = float("nan")
    assert encoder.forward_sequence(x).shape == (3, 2 * 4, 8)  # ceil(30 / 8) = 4 per channel
    tokens = encoder.tokens(x)
    assert tokens.shape == (3, 8)
    assert tokens[2].tolist()[2:4] == [-1, -1] and tokens[2].tolist()[6:8] == [-1, -1]
    assert torch.all(tokens[:2] >= 0)


def test_totem_reconstruction_error_drops_with_training():
    torch.manual_seed(0)
    method = _method()
    x = _sines(64)
    optimizer = torch.optim.Adam(method.parameters(), lr=3e-3)
    errors = []
    for _ in range(60):
        optimizer.zero_grad()
        out = method({"x": x})
        out["loss"].backward()
        optimizer.step()
        errors.append(out["reconstruction"].item())
    assert errors[-1] < 0.5 * errors[0], errors[::10]


def test_totem_refuses_another_encoder_and_a_compression_not_a_power_of_two():
    with pytest.raises(SelfsupError, match="totem_vqvae"):
        METHODS.build("totem", ENCODERS.build("dilated_cnn", SHAPE, depth=1), VIEWS.build("none", SHAPE))
    with pytest.raises(SelfsupError, match="power of two"):
        ENCODERS.build("totem_vqvae", SHAPE, compression=6)


def test_a_totem_run_trains_and_its_own_codebook_gives_units(tmp_path):
    out = tmp_path / "totem"
    selfsup.pretrain(method="totem", data="ucr:UnitTest", epochs=2, batch_size=8, out=str(out), progress=False,
                     overrides=["eval.every_n_epochs=0", "eval.k=5", "encoder.name=totem_vqvae", "encoder.codebook_size=16",
                                "encoder.code_dim=8", "encoder.hidden_dim=16"])
    summary = encode_units(out, out=tmp_path / "tokens.npz")
    arrays = np.load(tmp_path / "tokens.npz")
    assert summary["k"] == 16 and len(arrays["offsets"]) == 43
    assert np.all(np.diff(arrays["offsets"]) == 6)  # 24 steps / F = 4, one channel
    encoder = selfsup.load(out).eval()
    from selfsup.data import load_data

    source = load_data("ucr:UnitTest", modality="timeseries")
    first = next(iter(source.loader(source.train, 4)))
    np.testing.assert_array_equal(encoder.tokens(first["x"]).numpy().ravel(), arrays["values"][:24])
    measured = fit_units(out, own=True)
    assert measured.codebook.kind == "own" and measured.path.name == "own.safetensors"
    np.testing.assert_array_equal(measured.codebook.centroids, encoder.quantizer.codebook.detach().numpy())
    assert measured.codebook.metrics["frames"] == 42 * 6 and "pnmi" in measured.codebook.metrics
    with pytest.raises(SelfsupError, match="--own"):
        fit_units(out, own=True, layer=1)
