"""Speech methods: span masks, HuBERT's and wav2vec 2.0's losses against explicit formulations,
the unit targets, and short runs of byol_a / hubert / wav2vec2 / simclr through selfsup.pretrain."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import selfsup
from selfsup.errors import SelfsupError
from selfsup.modalities.audio.data.source import AudioSpec
from selfsup.modalities.audio.encoders.wav2vec import Wav2VecEncoder
from selfsup.modalities.audio.losses.hubert import masked_unit_prediction
from selfsup.modalities.audio.losses.wav2vec2 import contrastive_logits, sample_distractors
from selfsup.modalities.audio.methods.spans import span_mask
from selfsup.modalities.audio.methods.targets import LayerTargets, MFCCTargets, UnitCodebook
from selfsup.registry import METHODS


def test_span_mask_masks_whole_spans_inside_each_clip_only():
    torch.manual_seed(0)
    valid = torch.arange(200)[None] < torch.tensor([200, 120, 7])[:, None]
    mask = span_mask(valid, start_prob=0.02, span=10)
    assert not (mask & ~valid).any()
    assert mask.any(dim=1).all()  # every clip gets at least one start
    for row, n in zip(mask, (200, 120)):
        runs = torch.diff(torch.cat([torch.zeros(1), row.float(), torch.zeros(1)])).nonzero().flatten()
        assert ((runs[1::2] - runs[::2]) % 10 == 0).all() or (runs[1::2] - runs[::2] >= 10).all()


def test_span_mask_share_matches_wav2vec2s_about_half_at_its_defaults():
    torch.manual_seed(0)
    valid = torch.ones(256, 500, dtype=torch.bool)
    share = span_mask(valid, start_prob=0.065, span=10).float().mean().item()
    expected = 1 - (1 - 0.065) ** 10  # starts ~ Bernoulli(p): a frame is free of all 10 spans
    assert abs(share - expected) < 0.03


def test_hubert_loss_is_the_cosine_softmax_cross_entropy_of_eq_1_to_3():
    torch.manual_seed(0)
    projected, units = torch.randn(2, 6, 5), torch.randn(4, 5)
    targets = torch.randint(0, 4, (2, 6))
    masked = torch.rand(2, 6) < 0.5
    valid = torch.ones(2, 6, dtype=torch.bool)
    valid[1, 4:] = False
    terms = masked_unit_prediction(projected, units, targets, masked, valid, temperature=0.1, masked_weight=0.7)
    nll = {True: [], False: []}
    for b in range(2):
        for t in range(6):
            if not valid[b, t]:
                continue
            sims = torch.stack([torch.dot(projected[b, t], units[c]) / (projected[b, t].norm() * units[c].norm())
                                for c in range(4)]) / 0.1
            nll[bool(masked[b, t])].append(-(sims[targets[b, t]] - torch.logsumexp(sims, 0)))
    expected = 0.7 * torch.stack(nll[True]).mean() + 0.3 * torch.stack(nll[False]).mean()
    assert torch.allclose(terms["loss"], expected, atol=1e-5)


def test_distractors_come_from_other_masked_frames_of_the_same_clip():
    torch.manual_seed(0)
    clip = torch.tensor([0] * 5 + [1] * 3 + [2])
    picks = sample_distractors(clip, 50)
    rows = torch.arange(9)[:, None]
    assert (clip[picks] == clip[:, None]).all()
    assert (picks[:8] != rows[:8]).all()


def test_wav2vec2_logits_are_eq_3s_cosines_over_kappa_with_identical_distractors_left_out():
    torch.manual_seed(0)
    context, quantized = torch.randn(4, 3), torch.randn(4, 3)
    quantized[2] = quantized[0]
    distractors = torch.tensor([[1, 2], [0, 2], [0, 3], [1, 2]])
    logits = contrastive_logits(context, quantized, distractors, temperature=0.1)
    for n in range(4):
        candidates = [n, *distractors[n].tolist()]
        for j, k in enumerate(candidates):
            if j and torch.equal(quantized[k], quantized[n]):
                assert logits[n, j] == -math.inf
            else:
                assert torch.isclose(logits[n, j], F.cosine_similarity(context[n], quantized[k], dim=0) / 0.1)


def _tone_segments(clips: int, seconds: float, seed: int) -> torch.Tensor:
    """Waveforms at 16 kHz made of 100 ms steady tones (random pitch; loud or nearly silent, as
    syllables and pauses) in noise: frames 20 ms apart mostly share a tone, 200 ms apart mostly not."""
    rng = np.random.default_rng(seed)
    n, segment = int(16000 * seconds), 1600
    t = np.arange(segment) / 16000
    x = rng.choice([0.005, 0.5], (clips, n // segment, 1)) * np.sin(
        2 * np.pi * rng.uniform(150, 3000, (clips, n // segment, 1)) * t)
    x = x.reshape(clips, n) + 0.01 * rng.normal(size=(clips, n))
    return torch.from_numpy(x).float()


@pytest.mark.parametrize("conv_norm, alike", [("group", True), ("layer", False)])
def test_wav2vec2s_random_init_latents_are_more_alike_20_ms_apart_than_200_ms_apart(conv_norm, alike):
    # what wav2vec 2.0's masked frames are predicted from: with frame-wise noise for latents (the
    # per-frame LayerNorm stack at init) the contrastive loss cannot leave ln(K + 1)
    assert METHODS.info("wav2vec2").default_encoder_options["conv_norm"] == "group"
    torch.manual_seed(0)
    encoder = Wav2VecEncoder(AudioSpec(16000, 16000), conv_channels=32, dim=16, depth=1, heads=2, conv_norm=conv_norm)
    with torch.no_grad():
        z = F.normalize(encoder.features(_tone_segments(8, 1.0, seed=0))[0], dim=-1)
    near = (z[:, 1:] * z[:, :-1]).sum(-1).mean()
    far = (z[:, 10:] * z[:, :-10]).sum(-1).mean()
    assert (near > far + 0.07) == alike, (near, far)  # measured: group 0.28 vs 0.16, layer 0.54 vs 0.51


def test_mfcc_targets_sit_at_the_encoder_frame_centres():
    encoder = Wav2VecEncoder(AudioSpec(16000, 16000), conv_channels=8, dim=16, depth=1, heads=2)
    targets = MFCCTargets(encoder)
    # frame j covers samples [320 j, 320 j + 400): centre 320 j + 199.5 -> MFCC frame 2 j + 1
    assert targets.frame_index(5, 1000, torch.device("cpu")).tolist() == [1, 3, 5, 7, 9]
    picked, fit = targets(torch.randn(2, 16000), 49)
    assert picked.shape == (2, 49, 39) and fit.shape == (2 * 101, 39)


def test_unit_codebook_recovers_well_separated_clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 3)) * 10
    labels = rng.integers(0, 4, 400)
    frames = torch.from_numpy(centres[labels] + rng.normal(size=(400, 3)) * 0.1).float()
    codebook = UnitCodebook(4, 3)
    codebook.fit(frames)
    units = codebook.assign(frames).numpy()
    # a one-to-one map between units and true clusters
    assert all(len(set(units[labels == k])) == 1 for k in range(4)) and len(set(units)) == 4


# ----------------------------------------------------------------------------- short runs


@pytest.fixture(scope="module")
def tiny_audio(tmp_path_factory):
    """40 clips of 0.3-0.5 s: two classes of chirps with noise, as an .npz at 16 kHz."""
    rng = np.random.default_rng(0)
    x = np.full((40, 8000), np.nan, dtype=np.float32)
    for i in range(40):
        n = int(rng.integers(4800, 8000))
        t = np.arange(n) / 16000
        freq = 300 + 1500 * (i % 2) + 400 * t
        x[i, :n] = 0.4 * np.sin(2 * np.pi * freq * t) + 0.05 * rng.normal(size=n)
    path = tmp_path_factory.mktemp("audio") / "chirps.npz"
    np.savez(path, x=x, y=np.arange(40) % 2, sample_rate=16000)
    return str(path)


TINY_W2V = ["encoder.name=wav2vec_transformer", "encoder.conv_channels=8", "encoder.dim=16", "encoder.depth=2",
            "encoder.heads=2"]


def _run(tmp_path, data, method, *overrides):
    return selfsup.pretrain(method=method, data=data, modality="audio", epochs=1, batch_size=20,
                            out=str(tmp_path / method), progress=False,
                            overrides=["eval.every_n_epochs=0", *overrides])


def test_hubert_runs_and_its_second_iteration_clusters_a_layer_of_the_first(tmp_path, tiny_audio):
    first = _run(tmp_path, tiny_audio, "hubert", *TINY_W2V, "method.num_units=8", "method.projection_dim=8")
    assert first.metrics["encoder"] == "wav2vec_transformer"
    second = selfsup.pretrain(method="hubert", data=tiny_audio, modality="audio", epochs=1, batch_size=20,
                              out=str(tmp_path / "second"), progress=False,
                              overrides=["eval.every_n_epochs=0", *TINY_W2V, "method.num_units=8",
                                         "method.projection_dim=8", f"method.targets={tmp_path / 'hubert'}:2"])
    assert "linear_acc" in second.metrics["pretrained"]
    with pytest.raises(SelfsupError, match="out of range"):
        LayerTargets(str(tmp_path / "hubert"), 3, "hubert")


def test_wav2vec2_runs_with_the_gumbel_quantiser(tmp_path, tiny_audio):
    run = _run(tmp_path, tiny_audio, "wav2vec2", *TINY_W2V, "method.entries=16", "method.final_dim=8",
               "method.num_distractors=10")
    assert "knn_acc" in run.metrics["pretrained"]


@pytest.mark.parametrize("method", ["byol_a", "simclr"])
def test_byol_a_and_the_catalogue_run_on_audio_with_the_log_mel_cnn(tmp_path, tiny_audio, method):
    run = _run(tmp_path, tiny_audio, method, "encoder.name=logmel_cnn", "encoder.channels=4",
               "encoder.hidden_dim=16", "method.projector_hidden_dim=16", "method.projector_dim=8")
    assert run.metrics["encoder"] == "logmel_cnn" and "knn_acc" in run.metrics["random_init"]


def test_mae_trains_on_audio_with_the_log_mel_patch_transformer(tmp_path, tiny_audio):
    run = _run(tmp_path, tiny_audio, "mae", "method.decoder_dim=16", "method.decoder_depth=1")
    assert run.metrics["encoder"] == "logmel_patch_transformer"


def test_byol_a_trains_by_default_at_the_papers_learning_rate_on_a_cpu_sized_encoder():
    from selfsup.config import make_config, with_train_defaults

    config = with_train_defaults(make_config({"data": {"name": "spoken_words"}, "method": {"name": "byol_a"}}))
    # the paper's Adam lr 3e-4, not scaled down by the library's reference batch of 256
    assert config.train.lr * config.train.batch_size / config.train.lr_reference_batch == pytest.approx(3e-4)
    assert METHODS.info("byol_a").default_encoder_options == {"channels": 16, "hidden_dim": 256}
