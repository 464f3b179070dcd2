"""MAE and I-JEPA: masks, losses, and both methods on a ViT and on a 1-D token encoder."""

from __future__ import annotations

import statistics

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import selfsup.methods.jepa
import selfsup.methods.mae
from selfsup.encoders.tokens import gather_tokens
from selfsup.errors import SelfsupError
from selfsup.losses.jepa import latent_prediction_loss
from selfsup.losses.mae import mae_loss
from selfsup.methods.jepa import JEPA
from selfsup.methods.mae import MAE
from selfsup.modalities.image.encoders.cnn import SmallCNN
from selfsup.modalities.image.encoders.vit import ViTEncoder
from selfsup.nn.masking import block_mask, jepa_masks, random_token_mask, sample_block_size
from selfsup.nn.pos_embed import sincos_pos_embed
from selfsup.views.base import IdentityViews

SMALL_VIT = {"depth": 1, "dim": 16, "heads": 2}
SMALL_DECODER = {"decoder_dim": 8, "decoder_depth": 1, "decoder_heads": 2}
SMALL_PREDICTOR = {"predictor_dim": 8, "predictor_depth": 1, "predictor_heads": 2}


class SequenceTokenEncoder(nn.Module):
    """A token encoder that is not an image one: ``x [B, n, P]`` is a sequence of n vectors."""

    def __init__(self, num_tokens: int = 12, patch_dim: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.num_tokens, self.token_grid = num_tokens, (num_tokens,)
        self.token_dim = self.output_dim = dim
        self.token_target_dim = patch_dim
        self.embed = nn.Linear(patch_dim, dim)
        self.register_buffer("pos", sincos_pos_embed(dim, (num_tokens,)))
        self.block = nn.TransformerEncoderLayer(dim, 2, 16, 0.0, batch_first=True, norm_first=True)

    def forward_tokens(self, x, keep_index=None, mask=None, mask_token=None):
        tokens = self.embed(x)
        if mask is not None:
            tokens = torch.where(mask[..., None], mask_token, tokens)
        tokens = tokens + self.pos
        if keep_index is not None:
            tokens = gather_tokens(tokens, keep_index)
        return self.block(tokens)

    def forward(self, x):
        return self.forward_tokens(x).mean(dim=1)

    def token_targets(self, x):
        return x


def _vit() -> ViTEncoder:
    torch.manual_seed(0)
    return ViTEncoder((1, 8, 8), **SMALL_VIT)  # 4 x 4 grid of 2 x 2 patches


def _image_batch(b: int = 6) -> dict[str, torch.Tensor]:
    return {"x": torch.rand(b, 1, 8, 8), "index": torch.arange(b)}  # no "y"


def _sequence_batch(b: int = 6) -> dict[str, torch.Tensor]:
    return {"x": torch.randn(b, 12, 3)}


# ----------------------------------------------------------------------------- masks


def test_random_token_mask_keeps_exactly_the_requested_count_different_per_sample():
    torch.manual_seed(0)
    keep, masked, mask = random_token_mask(32, 16, 0.75)
    assert keep.shape == (32, 4) and masked.shape == (32, 12)
    assert torch.equal(mask.sum(1), torch.full((32,), 12))
    for b in range(32):
        assert sorted(keep[b].tolist() + masked[b].tolist()) == list(range(16))
        assert not mask[b, keep[b]].any() and mask[b, masked[b]].all()
    assert len({tuple(k.tolist()) for k in keep}) > 20  # per-sample masks


def test_random_token_mask_refuses_to_keep_or_mask_nothing():
    with pytest.raises(ValueError, match="at least 1"):
        random_token_mask(2, 4, 0.1)
    with pytest.raises(ValueError, match="at least 1"):
        random_token_mask(2, 4, 1.0)


def test_block_size_respects_the_scale_and_aspect_bounds():
    torch.manual_seed(0)
    spans = [sample_block_size((50,), (0.15, 0.2), (0.75, 1.5)) for _ in range(200)]
    assert all(h == 1 and 7 <= w <= 10 for h, w in spans)  # round(s * 50), s in [0.15, 0.2]
    blocks = [sample_block_size((100, 100), (0.15, 0.2), (0.75, 1.5)) for _ in range(200)]
    areas = [h * w / 10_000 for h, w in blocks]
    ratios = [h / w for h, w in blocks]
    assert 0.145 <= min(areas) < 0.16 and 0.19 < max(areas) <= 0.205  # rounding of h, w
    assert 0.73 <= min(ratios) < 0.85 and 1.35 < max(ratios) <= 1.53


def test_block_mask_is_one_rectangle_of_the_given_size():
    torch.manual_seed(0)
    masks = block_mask(50, (5, 7), (2, 3)).reshape(50, 5, 7)
    for m in masks:
        rows, cols = m.any(1).nonzero().flatten(), m.any(0).nonzero().flatten()
        assert len(rows) == 2 and len(cols) == 3 and int(m.sum()) == 6
        assert rows[-1] - rows[0] == 1 and cols[-1] - cols[0] == 2  # contiguous
    spans = block_mask(50, (9,), (1, 4))
    for m in spans:
        on = m.nonzero().flatten()
        assert len(on) == 4 and on[-1] - on[0] == 3


@pytest.mark.parametrize("grid", [(14, 14), (4, 4), (30,)])
def test_jepa_context_excludes_every_target_token(grid):
    torch.manual_seed(0)
    context, targets = jepa_masks(16, grid)
    assert targets.shape[:2] == (4, 16) and context.shape[0] == 16 and context.shape[1] >= 1
    for b in range(16):
        assert len(set(context[b].tolist())) == context.shape[1]
        for block in targets[:, b]:
            assert not set(block.tolist()) & set(context[b].tolist())


# ----------------------------------------------------------------------------- MAE


def test_mae_loss_counts_only_masked_tokens():
    torch.manual_seed(0)
    pred, target = torch.randn(3, 6, 4), torch.randn(3, 6, 4)
    mask = torch.zeros(3, 6, dtype=torch.bool)
    mask[:, :4] = True
    for norm in (True, False):
        loss = mae_loss(pred, target, mask, norm)
        visible_changed = target.clone()
        visible_changed[:, 4:] += 5.0
        assert torch.equal(mae_loss(pred, visible_changed, mask, norm), loss)
        masked_changed = target.clone()
        masked_changed[0, 0] += torch.arange(4.0)
        assert not torch.equal(mae_loss(pred, masked_changed, mask, norm), loss)


def test_mae_loss_equals_a_loop_over_masked_tokens_with_normalised_pixels():
    torch.manual_seed(0)
    pred, target = torch.randn(2, 5, 4), torch.randn(2, 5, 4)
    mask = torch.rand(2, 5) > 0.4
    errors = []
    for b in range(2):
        for i in range(5):
            if mask[b, i]:
                t = target[b, i].tolist()
                mean, var = statistics.mean(t), statistics.variance(t)  # unbiased, as MAE
                normed = [(v - mean) / (var + 1e-6) ** 0.5 for v in t]
                errors.append(statistics.mean((p - n) ** 2 for p, n in zip(pred[b, i].tolist(), normed)))
    assert mae_loss(pred, target, mask).item() == pytest.approx(statistics.mean(errors), rel=1e-5)


def test_mae_loss_ignores_visible_token_targets_inside_the_method():
    method = MAE(_vit(), IdentityViews(), **SMALL_DECODER)
    batch = _image_batch()
    targets = method.encoder.token_targets(batch["x"])
    seen = {}
    original = method.encoder.forward_tokens

    def spy(x, keep_index=None, **kwargs):
        seen["keep"] = keep_index
        return original(x, keep_index=keep_index, **kwargs)

    method.encoder.forward_tokens = spy

    def loss_with(t):
        method.encoder.token_targets = lambda x: t
        torch.manual_seed(1)  # the same mask every call
        return method(batch)["loss"]

    loss = loss_with(targets)
    keep = seen["keep"]
    assert keep.shape == (6, 4)  # the encoder saw 25 % of the 16 tokens
    changed = targets.clone()
    changed.scatter_(1, keep[..., None].expand(-1, -1, 4), 7.0)
    assert torch.allclose(loss_with(changed), loss)
    masked_changed = targets.clone()
    masked_changed[~torch.zeros(6, 16, dtype=torch.bool).scatter(1, keep, True)] *= -3.0
    assert not torch.allclose(loss_with(masked_changed), loss)


@pytest.mark.parametrize("make", [_vit, SequenceTokenEncoder], ids=["vit_2d", "sequence_1d"])
def test_mae_trains_any_token_encoder_without_labels(make):
    torch.manual_seed(0)
    encoder = make()
    batch = _image_batch() if isinstance(encoder, ViTEncoder) else _sequence_batch()
    method = MAE(encoder, IdentityViews(), **SMALL_DECODER, norm_target=isinstance(encoder, ViTEncoder))
    out = method(batch)
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert all(p.grad is not None for p in method.parameters())


def test_mae_rejects_encoders_without_tokens_and_bad_ratios():
    with pytest.raises(SelfsupError, match="small_cnn has no forward_tokens"):
        MAE(SmallCNN((1, 8, 8)), IdentityViews())
    with pytest.raises(ValueError, match="mask_ratio"):
        MAE(_vit(), IdentityViews(), mask_ratio=1.0)
    with pytest.raises(ValueError, match="mask_ratio"):
        MAE(_vit(), IdentityViews(), mask_ratio=0.01)


# ----------------------------------------------------------------------------- JEPA


def _jepa(encoder: nn.Module | None = None) -> JEPA:
    torch.manual_seed(0)
    return JEPA(encoder or _vit(), IdentityViews(), **SMALL_PREDICTOR)


@pytest.mark.parametrize("make", [_vit, SequenceTokenEncoder], ids=["vit_2d", "sequence_1d"])
def test_jepa_predicts_layer_normed_target_tokens_from_a_disjoint_context(make, monkeypatch):
    method = _jepa(make())
    batch = _image_batch() if isinstance(method.encoder, ViTEncoder) else _sequence_batch()
    seen = {}
    method.predictor.register_forward_pre_hook(lambda m, args: seen.update(args=args))
    monkeypatch.setattr(
        selfsup.methods.jepa, "latent_prediction_loss",
        lambda p, t: seen.update(pred=p, target=t) or latent_prediction_loss(p, t),
    )
    out = method(batch)
    context, context_index, query_index = seen["args"]
    m, b = 4, batch["x"].shape[0]
    assert context.shape[0] == m * b and torch.equal(context[:b], context[b : 2 * b])
    # the context never contains a token of any of its sample's target blocks
    for i in range(b):
        for block in range(m):
            assert not set(query_index[block * b + i].tolist()) & set(context_index[i].tolist())
    # targets: the target encoder on ALL tokens, layer-normed, at the target positions
    with torch.no_grad():
        full = method.teacher.encoder.forward_tokens(batch["x"])
        full = F.layer_norm(full, full.shape[-1:])
    expected = torch.stack(
        [full[i % b, query_index[i]] for i in range(m * b)]
    ).reshape(seen["target"].shape)
    torch.testing.assert_close(seen["target"], expected)
    assert out["loss"].dim() == 0 and torch.isfinite(out["loss"])


def test_jepa_target_encoder_gets_no_gradient_and_follows_the_linear_ema():
    method = _jepa()
    target_params = list(method.teacher.encoder.parameters())
    before = [p.clone() for p in target_params]
    method(_image_batch())["loss"].backward()
    assert all(p.grad is None and not p.requires_grad for p in target_params)
    assert all(p.grad is not None for p in method.encoder.parameters())
    assert all(p.grad is not None for p in method.predictor.parameters())
    torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.1).step()
    method.on_step_end(0.5)
    momentum = 0.996 + (1.0 - 0.996) * 0.5
    assert method.teacher.momentum == pytest.approx(momentum)
    for t, t0, s in zip(target_params, before, method.encoder.parameters()):
        torch.testing.assert_close(t, momentum * t0 + (1 - momentum) * s)
    assert any(not torch.equal(t, t0) for t, t0 in zip(target_params, before))


def test_jepa_rejects_bad_options():
    with pytest.raises(SelfsupError, match="forward_tokens"):
        JEPA(SmallCNN((1, 8, 8)), IdentityViews())
    with pytest.raises(ValueError, match="target_scale"):
        JEPA(_vit(), IdentityViews(), target_scale=(0.3, 0.2))
    with pytest.raises(ValueError, match="momentum"):
        JEPA(_vit(), IdentityViews(), momentum_base=1.2)


def test_masked_methods_are_registered_with_the_token_encoder_they_need():
    from selfsup.registry import METHODS

    for name, cls, family in (("mae", MAE, "masked modelling"), ("jepa", JEPA, "latent prediction")):
        entry = METHODS.entry(name)
        assert entry.factory is cls and entry.info.family == family and entry.info.paper
        assert entry.info.needs == ("tokens",)
        assert entry.info.view_style == "none"
    assert selfsup.methods.mae.MAE is MAE
