"""Image data sources: folders, .npy/.npz arrays, the built-in digits, and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from selfsup.data import load_data
from selfsup.data.splits import stratified_split
from selfsup.errors import SelfsupError


def write_png(path: Path, size=(12, 10), mode: str = "RGB", seed: int = 0) -> None:
    """A real PNG of ``size`` (width, height) with random pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def pixels(source, split):
    """A split's images as the encoder sees them: float in [0, 1], after the on-device step."""
    return source.finish({"x": split.x})["x"]


def labeled_folder(root: Path, classes=("cat", "dog"), per_class: int = 5, mode="RGB") -> Path:
    for c in classes:
        for i in range(per_class):
            write_png(root / c / f"{i}.png", mode=mode, seed=i)
    return root


# ----------------------------------------------------------------------------- folders


def test_class_subfolders_give_labels_and_a_stratified_split(tmp_path):
    bundle = load_data(str(labeled_folder(tmp_path / "pets")), seed=0, test_fraction=0.2)
    assert bundle.class_names == ["cat", "dog"]
    # kept compact (uint8) in memory; float in [0, 1] once on the device
    assert bundle.train.x.shape == (8, 3, 10, 12) and bundle.train.x.dtype == torch.uint8
    assert bundle.test.x.shape == (2, 3, 10, 12)
    assert sorted(bundle.y_test.tolist()) == [0, 1]
    floats = pixels(bundle, bundle.train)
    assert floats.dtype == torch.float32 and 0.0 <= floats.min() and floats.max() <= 1.0


def test_pixels_are_decoded_exactly(tmp_path):
    values = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(values, "L").save(tmp_path / "a.png")
    bundle = load_data(str(tmp_path))
    assert torch.equal(pixels(bundle, bundle.train)[0, 0], torch.from_numpy(values.astype(np.float32) / 255.0))


def test_flat_folder_is_unlabeled_and_has_no_test_split(tmp_path):
    for i in range(3):
        write_png(tmp_path / f"{i}.jpg", seed=i)
    bundle = load_data(str(tmp_path))
    assert bundle.y_train is None and bundle.test is None and bundle.train.x.shape[0] == 3


def test_all_grayscale_images_give_one_channel_else_rgb(tmp_path):
    labeled_folder(tmp_path / "gray", mode="L")
    assert load_data(str(tmp_path / "gray")).input_spec[0] == 1
    labeled_folder(tmp_path / "mixed", mode="L")
    write_png(tmp_path / "mixed" / "cat" / "colour.png", mode="RGB")
    assert load_data(str(tmp_path / "mixed")).input_spec[0] == 3


def test_mixed_sizes_are_resized_to_64_with_a_note_and_image_size_overrides(tmp_path):
    write_png(tmp_path / "a.png", size=(20, 10))
    write_png(tmp_path / "b.png", size=(8, 8))
    bundle = load_data(str(tmp_path))
    assert bundle.input_spec == (3, 64, 64)
    assert any("different sizes" in note for note in bundle.notes)
    assert load_data(str(tmp_path), image_size=16).input_spec == (3, 16, 16)
    assert load_data(str(tmp_path), image_size=[8, 12]).input_spec == (3, 8, 12)


def test_empty_folder_error_names_the_extensions_read(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SelfsupError, match=r"No images found in .*\.png.*\.jpg.*\.txt"):
        load_data(str(tmp_path))


def test_corrupt_image_is_skipped_with_a_note_and_a_warning(tmp_path):
    labeled_folder(tmp_path)
    (tmp_path / "cat" / "broken.png").write_bytes(b"\x89PNG garbage, not an image")
    with pytest.warns(UserWarning, match="broken.png"):
        bundle = load_data(str(tmp_path))
    assert bundle.train.x.shape[0] + bundle.test.x.shape[0] == 10
    assert any("broken.png" in note and "Skipped" in note for note in bundle.notes)


def test_truncated_image_is_skipped(tmp_path):
    labeled_folder(tmp_path)
    data = (tmp_path / "dog" / "0.png").read_bytes()
    (tmp_path / "dog" / "truncated.png").write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="truncated.png"):
        bundle = load_data(str(tmp_path))
    assert bundle.train.x.shape[0] + bundle.test.x.shape[0] == 10


def test_all_corrupt_images_raise(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(b"garbage")
    with pytest.raises(SelfsupError, match="None of the 3 image files"):
        load_data(str(tmp_path))


def test_images_both_flat_and_in_class_folders_raise(tmp_path):
    labeled_folder(tmp_path)
    write_png(tmp_path / "stray.png")
    with pytest.raises(SelfsupError, match="both directly"):
        load_data(str(tmp_path))


def test_train_and_test_subfolders_are_an_explicit_split(tmp_path):
    labeled_folder(tmp_path / "train", per_class=4)
    labeled_folder(tmp_path / "test", per_class=2)
    bundle = load_data(str(tmp_path), test_fraction=0.5)
    assert bundle.train.x.shape[0] == 8 and bundle.test.x.shape[0] == 4
    assert bundle.class_names == ["cat", "dog"]


def test_missing_path_and_unknown_option_raise(tmp_path):
    with pytest.raises(SelfsupError, match="neither a built-in data set nor an existing path"):
        load_data(str(tmp_path / "nope"))
    write_png(tmp_path / "a.png")
    with pytest.raises(SelfsupError, match="Did you mean 'image_size'"):
        load_data(str(tmp_path), imagesize=8)


def test_unsupported_file_raises(tmp_path):
    write_png(tmp_path / "a.png")
    with pytest.raises(SelfsupError, match="folder of images"):
        load_data(str(tmp_path / "a.png"))


# ----------------------------------------------------------------------------- arrays


def test_npy_uint8_channels_last_is_scaled_and_unlabeled(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    bundle = load_data(str(tmp_path / "x.npy"))
    assert bundle.train.x.shape == (5, 3, 6, 7) and bundle.y_train is None
    assert bundle.train.x.dtype == torch.uint8
    assert torch.equal(pixels(bundle, bundle.train)[2, 1], torch.from_numpy(x[2, :, :, 1].astype(np.float32) / 255.0))


def test_rgba_array_drops_alpha_and_3d_array_gets_one_channel(tmp_path):
    np.save(tmp_path / "rgba.npy", np.zeros((2, 4, 4, 4), np.uint8))
    assert load_data(str(tmp_path / "rgba.npy")).input_spec == (3, 4, 4)
    np.save(tmp_path / "gray.npy", np.zeros((2, 4, 4), np.float32))
    assert load_data(str(tmp_path / "gray.npy")).input_spec == (1, 4, 4)


def test_array_with_nan_names_file_and_first_bad_sample(tmp_path):
    x = np.zeros((6, 4, 4), np.float32)
    x[4, 1, 1] = np.nan
    x[5, 0, 0] = np.inf
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(SelfsupError, match=r"bad\.npy.*NaN.*sample 4"):
        load_data(str(tmp_path / "bad.npy"))


def test_wrong_rank_says_expected_shapes_and_hints_channels_first(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((5, 16), np.uint8))
    with pytest.raises(SelfsupError, match=r"\[5, 16\].*\[N, H, W\] or \[N, H, W, C\]"):
        load_data(str(tmp_path / "flat.npy"))
    np.save(tmp_path / "nchw.npy", np.zeros((5, 3, 8, 8), np.uint8))
    with pytest.raises(SelfsupError, match="channels-first"):
        load_data(str(tmp_path / "nchw.npy"))


def test_floats_outside_unit_range_and_other_int_types_raise(tmp_path):
    np.save(tmp_path / "f.npy", np.full((2, 4, 4), 255.0, np.float32))
    with pytest.raises(SelfsupError, match=r"must\s+lie in \[0, 1\]"):
        load_data(str(tmp_path / "f.npy"))
    np.save(tmp_path / "i.npy", np.zeros((2, 4, 4), np.int64))
    with pytest.raises(SelfsupError, match="dtype int64"):
        load_data(str(tmp_path / "i.npy"))


def test_npz_missing_x_lists_keys_found(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 4, 4)), labels=np.zeros(2))
    with pytest.raises(SelfsupError, match="no key 'x' .*images, labels"):
        load_data(str(tmp_path / "d.npz"))


def test_npz_label_length_mismatch_names_key_and_both_lengths(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((10, 4, 4), np.uint8), y=np.zeros(9, int))
    with pytest.raises(SelfsupError, match="'y' has 9 labels but the images have 10"):
        load_data(str(tmp_path / "d.npz"))


def test_npz_explicit_test_split_is_used_as_given(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        x=rng.integers(0, 256, (10, 4, 4), dtype=np.uint8), y=np.arange(10) % 2,
        x_test=rng.integers(0, 256, (3, 4, 4), dtype=np.uint8), y_test=np.array([1, 1, 0]),
    )
    bundle = load_data(str(tmp_path / "d.npz"), test_fraction=0.5)
    assert bundle.train.x.shape[0] == 10 and bundle.test.x.shape[0] == 3
    assert bundle.y_test.tolist() == [1, 1, 0]


def test_npz_string_labels_map_to_sorted_class_names(tmp_path):
    y = np.array(["zebra", "ant", "moth", "ant"] * 5)
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 4, 4), np.uint8), y=y)
    bundle = load_data(str(tmp_path / "d.npz"), test_fraction=0.0)
    assert bundle.class_names == ["ant", "moth", "zebra"]
    assert bundle.y_train[:4].tolist() == [2, 0, 1, 0] and bundle.y_train.dtype == torch.int64


def test_npz_object_arrays_are_refused_not_unpickled(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 4, 4), np.uint8), y=np.array([1, "a"], object))
    with pytest.raises(SelfsupError, match="not loaded for safety"):
        load_data(str(tmp_path / "d.npz"))


# ----------------------------------------------------------------------------- splits


def test_stratified_split_is_seeded_and_keeps_class_proportions():
    y = np.repeat(np.arange(4), 25)
    train, test, _ = stratified_split(y, 0.2, seed=3)
    assert len(test) == 20 and np.bincount(y[test]).tolist() == [5, 5, 5, 5]
    assert set(train).isdisjoint(test) and len(train) + len(test) == 100
    assert np.array_equal(test, stratified_split(y, 0.2, seed=3)[1])
    assert not np.array_equal(test, stratified_split(y, 0.2, seed=4)[1])


def test_singleton_class_stays_in_training_with_a_note(tmp_path):
    y = np.array([0] * 10 + [1] * 10 + [2])
    np.savez(tmp_path / "d.npz", x=np.zeros((21, 4, 4), np.uint8), y=y)
    bundle = load_data(str(tmp_path / "d.npz"), test_fraction=0.2)
    assert 2 in bundle.y_train.tolist() and 2 not in bundle.y_test.tolist()
    assert any("single sample" in note for note in bundle.notes)


# ----------------------------------------------------------------------------- digits


def test_digits_shape_values_and_split_sizes():
    bundle = load_data("digits")
    assert bundle.train.x.shape == (1437, 1, 8, 8) and bundle.test.x.shape == (360, 1, 8, 8)
    assert bundle.train.x.dtype == torch.uint8 and int(bundle.train.x.max()) == 16
    assert pixels(bundle, bundle.train).dtype == torch.float32 and float(pixels(bundle, bundle.train).max()) == 1.0
    assert bundle.num_classes == 10 and bundle.class_names == [str(d) for d in range(10)]


def test_digits_split_is_fixed_whatever_the_seed():
    a, b = load_data("digits", seed=0), load_data("digits", seed=123, test_fraction=0.5)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.y_train, b.y_train)


def test_digits_image_size_upsamples_and_unknown_option_raises():
    assert load_data("digits", image_size=16).input_spec == (1, 16, 16)
    with pytest.raises(SelfsupError, match="Unknown option 'size'"):
        load_data("digits", size=16)


def test_a_uint8_npy_larger_than_the_stream_limit_is_read_per_batch_not_loaded(tmp_path, monkeypatch):
    from selfsup.modalities.image.data import streamed

    x = np.random.default_rng(0).integers(0, 256, (40, 6, 5, 3), dtype=np.uint8)
    np.save(tmp_path / "big.npy", x)
    monkeypatch.setattr(streamed, "STREAM_BYTES", 100)
    monkeypatch.setattr("selfsup.modalities.image.data.arrays.large_uint8_npy",
                        lambda path: streamed.large_uint8_npy(path, limit=100))
    source = load_data(str(tmp_path / "big.npy"))
    assert isinstance(source.train, streamed.NpyImageRows) and len(source.train) == 40
    assert source.input_spec == (3, 6, 5) and any("read from the file" in n for n in source.notes)
    batch = source.train.__getitems__([7, 2, 31])
    assert batch["x"].dtype == torch.uint8 and batch["index"].tolist() == [7, 2, 31]
    assert torch.equal(batch["x"], torch.from_numpy(x[[7, 2, 31]]).permute(0, 3, 1, 2))
    assert torch.equal(source.finish(batch)["x"], batch["x"].float() / 255.0)


def test_a_truncated_large_npy_names_the_file(tmp_path):
    from selfsup.modalities.image.data.streamed import NpyImageRows

    np.save(tmp_path / "cut.npy", np.zeros((10, 4, 4), np.uint8))
    data = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-20])
    with pytest.raises(SelfsupError, match=r"cut\.npy is truncated"):
        NpyImageRows(tmp_path / "cut.npy")


# ----------------------------------------------------------------------------- fashion_mnist

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_is_the_official_split_kept_uint8():
    source = load_data("fashion_mnist")
    assert (source.n_train, source.n_test, source.num_classes) == (60_000, 10_000, 10)
    assert source.train.x.dtype == torch.uint8 and source.input_spec == (1, 28, 28)
    assert source.class_names[0] == "T-shirt/top" and source.class_names[9] == "Ankle boot"
    assert torch.bincount(source.y_test).tolist() == [1000] * 10


def test_fashion_mnist_without_the_package_names_the_apt_command(tmp_path):
    with pytest.raises(SelfsupError, match="apt-get install dataset-fashion-mnist"):
        load_data("fashion_mnist", root=str(tmp_path / "absent"))
