"""In-memory data through the API: arrays, tensors, (x, y), dicts and DataFrames, each read by the
modality's own reader as if saved to a file (selfsup.data.objects)."""

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from sklearn.datasets import load_digits

import selfsup
from selfsup.data import load_data
from selfsup.data.objects import describe, infer_modality, source_from_object
from selfsup.errors import SelfsupError

FAST = ["eval.every_n_epochs=0", "eval.random_init=false", "eval.raw_input=false"]


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return (d.images * 16).clip(0, 255).astype(np.uint8)[:300], d.target[:300]


def test_a_uint8_image_array_trains_and_the_run_records_what_was_passed(tmp_path, digits):
    x, y = digits
    small = ["encoder.name=small_cnn", "encoder.width=8", "encoder.depth=2", "method.projector_hidden_dim=32"]
    result = selfsup.pretrain(method="simclr", data={"x": x, "y": y}, epochs=1, out=str(tmp_path / "run"),
                              progress=False, overrides=FAST + small)
    assert 0.0 <= result.metrics["pretrained"]["knn_acc"] <= 1.0
    data = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]
    assert data["modality"] == "image"
    assert data["name"] == describe({"x": x, "y": y})
    assert data["name"].startswith("in-memory uint8 array [300, 8, 8] with y sha1:")


def test_a_loaded_encoder_embeds_in_memory_data_with_its_own_weights(tmp_path, digits):
    x, _ = digits
    small = ["encoder.name=small_cnn", "encoder.width=8", "encoder.depth=2", "method.projector_hidden_dim=32"]
    selfsup.pretrain(method="simclr", data=x, epochs=1, out=str(tmp_path / "run"), progress=False, overrides=FAST + small)
    encoder = selfsup.load(tmp_path / "run")
    emb = encoder.embed(x[:50], batch_size=16)
    assert np.allclose(emb, selfsup.embed(tmp_path / "run", data=x[:50]), atol=1e-6)
    with torch.no_grad():
        assert np.allclose(emb, encoder(torch.from_numpy(x[:50, None] / 255.0).float()).numpy(), atol=1e-5)
        for p in encoder.parameters():
            p.mul_(0.5)
    assert not np.allclose(encoder.embed(x[:50]), emb, atol=1e-4)  # this module's weights, not the saved ones


def test_in_memory_data_gives_the_files_split_and_samples(tmp_path, digits):
    x, y = digits
    np.savez(tmp_path / "digits.npz", x=x, y=y)
    from_file = load_data(str(tmp_path / "digits.npz"), modality="image", seed=3)
    for data in ((x, y), (torch.from_numpy(x), torch.from_numpy(y)), {"x": x, "y": list(y)}):
        source = source_from_object(data, "image", seed=3)
        assert torch.equal(source.train.x, from_file.train.x) and torch.equal(source.y_test, from_file.y_test)


def test_hash_tells_different_arrays_apart(digits):
    x, _ = digits
    changed = x.copy()
    changed[0, 0, 0] += 1
    assert describe(x) != describe(changed) and describe(x) == describe(x.copy())


def test_series_array_takes_the_methods_modality(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 24, 1)).astype(np.float32)
    assert infer_modality(x, "ts2vec") == "timeseries"
    result = selfsup.pretrain(method="ts2vec", data=x, epochs=1, batch_size=16, out=str(tmp_path / "run"),
                              progress=False, overrides=FAST)
    assert result.encoder(torch.from_numpy(x[:4])).shape[0] == 4
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]["modality"] == "timeseries"


def test_waveforms_in_memory_are_audio_clips_at_the_given_rate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4000)).astype(np.float32)
    x[0, 3000:] = np.nan  # a shorter clip, NaN-padded as in an .npz
    source = source_from_object((x, np.arange(30) % 3), "audio", sample_rate=8000)
    assert source.input_spec.sample_rate == 8000
    assert len(source.train) + len(source.test) == 30
    with pytest.raises(SelfsupError, match="'audio' \\(waveforms"):
        infer_modality(x, None)


def test_a_dataframe_is_a_table_and_its_options_name_the_target():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "colour": rng.choice(["red", "blue"], 200),
                          "label": rng.integers(0, 2, 200)})
    assert infer_modality(frame, None) == "tabular"
    source = source_from_object(frame, "tabular", target="label")
    assert source.labeled and len(source.train) + len(source.test) == 200


def test_a_2d_array_as_a_table_with_labels():
    x = np.random.default_rng(0).normal(size=(120, 5))
    source = source_from_object((x, np.arange(120) % 3), "tabular")
    assert source.labeled and len(source.train) + len(source.test) == 120


@pytest.mark.parametrize(
    ("data", "modality", "message"),
    [
        (np.zeros((10, 8, 8), np.float32), None, r"Which modality does a float32 array of shape \[10, 8, 8\]"),
        ({"x": np.zeros((10, 8, 8), np.uint8), "labels": [0] * 10}, "image", r"key 'x' and may hold.*labels unknown"),
        ((np.zeros((10, 8, 8), np.uint8),), "image", r"A tuple passed as data is \(x, y\); got 1"),
        ({1, 2}, "image", "cannot read a set as data"),
        (pd.DataFrame({"a": [1.0]}), "image", "A DataFrame holds tabular / interactions / events data, not image"),
        (np.zeros((10, 3, 4)), "tabular", r"2-D array \[rows, columns\]; data\['x'\] has shape \[10, 3, 4\]"),
        (np.zeros((10, 3), np.float32), "graph", "The graph modality does not take arrays"),
    ],
)
def test_bad_in_memory_data_is_one_clear_error(tmp_path, data, modality, message):
    flags = {"modality": modality} if modality else {}
    with pytest.raises(SelfsupError, match=message):
        selfsup.pretrain(method="simclr", data=data, epochs=1, out=str(tmp_path / "run"), progress=False, **flags)
    assert not (tmp_path / "run").exists()  # nothing written for a refused input


def _hf_digits(n=120):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    d = load_digits()
    images = [Image.fromarray((im * 16).clip(0, 255).astype(np.uint8)) for im in d.images[:n]]
    ds = datasets.Dataset.from_dict({"img": images, "label": d.target[:n], "note": ["x"] * n})
    return ds.cast_column("img", datasets.Image()), d


def test_a_hugging_face_dataset_decodes_its_image_column(tmp_path):
    ds, d = _hf_digits()
    assert infer_modality(ds, None) == "image"
    assert describe(ds).startswith("in-memory Hugging Face dataset [120 rows: img, label, note]")
    source = source_from_object(ds, "image", seed=1)
    pixels = (d.images[:120] * 16).clip(0, 255).astype(np.uint8)
    expected = source_from_object((pixels, d.target[:120]), "image", seed=1)
    # streamed from the Arrow files batch by batch: the same split, pixels and labels as the array
    assert not hasattr(source.train, "x") and source.input_spec == expected.input_spec
    batch = source.train.__getitems__(list(range(len(source.train))))
    assert torch.equal(batch["x"], expected.train.x) and torch.equal(batch["y"], expected.y_train)
    assert torch.equal(source.y_test, expected.y_test) and torch.equal(source.source_index, expected.source_index)


def test_a_save_to_disk_folder_is_read_as_data(tmp_path):
    ds, _ = _hf_digits()
    ds.save_to_disk(str(tmp_path / "set"))
    source = load_data(str(tmp_path / "set"), modality="image", target="label")
    assert source.labeled and len(source.train) + len(source.test) == 120
    with pytest.raises(SelfsupError, match=r"data.options.column='pixels' is not a column.*img, label, note"):
        load_data(str(tmp_path / "set"), modality="image", column="pixels")


def test_a_torch_dataset_of_channels_first_tensors_and_labels():
    class Digits(torch.utils.data.Dataset):
        def __init__(self):
            self.x = torch.from_numpy(load_digits().images[:60, None] / 16).float()  # [N, 1, 8, 8]

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i], i % 3

    source = source_from_object(Digits(), "image", seed=0)
    expected = source_from_object((Digits().x.numpy()[:, 0], np.arange(60) % 3), "image", seed=0)
    assert torch.equal(source.train.x, expected.train.x) and source.labeled

    class Mixed(Digits):
        def __getitem__(self, i):
            return (self.x[i], 1) if i == 0 else self.x[i]

    with pytest.raises(SelfsupError, match="Item 1 of the Mixed has no label, unlike item 0"):
        source_from_object(Mixed(), "image")


def test_pretrain_takes_a_dataframe_and_a_hugging_face_dataset(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120),
                          "colour": rng.choice(["red", "blue"], 120), "label": rng.integers(0, 2, 120)})
    run = selfsup.pretrain(method="scarf", data=frame, epochs=1, out=str(tmp_path / "table"), progress=False,
                           overrides=[*FAST, "data.options.target=label"])
    assert "knn_acc" in run.metrics["pretrained"]
    ds, _ = _hf_digits()
    small = ["encoder.name=small_cnn", "encoder.width=8", "encoder.depth=2", "method.projector_hidden_dim=32"]
    run = selfsup.pretrain(method="simclr", data=ds, epochs=1, out=str(tmp_path / "hf"), progress=False,
                           overrides=FAST + small)
    assert "knn_acc" in run.metrics["pretrained"]
    assert "Hugging Face dataset" in (tmp_path / "hf" / "config.yaml").read_text()


def test_a_pyg_graph_is_read_as_the_graph_readers_npz(tmp_path):
    pytest.importorskip("torch_geometric")
    from torch_geometric.data import Data

    generator = torch.Generator().manual_seed(0)
    edges = torch.randint(0, 40, (2, 160), generator=generator)
    graph = Data(x=torch.randn(40, 5, generator=generator), edge_index=edges, y=torch.arange(40) % 2)
    assert infer_modality(graph, None) == "graph"
    assert describe(graph).startswith("in-memory PyG graph [40 nodes, 160 edges: edge_index, x, y] sha1:")
    np.savez(tmp_path / "g.npz", x=graph.x.numpy(), edge_index=edges.numpy(), y=graph.y.numpy())
    from_file = load_data(str(tmp_path / "g.npz"), modality="graph", seed=0)
    source = source_from_object(graph, "graph", seed=0)
    assert source.input_spec == from_file.input_spec and len(source.train) == len(from_file.train)
    with pytest.raises(SelfsupError, match="A PyG Data object holds a graph, not image data"):
        source_from_object(graph, "image")


def test_an_array3d_column_of_uint8_pixels_streams_as_stored():
    datasets = pytest.importorskip("datasets")
    pixels = np.random.default_rng(0).integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    features = datasets.Features({"image": datasets.Array3D((8, 8, 3), "uint8"), "label": datasets.Value("int64")})
    ds = datasets.Dataset.from_dict({"image": pixels, "label": np.arange(30) % 2}, features=features)
    source = source_from_object(ds, "image", seed=0)  # the input column: the only one besides the label
    batch = source.train.__getitems__([0, 1])
    assert batch["x"].dtype == torch.uint8 and batch["x"].shape == (2, 3, 8, 8)
    assert torch.equal(batch["x"][0], torch.from_numpy(pixels[int(source.source_index[0])]).permute(2, 0, 1))
