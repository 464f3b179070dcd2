import math

import pytest
import torch
import torch.nn.functional as F

from selfsup.errors import SelfsupError
from selfsup.losses.clip import LearnableScale, clip_loss, multimodal_clip_loss, siglip_loss


def _pair(n: int = 6, dim: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    za = torch.randn(n, dim, generator=g, dtype=torch.float64)
    return za, za + 0.8 * torch.randn(n, dim, generator=g, dtype=torch.float64)


def _cosines(za: torch.Tensor, zb: torch.Tensor) -> list[list[float]]:
    """Cosine similarities written out, without the implementation's normalisation."""
    return [
        [
            sum(x * y for x, y in zip(a.tolist(), b.tolist()))
            / math.sqrt(sum(x * x for x in a.tolist()) * sum(y * y for y in b.tolist()))
            for b in zb
        ]
        for a in za
    ]


def _clip_reference(za: torch.Tensor, zb: torch.Tensor, scale: float) -> float:
    """Fig. 3 of CLIP anchor by anchor: -log softmax of the positive over rows, then columns."""
    s = [[scale * c for c in row] for row in _cosines(za, zb)]
    n = len(s)
    rows = [-s[i][i] + math.log(sum(math.exp(s[i][j]) for j in range(n))) for i in range(n)]
    columns = [-s[i][i] + math.log(sum(math.exp(s[j][i]) for j in range(n))) for i in range(n)]
    return (sum(rows) / n + sum(columns) / n) / 2


def _siglip_reference(za: torch.Tensor, zb: torch.Tensor, scale: float, bias: float) -> float:
    """Algorithm 1 of SigLIP as a double loop: -sum_ij log sigmoid(z_ij (t x_i.y_j + b)) / |B|."""
    cosines = _cosines(za, zb)
    n = len(cosines)
    total = 0.0
    for i in range(n):
        for j in range(n):
            label = 1.0 if i == j else -1.0
            total -= math.log(1.0 / (1.0 + math.exp(-label * (scale * cosines[i][j] + bias))))
    return total / n


# clip_loss


@pytest.mark.parametrize("scale", [1.0, 1 / 0.07, 100.0])
def test_clip_loss_equals_explicit_log_softmax_both_ways(scale):
    za, zb = _pair()
    expected = torch.tensor(_clip_reference(za, zb, scale), dtype=torch.float64)
    torch.testing.assert_close(clip_loss(za, zb, scale), expected)


def test_clip_loss_equals_cross_entropy_of_the_similarity_matrix_and_its_transpose():
    za, zb = _pair(n=7, dim=3, seed=1)
    logits = 14.0 * F.normalize(za, dim=1) @ F.normalize(zb, dim=1).T
    labels = torch.arange(7)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    torch.testing.assert_close(clip_loss(za, zb, 14.0), expected)


def test_clip_loss_is_invariant_to_embedding_norm():
    za, zb = _pair()
    torch.testing.assert_close(clip_loss(3.0 * za, 0.2 * zb, 5.0), clip_loss(za, zb, 5.0))


def test_clip_loss_sends_gradient_into_scale():
    za, zb = _pair()
    scale = torch.tensor(5.0, dtype=torch.float64, requires_grad=True)
    clip_loss(za, zb, scale).backward()
    # d/dt of the reference by central differences
    step = 1e-5
    expected = (_clip_reference(za, zb, 5.0 + step) - _clip_reference(za, zb, 5.0 - step)) / (2 * step)
    assert scale.grad is not None
    assert scale.grad.item() == pytest.approx(expected, rel=1e-5)


def test_clip_loss_with_valid_mask_equals_loss_on_the_valid_subset():
    za, zb = _pair(n=8)
    valid = torch.tensor([True, False, True, True, False, True, True, False])
    za_leaf, zb_leaf = za.clone().requires_grad_(), zb.clone().requires_grad_()
    masked = clip_loss(za_leaf, zb_leaf, 4.0, valid=valid)
    masked.backward()
    subset = clip_loss(za[valid], zb[valid], 4.0)
    torch.testing.assert_close(masked, subset)
    # invalid rows take no part, so they get no gradient
    assert torch.count_nonzero(za_leaf.grad[~valid]) == 0
    assert torch.count_nonzero(zb_leaf.grad[~valid]) == 0


def test_clip_loss_with_all_rows_valid_equals_unmasked_loss():
    za, zb = _pair()
    torch.testing.assert_close(
        clip_loss(za, zb, 4.0, valid=torch.ones(6, dtype=torch.bool)), clip_loss(za, zb, 4.0)
    )


def test_clip_loss_with_no_valid_row_is_a_zero_that_backpropagates():
    za, zb = (z.clone().requires_grad_() for z in _pair())
    scale = torch.tensor(5.0, dtype=torch.float64, requires_grad=True)
    loss = clip_loss(za, zb, scale, valid=torch.zeros(6, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.count_nonzero(za.grad) == 0 and torch.count_nonzero(zb.grad) == 0
    assert scale.grad.item() == 0.0


def test_clip_loss_is_lower_for_aligned_pairs():
    za = torch.randn(32, 8)
    aligned = clip_loss(za, za + 0.01 * torch.randn_like(za), 10.0)
    assert aligned < clip_loss(za, torch.randn_like(za), 10.0)


def test_clip_loss_rejects_mismatched_shapes_naming_them():
    with pytest.raises(ValueError, match=r"\(8, 4\) and \(7, 4\)"):
        clip_loss(torch.randn(8, 4), torch.randn(7, 4), 1.0)


@pytest.mark.parametrize(
    "valid", [torch.ones(7, dtype=torch.bool), torch.ones(8), torch.ones(8, 1, dtype=torch.bool)]
)
def test_clip_loss_rejects_a_valid_mask_that_is_not_bool_of_shape_b(valid):
    with pytest.raises(ValueError, match=r"valid as a bool tensor of shape \[B\] = \(8,\)"):
        clip_loss(torch.randn(8, 4), torch.randn(8, 4), 1.0, valid=valid)


# siglip_loss


@pytest.mark.parametrize(("scale", "bias"), [(10.0, -10.0), (1.0, 0.0), (3.0, 2.0)])
def test_siglip_loss_equals_double_loop_of_log_sigmoid(scale, bias):
    za, zb = _pair()
    expected = torch.tensor(_siglip_reference(za, zb, scale, bias), dtype=torch.float64)
    torch.testing.assert_close(siglip_loss(za, zb, scale, bias), expected)


def test_siglip_loss_sends_gradient_into_scale_and_bias():
    za, zb = _pair()
    scale = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(-2.0, dtype=torch.float64, requires_grad=True)
    siglip_loss(za, zb, scale, bias).backward()
    step = 1e-5
    d_scale = (_siglip_reference(za, zb, 3.0 + step, -2.0)
               - _siglip_reference(za, zb, 3.0 - step, -2.0)) / (2 * step)
    d_bias = (_siglip_reference(za, zb, 3.0, -2.0 + step)
              - _siglip_reference(za, zb, 3.0, -2.0 - step)) / (2 * step)
    assert scale.grad.item() == pytest.approx(d_scale, rel=1e-5)
    assert bias.grad.item() == pytest.approx(d_bias, rel=1e-5)


def test_siglip_loss_with_valid_mask_equals_loss_on_the_valid_subset():
    za, zb = _pair(n=8)
    valid = torch.tensor([False, True, True, False, True, True, True, False])
    zb_leaf = zb.clone().requires_grad_()
    masked = siglip_loss(za, zb_leaf, 4.0, -1.0, valid=valid)
    masked.backward()
    torch.testing.assert_close(masked, siglip_loss(za[valid], zb[valid], 4.0, -1.0))
    assert torch.count_nonzero(zb_leaf.grad[~valid]) == 0


def test_siglip_loss_with_no_valid_row_is_a_zero_that_backpropagates():
    za, zb = (z.clone().requires_grad_() for z in _pair())
    loss = siglip_loss(za, zb, 4.0, -1.0, valid=torch.zeros(6, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(za.grad) == 0


def test_siglip_loss_on_the_full_batch_is_symmetric_in_the_two_modalities():
    # a sum over every pair of the B x B matrix: swapping a and b transposes it
    za, zb = _pair(n=8, seed=3)
    torch.testing.assert_close(siglip_loss(za, zb, 5.0, -3.0), siglip_loss(zb, za, 5.0, -3.0))


def test_siglip_loss_rejects_mismatched_shapes_naming_them():
    with pytest.raises(ValueError, match=r"\(8, 4\) and \(8, 5\)"):
        siglip_loss(torch.randn(8, 4), torch.randn(8, 5), 1.0, 0.0)


# multimodal_clip_loss


def _three_modalities(n: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    base = torch.randn(n, 4, generator=g, dtype=torch.float64)
    return {name: base + torch.randn(n, 4, generator=g, dtype=torch.float64)
            for name in ("photometry", "spectra", "metadata")}


def test_multimodal_clip_loss_of_two_modalities_is_clip_loss():
    z = _three_modalities()
    loss, terms = multimodal_clip_loss({"photometry": z["photometry"], "spectra": z["spectra"]}, 5.0)
    expected = clip_loss(z["photometry"], z["spectra"], 5.0)
    torch.testing.assert_close(loss, expected)
    assert list(terms) == ["clip_photometry_spectra"]


def test_multimodal_clip_loss_of_three_modalities_is_the_mean_of_the_pairwise_terms():
    z = _three_modalities()
    loss, terms = multimodal_clip_loss(z, 5.0)
    pairs = [("photometry", "spectra"), ("photometry", "metadata"), ("spectra", "metadata")]
    expected = [clip_loss(z[a], z[b], 5.0) for a, b in pairs]
    torch.testing.assert_close(loss, sum(expected) / 3)
    assert list(terms) == [f"clip_{a}_{b}" for a, b in pairs]
    for term, value in zip(terms.values(), expected):
        torch.testing.assert_close(term, value)
        assert not term.requires_grad


def test_multimodal_clip_loss_weights_pairs_in_either_order():
    z = _three_modalities()
    _, terms = multimodal_clip_loss(z, 5.0)
    ps, pm, sm = terms.values()
    loss, _ = multimodal_clip_loss(z, 5.0, weights={("metadata", "spectra"): 3.0,
                                                    ("photometry", "metadata"): 0.0})
    # photometry-spectra keeps the default weight 1
    torch.testing.assert_close(loss, (1.0 * ps + 0.0 * pm + 3.0 * sm) / 4.0)


def test_multimodal_clip_loss_with_presence_masks_uses_the_rows_having_both_modalities():
    z = _three_modalities(n=8)
    present = {
        "photometry": torch.tensor([1, 1, 1, 0, 1, 1, 0, 1], dtype=torch.bool),
        "spectra": torch.tensor([1, 0, 1, 1, 1, 1, 1, 1], dtype=torch.bool),
    }  # metadata always present
    loss, terms = multimodal_clip_loss(z, 5.0, present=present)
    expected = {
        "clip_photometry_spectra": clip_loss(
            z["photometry"], z["spectra"], 5.0, valid=present["photometry"] & present["spectra"]
        ),
        "clip_photometry_metadata": clip_loss(
            z["photometry"], z["metadata"], 5.0, valid=present["photometry"]
        ),
        "clip_spectra_metadata": clip_loss(z["spectra"], z["metadata"], 5.0, valid=present["spectra"]),
    }
    torch.testing.assert_close(terms, expected)
    torch.testing.assert_close(loss, sum(expected.values()) / 3)


def test_multimodal_clip_loss_sends_gradient_to_every_modality_and_the_scale():
    z = {name: t.clone().requires_grad_() for name, t in _three_modalities().items()}
    scale = LearnableScale().double()
    loss, _ = multimodal_clip_loss(z, scale())
    loss.backward()
    assert all(torch.count_nonzero(t.grad) > 0 for t in z.values())
    assert scale.log_scale.grad.item() != 0.0


def test_multimodal_clip_loss_needs_two_modalities():
    with pytest.raises(ValueError, match="at least 2 modalities"):
        multimodal_clip_loss({"photometry": torch.randn(4, 3)}, 1.0)


def test_multimodal_clip_loss_rejects_weights_naming_unknown_modalities():
    z = _three_modalities()
    with pytest.raises(ValueError, match=r"unknown modalities \['image'\]"):
        multimodal_clip_loss(z, 1.0, weights={("photometry", "image"): 2.0})


def test_multimodal_clip_loss_rejects_presence_of_unknown_modalities():
    z = _three_modalities()
    with pytest.raises(ValueError, match=r"unknown modalities \['text'\]"):
        multimodal_clip_loss(z, 1.0, present={"text": torch.ones(6, dtype=torch.bool)})


def test_multimodal_clip_loss_rejects_a_pair_weighted_twice():
    z = _three_modalities()
    with pytest.raises(ValueError, match="twice"):
        multimodal_clip_loss(z, 1.0, weights={("photometry", "spectra"): 1.0,
                                              ("spectra", "photometry"): 2.0})


@pytest.mark.parametrize("weights", [{("photometry", "spectra"): -1.0},
                                     dict.fromkeys([("photometry", "spectra"),
                                                    ("photometry", "metadata"),
                                                    ("spectra", "metadata")], 0.0)])
def test_multimodal_clip_loss_rejects_negative_or_all_zero_weights(weights):
    with pytest.raises(ValueError, match="weight"):
        multimodal_clip_loss(_three_modalities(), 1.0, weights=weights)


# LearnableScale


def test_learnable_scale_starts_at_the_inverse_temperature_without_bias():
    scale = LearnableScale(init_temperature=0.07)
    assert scale().item() == pytest.approx(1 / 0.07)
    assert scale.bias is None
    assert [name for name, _ in scale.named_parameters()] == ["log_scale"]


def test_learnable_scale_is_clipped_at_max_scale_and_can_come_back():
    scale = LearnableScale(init_temperature=0.07, max_scale=100.0)
    with torch.no_grad():
        scale.log_scale.fill_(math.log(1000.0))
    value = scale()
    assert value.item() == pytest.approx(100.0)
    # clipping the parameter rather than the output keeps a gradient that can lower t
    value.backward()
    assert scale.log_scale.grad.item() == pytest.approx(100.0)


def test_learnable_scale_with_bias_has_siglip_initialisation():
    scale = LearnableScale(init_temperature=0.1, bias=-10.0)
    assert scale().item() == pytest.approx(10.0)
    assert isinstance(scale.bias, torch.nn.Parameter) and scale.bias.item() == -10.0
    za, zb = torch.randn(8, 4), torch.randn(8, 4)
    siglip_loss(za, zb, scale(), scale.bias).backward()
    assert scale.bias.grad is not None and scale.log_scale.grad is not None


@pytest.mark.parametrize("init_temperature", [0.0, -0.07, float("nan")])
def test_learnable_scale_rejects_a_non_positive_temperature(init_temperature):
    with pytest.raises(SelfsupError, match="temperature must be positive, got"):
        LearnableScale(init_temperature=init_temperature)


def test_learnable_scale_rejects_a_non_positive_max_scale():
    with pytest.raises(SelfsupError, match="max_scale must be positive, got -1"):
        LearnableScale(max_scale=-1.0)
