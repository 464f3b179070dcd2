"""Quantisers against their papers' equations (selfsup.nn.quantizers)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from selfsup.nn.fsq import FiniteScalarQuantizer
from selfsup.nn.quantizers import (
    GumbelVectorQuantizer,
    ProductQuantizer,
    ResidualVectorQuantizer,
    VectorQuantizer,
    code_perplexity,
)


def _fixed_vq(codebook, **options) -> VectorQuantizer:
    vq = VectorQuantizer(codebook.shape[0], codebook.shape[1], init_from_data=False, **options)
    vq.codebook.data.copy_(codebook)
    if vq.ema:
        vq.embed_sum.copy_(codebook)
    return vq


def test_vq_picks_the_nearest_entry_and_commitment_is_beta_times_the_squared_error():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-2.0, 0.0]])
    vq = _fixed_vq(codebook, commitment=0.25).eval()
    x = torch.tensor([[0.1, 0.2], [0.9, 1.3], [-1.5, 0.4], [0.6, 0.6]])
    quantized, codes, aux = vq(x)
    assert codes.tolist() == [0, 1, 2, 1]
    torch.testing.assert_close(quantized, codebook[codes])
    expected = ((x - codebook[codes]) ** 2).mean()
    torch.testing.assert_close(aux["commitment"], expected)
    torch.testing.assert_close(aux["loss"], 0.25 * expected)


def test_vq_without_ema_adds_the_codebook_loss_and_it_moves_only_the_codebook():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    vq = _fixed_vq(codebook, ema=False, restart_after=None).train()
    x = torch.tensor([[0.2, 0.0], [1.0, 1.4]], requires_grad=True)
    _, codes, aux = vq(x)
    squared = ((x.detach() - codebook[codes]) ** 2).mean()
    torch.testing.assert_close(aux["codebook"], squared)
    torch.testing.assert_close(aux["loss"], squared + 0.25 * squared)
    aux["codebook"].backward()
    assert x.grad is None or torch.all(x.grad == 0)
    expected = torch.zeros(2, 2)
    expected[codes] = 2 * (codebook[codes] - x.detach()) / x.numel()
    torch.testing.assert_close(vq.codebook.grad, expected)


def test_vq_ema_update_equals_the_formula_on_a_hand_example():
    codebook = torch.tensor([[0.0, 0.0], [4.0, 4.0], [9.0, 9.0]])
    vq = _fixed_vq(codebook, decay=0.9, epsilon=1e-5, restart_after=None).train()
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 5.0]])  # codes 0, 0, 1; entry 2 unused
    vq(x)
    # N = 0.9 * 1 + 0.1 * n with n = (2, 1, 0); m = 0.9 * e + 0.1 * sum of members.
    n = torch.tensor([1.1, 1.0, 0.9])
    m = 0.9 * codebook + 0.1 * torch.tensor([[1.0, 1.0], [3.0, 5.0], [0.0, 0.0]])
    smoothed = (n + 1e-5) / (n.sum() + 3 * 1e-5) * n.sum()
    torch.testing.assert_close(vq.cluster_size, n)
    torch.testing.assert_close(vq.codebook, m / smoothed[:, None])


def test_vq_output_has_the_straight_through_gradient():
    vq = VectorQuantizer(16, 4).train()
    x = torch.randn(5, 7, 4, requires_grad=True)
    quantized, _, _ = vq(x)
    weights = torch.randn_like(quantized)
    (quantized * weights).sum().backward()
    torch.testing.assert_close(x.grad, weights)


def test_vq_restarts_an_entry_unused_for_restart_after_steps_at_a_batch_vector():
    codebook = torch.tensor([[0.0, 0.0], [1.0, 1.0], [100.0, 100.0]])
    vq = _fixed_vq(codebook, restart_after=3).train()
    x = torch.tensor([[0.1, 0.0], [0.9, 1.0], [1.1, 0.9], [0.0, 0.2]])
    for _ in range(2):
        vq(x)
    assert vq.unused_steps.tolist() == [0, 0, 2]
    assert vq.codebook[2].min() > 50  # still far from the data
    vq(x)
    assert any(torch.equal(vq.codebook[2], row) for row in x)
    assert vq.unused_steps[2] == 0 and vq.cluster_size[2] == 1.0


def test_vq_first_training_batch_initialises_the_entries_from_the_data():
    vq = VectorQuantizer(8, 3).train()
    x = 50.0 + torch.randn(100, 3)
    _, _, aux = vq(x)
    assert torch.cdist(vq.codebook, x).min(dim=1).values.max() < 1.0
    assert aux["usage"] > 0.5


def test_code_perplexity_is_one_at_collapse_and_k_for_uniform_use():
    perplexity, usage = code_perplexity(torch.zeros(10, dtype=torch.long), 4)
    assert perplexity.item() == pytest.approx(1.0) and usage.item() == 0.25
    perplexity, usage = code_perplexity(torch.arange(4).repeat(5), 4)
    assert perplexity.item() == pytest.approx(4.0) and usage.item() == 1.0


def test_gumbel_vq_forward_is_one_entry_per_group_and_gradient_reaches_the_logits():
    torch.manual_seed(0)
    gvq = GumbelVectorQuantizer(dim=6, out_dim=8, groups=2, entries=5).train()
    x = torch.randn(3, 4, 6)
    quantized, codes, aux = gvq(x)
    assert codes.shape == (3, 4, 2) and quantized.shape == (3, 4, 8)
    torch.testing.assert_close(quantized, gvq.decode(codes))
    (quantized.sum() + 0 * aux["loss"]).backward()
    assert gvq.to_logits.weight.grad.abs().sum() > 0


def test_gumbel_vq_diversity_loss_equals_the_wav2vec2_formula():
    gvq = GumbelVectorQuantizer(dim=4, out_dim=6, groups=3, entries=7).eval()
    x = torch.randn(20, 4)
    _, codes, aux = gvq(x)
    probs = gvq.to_logits(x).reshape(20, 3, 7).softmax(-1).mean(0)
    perplexity = sum(math.exp(-(p * p.log()).sum().item()) for p in probs)
    assert aux["diversity"].item() == pytest.approx((21 - perplexity) / 21, rel=1e-4)
    assert torch.equal(codes, gvq.to_logits(x).reshape(20, 3, 7).argmax(-1))


def test_gumbel_temperature_anneals_geometrically_to_its_floor():
    gvq = GumbelVectorQuantizer(dim=4, out_dim=4, tau_max=2.0, tau_min=0.5, tau_decay=0.9)
    assert gvq.anneal(0) == 2.0
    assert gvq.anneal(3) == pytest.approx(2.0 * 0.9 ** 3)
    assert gvq.anneal(1000) == 0.5


def test_product_vq_quantises_each_slice_with_its_own_codebook():
    pq = ProductQuantizer(num_codes=4, dim=6, groups=3).eval()
    x = torch.randn(10, 6)
    quantized, codes, _ = pq(x)
    assert codes.shape == (10, 3)
    for g, quantizer in enumerate(pq.quantizers):
        assert torch.equal(codes[:, g], quantizer.assign(x[:, 2 * g:2 * g + 2]))
    torch.testing.assert_close(quantized, pq.decode(codes))


def test_residual_vq_reconstruction_error_decreases_with_depth():
    torch.manual_seed(0)
    rvq = ResidualVectorQuantizer(num_codes=16, dim=8, stages=4).train()
    data = torch.randn(512, 8)
    for _ in range(20):
        rvq(data)
    rvq.eval()
    quantized, codes, _ = rvq(data)
    errors = [F.mse_loss(rvq.decode(codes[:, :n]), data).item() for n in range(1, 5)]
    assert all(a > b for a, b in itertools.pairwise(errors)), errors
    torch.testing.assert_close(quantized, rvq.decode(codes))


def test_fsq_bounds_each_channel_to_its_levels_and_the_implicit_codebook_is_their_product():
    fsq = FiniteScalarQuantizer(levels=[8, 5, 3])
    assert fsq.num_codes == 120
    x = 1.5 * torch.randn(50000, 3)
    quantized, codes, aux = fsq(x)
    for channel, levels in enumerate([8, 5, 3]):
        values = quantized[:, channel].unique()
        assert len(values) == levels
        assert values.min() >= -1.0 and values.max() <= 1.0
        steps = values * (levels // 2)
        torch.testing.assert_close(steps, steps.round())  # integer steps of 1 / floor(L / 2)
    assert codes.min() >= 0 and codes.max() < 120 and len(codes.unique()) == 120
    torch.testing.assert_close(fsq.decode(codes), quantized)
    assert aux["loss"] == 0


def test_fsq_rounds_with_a_straight_through_gradient():
    fsq = FiniteScalarQuantizer(levels=[5, 5])
    z = torch.randn(6, 2, requires_grad=True)
    fsq.quantize(z).sum().backward()
    bounded = torch.randn(6, 2, requires_grad=True)
    with torch.no_grad():
        bounded.copy_(z)
    (fsq.bound(bounded) / 2).sum().backward()
    torch.testing.assert_close(z.grad, bounded.grad)


def test_quantizers_refuse_a_wrong_input_width():
    for quantizer in (VectorQuantizer(4, 3), ProductQuantizer(4, 4, groups=2),
                      ResidualVectorQuantizer(4, 3), FiniteScalarQuantizer([3, 3]),
                      GumbelVectorQuantizer(3, 4)):
        with pytest.raises(ValueError, match="expects x"):
            quantizer(torch.randn(2, 5))


def test_gumbel_vq_is_the_hard_choice_forward_and_the_soft_gumbel_softmax_backward():
    gvq = GumbelVectorQuantizer(dim=4, out_dim=6, groups=2, entries=5).train()
    gvq.temperature = 0.7
    x = torch.randn(8, 4)
    torch.manual_seed(3)
    quantized, codes, _ = gvq(x)
    weights = torch.randn_like(quantized)
    (quantized * weights).sum().backward()
    grad = gvq.to_logits.weight.grad.clone()
    gvq.zero_grad()
    # the same Gumbel noise, drawn as torch draws it: g = -log(Exp(1))
    logits = gvq.to_logits(x).reshape(8, 2, 5)
    torch.manual_seed(3)
    noise = -torch.empty_like(logits).exponential_().log()
    soft = ((logits + noise) / 0.7).softmax(-1)
    assert torch.equal(codes, soft.argmax(-1))
    torch.testing.assert_close(quantized, gvq.decode(codes))
    reference = torch.einsum("bgv,gvd->bgd", soft, gvq.codebooks).flatten(1)
    (reference * weights).sum().backward()
    torch.testing.assert_close(gvq.to_logits.weight.grad, grad)


def test_vq_on_no_vectors_learns_nothing_and_its_loss_is_zero():
    vq = VectorQuantizer(4, 3, ema=False).train()
    before = vq.codebook.detach().clone()
    quantized, codes, aux = vq(torch.zeros(0, 3))
    assert quantized.shape == (0, 3) and codes.shape == (0,)
    assert aux["loss"].item() == 0.0 and not bool(vq.initialized)
    assert torch.equal(vq.codebook, before)
