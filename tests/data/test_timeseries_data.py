"""Time-series data sources: arrays, CSV (long/wide), UCR/UEA .ts, the ucr:/uea: built-ins,
and one clear error (naming the file and the row / series / key) for each kind of bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.timeseries.data import files as ts_files
from selfsup.modalities.timeseries.data import readers as timeseries
from selfsup.modalities.timeseries.data.readers import BUILTIN_SETS, series_lengths, zscore_series
from selfsup.modality import get_modality
from selfsup.registry import DATASETS


def read(path: Path, **options):
    return load_data(str(path), modality="timeseries", **options)


def write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip("\n"))
    return path


TS_HEADER = """@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b
@data
"""


def parse_ts_by_hand(path: Path) -> tuple[list[np.ndarray], list[str]]:
    """Independent reader of a labeled .ts file: per series ``[T_i, C]`` and the labels."""
    series, labels, in_data = [], [], False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "%")):
            continue
        if line.lower().startswith("@data"):
            in_data = True
        elif in_data:
            *dims, label = line.split(":")
            values = [[float("nan") if v == "?" else float(v) for v in d.split(",")] for d in dims]
            series.append(np.asarray(values).T)
            labels.append(label)
    return series, labels


# ----------------------------------------------------------------------------- registration


def test_modality_and_builtins_are_registered_with_their_defaults():
    spec = get_modality("timeseries")
    assert (spec.default_encoder, spec.default_views) == ("dilated_cnn", "ts_augment")
    for name, (_, total, _) in BUILTIN_SETS.items():
        entry = DATASETS.entry(name)
        assert entry.info.modality == "timeseries" and entry.info.n == total


def test_importing_selfsup_data_does_not_import_aeon():
    import subprocess

    code = "import sys, selfsup.data; print('aeon' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ----------------------------------------------------------------------------- arrays


def test_npy_ntc_is_read_exactly_and_2d_is_one_channel(tmp_path):
    x = np.random.default_rng(0).normal(size=(5, 7, 3))
    np.save(tmp_path / "a.npy", x)
    bundle = read(tmp_path / "a.npy")
    assert bundle.modality == "timeseries" and bundle.train.x.dtype == torch.float32
    assert torch.equal(bundle.train.x, torch.from_numpy(x.astype(np.float32)))
    assert bundle.y_train is None and bundle.test is None and bundle.input_spec == (7, 3)
    np.save(tmp_path / "b.npy", x[..., 0])
    assert read(tmp_path / "b.npy").input_spec == (7, 1)


def test_npz_with_x_test_y_test_keeps_the_split_and_encodes_string_labels(tmp_path):
    rng = np.random.default_rng(1)
    x, x_test = rng.normal(size=(6, 10, 2)), rng.normal(size=(4, 10, 2))
    y = np.array(["walk", "run", "sit", "run", "walk", "sit"])
    y_test = np.array(["sit", "sit", "walk", "run"])
    np.savez(tmp_path / "har.npz", x=x, y=y, x_test=x_test, y_test=y_test)
    bundle = read(tmp_path / "har.npz")
    assert bundle.class_names == ["run", "sit", "walk"]
    index = {"run": 0, "sit": 1, "walk": 2}
    assert bundle.y_train.tolist() == [index[v] for v in y]
    assert bundle.y_test.tolist() == [index[v] for v in y_test]
    assert torch.equal(bundle.test.x, torch.from_numpy(x_test.astype(np.float32)))


def test_labeled_npz_without_test_split_gets_a_seeded_stratified_split(tmp_path):
    x = np.random.default_rng(2).normal(size=(20, 8, 1))
    np.savez(tmp_path / "d.npz", x=x, y=np.repeat([0, 1], 10))
    a, b = read(tmp_path / "d.npz", seed=3), read(tmp_path / "d.npz", seed=3)
    assert (len(a.train.x), len(a.test.x)) == (16, 4)
    assert sorted(a.y_test.tolist()) == [0, 0, 1, 1] and torch.equal(a.test.x, b.test.x)
    # every sample lands in exactly one split, unchanged
    rows = torch.cat([a.train.x, a.test.x])[torch.argsort(a.source_index)]
    assert torch.equal(rows, torch.from_numpy(x.astype(np.float32)))


def test_four_dimensional_arrays_are_multi_device_with_device_names(tmp_path):
    x = np.random.default_rng(3).normal(size=(4, 3, 16, 2))
    np.save(tmp_path / "m.npy", x)
    bundle = read(tmp_path / "m.npy")
    assert bundle.input_spec == (3, 16, 2)
    assert bundle.input_spec.devices == ["device0", "device1", "device2"]
    np.savez(tmp_path / "m.npz", x=x, devices=np.array(["wrist", "waist", "ankle"]))
    assert read(tmp_path / "m.npz").input_spec.devices == ["wrist", "waist", "ankle"]
    np.savez(tmp_path / "bad.npz", x=x, devices=np.array(["wrist", "waist"]))
    with pytest.raises(SelfsupError, match=r"bad\.npz key 'devices' names 2 devices"):
        read(tmp_path / "bad.npz")


def test_trailing_nan_is_padding_and_gives_a_note_with_lengths(tmp_path):
    x = np.random.default_rng(4).normal(size=(3, 6, 2))
    x[1, 4:] = np.nan
    x[2, 2:] = np.nan
    np.save(tmp_path / "p.npy", x)
    bundle = read(tmp_path / "p.npy")
    assert series_lengths(bundle.train.x).tolist() == [6, 4, 2]
    assert any("2 of 3 series" in n and "length 6" in n for n in bundle.notes)


def test_series_lengths_matches_a_loop_over_timestamps():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, 2, 9, 3))
    for n in range(7):
        for d in range(2):
            x[n, d, rng.integers(0, 10):] = np.nan
    x[0, 0, 8, 1:] = np.nan  # a partly observed last timestamp still counts
    x[0, 0, 8, 0] = 1.0
    expected = [[max([t + 1 for t in range(9) if not np.isnan(x[n, d, t]).all()], default=0)
                 for d in range(2)] for n in range(7)]
    assert series_lengths(torch.from_numpy(x)).tolist() == expected


def test_zscore_normalises_each_series_and_channel_over_observed_values(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.normal(3.0, 2.0, size=(4, 12, 2))
    x[1, 9:] = np.nan
    x[2, :, 1] = 5.0  # constant channel: centred only
    np.save(tmp_path / "z.npy", x)
    got = read(tmp_path / "z.npy", normalize="zscore").train.x.numpy()
    expected = np.empty_like(x)
    for n in range(4):
        for c in range(2):
            v = x[n, :, c]
            std = np.nanstd(v)
            expected[n, :, c] = (v - np.nanmean(v)) / (std if std > 0 else 1.0)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.isnan(got[1, 9:]).all()
    assert torch.equal(zscore_series(torch.ones(1, 3, 1)), torch.zeros(1, 3, 1))
    with pytest.raises(SelfsupError, match="normalize must be one of none, zscore"):
        read(tmp_path / "z.npy", normalize="minmax")


# ----------------------------------------------------------------------------- CSV


def test_long_csv_sorts_by_time_and_pads_variable_lengths_with_nan(tmp_path):
    path = write(tmp_path / "long.csv", """
series_id,time,acc_x,acc_y,label
s2,1,20,21,walk
s1,2,3,4,run
s1,0,0,1,run
s2,0,10,11,walk
s1,1,1.5,2.5,run
s3,0,7,8,run
""")
    bundle = read(path, test_fraction=0)
    x = bundle.train.x
    assert x.shape == (3, 3, 2)  # series in order of first row: s2, s1, s3
    assert x[1].tolist() == [[0, 1], [1.5, 2.5], [3, 4]]
    assert x[0, :2].tolist() == [[10, 11], [20, 21]] and torch.isnan(x[0, 2]).all()
    assert series_lengths(x).tolist() == [2, 3, 1]
    assert bundle.class_names == ["run", "walk"] and bundle.y_train.tolist() == [1, 0, 0]
    assert bundle.input_spec.channel_names == ["acc_x", "acc_y"]
    assert any("2 of 3 series" in n and "to length 3" in n for n in bundle.notes)


def test_long_csv_accepts_iso_datetimes_and_unlabeled_files(tmp_path):
    path = write(tmp_path / "dt.csv", """
series_id,time,v
a,2024-01-01 00:02:00,3
a,2024-01-01 00:00:00,1
a,2024-01-01 00:01:00,2
""")
    bundle = read(path)
    assert bundle.train.x[0, :, 0].tolist() == [1, 2, 3] and bundle.y_train is None


def test_wide_csv_reads_one_series_per_row_and_empty_trailing_cells_pad(tmp_path):
    path = write(tmp_path / "wide.csv", """
label,t0,t1,t2,t3
2,0.5,1,1.5,2
10,3,4,,
2,5,,,
""")
    bundle = read(path, test_fraction=0)
    assert bundle.input_spec == (4, 1)
    assert series_lengths(bundle.train.x).tolist() == [4, 2, 1]
    assert bundle.train.x[1, :2, 0].tolist() == [3, 4]
    assert bundle.class_names == ["2", "10"]  # numeric labels sort as numbers
    assert bundle.y_train.tolist() == [0, 1, 0]
    unlabeled = read(path, label_column=None, test_fraction=0)
    assert unlabeled.y_train is None and unlabeled.input_spec == (5, 1)


def test_train_and_test_csv_files_beside_each_other_form_the_split(tmp_path):
    write(tmp_path / "Toy_TRAIN.csv", "label,a,b,c\nx,1,2,3\ny,4,5,6\n")
    write(tmp_path / "Toy_TEST.csv", "label,a,b\ny,1,2\n")
    bundle = read(tmp_path / "Toy_TRAIN.csv")
    assert bundle.name == "Toy" and len(bundle.train.x) == 2 and len(bundle.test.x) == 1
    assert bundle.input_spec == (3, 1) and torch.isnan(bundle.test.x[0, 2]).all()
    assert read(tmp_path).name == "Toy"  # the folder works the same


# ----------------------------------------------------------------------------- .ts files


def test_ts_file_round_trip_with_unequal_lengths_and_the_matching_test_file(tmp_path):
    train = write(tmp_path / "Toy_TRAIN.ts", TS_HEADER + "1,2,3:4,5,6:a\n1,2.5,3,4:5,6,7,8:b\n")
    write(tmp_path / "Toy_TEST.ts", TS_HEADER + "9,8:7,6:b\n")
    bundle = read(train)
    series, labels = parse_ts_by_hand(train)
    assert bundle.input_spec == (4, 2) and bundle.class_names == ["a", "b"] == labels
    assert bundle.y_train.tolist() == [0, 1] and bundle.y_test.tolist() == [1]
    for got, want in zip(bundle.train.x, series):
        assert got[: len(want)].tolist() == want.tolist() and torch.isnan(got[len(want):]).all()
    assert bundle.test.x[0, :2].tolist() == [[9, 7], [8, 6]]
    assert read(tmp_path).test.x.shape == (1, 4, 2)  # folder with <Name>_TRAIN/_TEST.ts


def test_ts_reader_without_aeon_names_the_install_extra(tmp_path, monkeypatch):
    path = write(tmp_path / "a.ts", TS_HEADER + "1,2:3,4:a\n")
    monkeypatch.setitem(sys.modules, "aeon.datasets", None)
    with pytest.raises(SelfsupError, match=r"pip install selfsup\[timeseries\]"):
        read(path)
    monkeypatch.setattr(timeseries, "aeon_dir", lambda: None)
    with pytest.raises(SelfsupError, match=r"ucr:GunPoint.*pip install selfsup\[timeseries\]"):
        load_data("ucr:GunPoint")


# ----------------------------------------------------------------------------- built-ins


def test_gunpoint_has_its_official_split_and_matches_the_file(tmp_path):
    bundle = load_data("ucr:GunPoint")
    assert bundle.modality == "timeseries" and bundle.name == "ucr:GunPoint"
    assert bundle.train.x.shape == (50, 150, 1) and bundle.test.x.shape == (150, 150, 1)
    assert bundle.num_classes == 2 and bundle.class_names == ["1", "2"]
    assert bundle.y_train.dtype == torch.int64
    folder = ts_files.aeon_dir() / "datasets" / "data" / "GunPoint"
    series, labels = parse_ts_by_hand(folder / "GunPoint_TRAIN.ts")
    np.testing.assert_allclose(bundle.train.x.numpy(), np.stack(series), rtol=1e-6)
    assert bundle.y_train.tolist() == [int(v) - 1 for v in labels]


def test_japanese_vowels_is_padded_with_nan_to_the_longest_series():
    bundle = load_data("uea:JapaneseVowels")
    assert bundle.input_spec == (29, 12)
    assert (len(bundle.train.x), len(bundle.test.x), bundle.num_classes) == (270, 370, 9)
    lengths = torch.cat([series_lengths(bundle.train.x), series_lengths(bundle.test.x)])
    assert lengths.min() == 7 and lengths.max() == 29
    folder = ts_files.aeon_dir() / "datasets" / "data" / "JapaneseVowels"
    series, _ = parse_ts_by_hand(folder / "JapaneseVowels_TEST.ts")
    assert lengths[270:].tolist() == [len(s) for s in series]
    short = int(np.argmin([len(s) for s in series]))
    got = bundle.test.x[short]
    np.testing.assert_allclose(got[: len(series[short])].numpy(), series[short], rtol=1e-6)
    assert torch.isnan(got[len(series[short]):]).all()


@pytest.mark.parametrize(
    "name, n_train, n_test, shape, classes",
    [
        ("ucr:UnitTest", 20, 22, (24, 1), 2),
        ("ucr:ItalyPowerDemand", 67, 1029, (24, 1), 2),
        ("uea:BasicMotions", 40, 40, (100, 6), 4),
        ("ucr:ArrowHead", 36, 175, (251, 1), 3),
        ("ucr:ACSF1", 100, 100, (1460, 1), 10),
        ("ucr:OSULeaf", 200, 242, (427, 1), 6),
        ("ucr:PickupGestureWiimoteZ", 50, 50, (361, 1), 10),
    ],
)
def test_every_builtin_loads_with_its_official_split(name, n_train, n_test, shape, classes):
    bundle = load_data(name, modality="timeseries")
    assert (len(bundle.train.x), len(bundle.test.x)) == (n_train, n_test)
    assert bundle.input_spec == shape and bundle.num_classes == classes
    assert n_train + n_test == DATASETS.entry(name).info.n
    assert sorted(set(bundle.y_train.tolist())) == list(range(classes))


def test_builtin_accepts_zscore_and_rejects_unknown_options():
    bundle = load_data("ucr:UnitTest", normalize="zscore")
    series = bundle.train.x[0, :, 0]
    assert abs(float(series.mean())) < 1e-5
    assert abs(float(series.std(unbiased=False)) - 1) < 1e-4
    with pytest.raises(SelfsupError, match="Unknown option 'label_colum'"):
        load_data("ucr:UnitTest", label_colum="y")


def test_unknown_builtin_name_lists_the_ucr_and_uea_sets():
    with pytest.raises(SelfsupError, match=r"'ucr:Foo'.*ucr:GunPoint"):
        load_data("ucr:Foo", modality="timeseries")
    with pytest.raises(SelfsupError, match=r"'uea:Foo'.*uea:JapaneseVowels"):
        load_data("uea:Foo")
    with pytest.raises(SelfsupError, match=r"Unknown UCR/UEA data set 'ucr:Foo'.*ucr:ArrowHead"):
        timeseries.load_builtin("ucr:Foo")


# ----------------------------------------------------------------------------- bad input


def test_ragged_csv_names_the_file_and_line(tmp_path):
    path = write(tmp_path / "rag.csv", "series_id,time,v\na,0,1\na,1,2,3\n")
    with pytest.raises(SelfsupError, match=r"rag\.csv is ragged: line 3 has 4 fields"):
        read(path)
    wide = write(tmp_path / "ragw.csv", "label,t0,t1,t2\n1,0,1,2\n2,0,1\n")
    with pytest.raises(SelfsupError, match=r"ragw\.csv is ragged: line 3 has 3 fields"):
        read(wide)


@pytest.mark.parametrize(
    "name, text, where",
    [
        ("long.csv", "series_id,time,v\na,0,1\nb,0,1\nb,1,\nb,2,3\n", r"series_id 'b'"),
        ("wide.csv", "label,t0,t1,t2\n1,0,1,2\n2,0,,2\n", r"line 3"),
        ("toy.ts", TS_HEADER + "1,2,3:4,5,6:a\n1,?,3:5,6,7:b\n", r"series 1 \(.*\)"),
    ],
)
def test_nan_inside_a_series_names_the_file_and_series(tmp_path, name, text, where):
    path = write(tmp_path / name, text)
    pattern = rf"{name.replace('.', '[.]')}: {where} has NaN inside the series \(time index 1"
    with pytest.raises(SelfsupError, match=pattern):
        read(path)


def test_nan_inside_an_array_series_names_the_key_and_row(tmp_path):
    x = np.ones((3, 5, 2))
    x[2, 1, 1] = np.nan
    np.savez(tmp_path / "h.npz", x=np.ones((2, 5, 2)), x_test=x)
    with pytest.raises(SelfsupError, match=r"h\.npz \(key 'x_test'\): series 2 .*time index 1"):
        read(tmp_path / "h.npz")
    x4 = np.ones((2, 3, 5, 1))
    x4[1, 2, 0] = np.nan
    np.save(tmp_path / "h4.npy", x4)
    with pytest.raises(SelfsupError, match=r"h4\.npy: series 1 .*device 2.*NaN inside"):
        read(tmp_path / "h4.npy")


def test_infinite_and_all_nan_series_are_rejected(tmp_path):
    x = np.ones((3, 4, 1))
    x[1, 2] = np.inf
    np.save(tmp_path / "inf.npy", x)
    with pytest.raises(SelfsupError, match=r"inf\.npy: series 1 .*infinite"):
        read(tmp_path / "inf.npy")
    x[1] = np.nan
    np.save(tmp_path / "gone.npy", x)
    with pytest.raises(SelfsupError, match=r"gone\.npy: series 1 .*no observed values"):
        read(tmp_path / "gone.npy")


def test_channels_that_differ_between_files_are_rejected(tmp_path):
    write(tmp_path / "A_TRAIN.csv", "series_id,time,acc_x,acc_y\na,0,1,2\n")
    write(tmp_path / "A_TEST.csv", "series_id,time,acc_x,gyro_y\nb,0,1,2\n")
    columns = (r"channels differ between .*A_TRAIN\.csv \(acc_x, acc_y\) "
               r"and .*A_TEST\.csv \(acc_x, gyro_y\)")
    with pytest.raises(SelfsupError, match=columns):
        read(tmp_path / "A_TRAIN.csv")
    one = TS_HEADER.replace("@dimensions 2", "@dimensions 1").replace("@univariate false",
                                                                       "@univariate true")
    write(tmp_path / "B_TRAIN.ts", TS_HEADER + "1,2:3,4:a\n")
    write(tmp_path / "B_TEST.ts", one + "1,2:b\n")
    with pytest.raises(SelfsupError, match=r"channels differ between .*B_TRAIN\.ts .*B_TEST\.ts"):
        read(tmp_path / "B_TRAIN.ts")
    np.savez(tmp_path / "c.npz", x=np.ones((2, 5, 3)), x_test=np.ones((2, 5, 2)))
    with pytest.raises(SelfsupError, match=r"channels differ between c\.npz \(key 'x'\) .*"
                                           r"c\.npz \(key 'x_test'\)"):
        read(tmp_path / "c.npz")


def test_non_numeric_values_name_the_file_line_and_column(tmp_path):
    path = write(tmp_path / "nn.csv", "series_id,time,v\na,0,1\na,1,abc\n")
    with pytest.raises(SelfsupError, match=r"nn\.csv line 3, column 'v': 'abc' is not a number"):
        read(path)
    times = write(tmp_path / "tt.csv", "series_id,time,v\na,0,1\na,soon,2\n")
    with pytest.raises(SelfsupError, match=r"tt\.csv line 3, column 'time': 'soon'"):
        read(times)
    ts = write(tmp_path / "nn.ts", TS_HEADER + "1,2:3,4:a\n1,x:3,4:b\n")
    with pytest.raises(SelfsupError, match=r"nn\.ts line 10: 'x' is not a number"):
        read(ts)
    np.save(tmp_path / "s.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(SelfsupError, match=r"s\.npy has dtype <U1; time series must be numeric"):
        read(tmp_path / "s.npy")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("e.csv", "", r"e\.csv is empty"),
        ("h.csv", "series_id,time,v\n", r"h\.csv is empty apart from its header"),
        ("n.csv", "1,2,3\n4,5,6\n", r"n\.csv has no header row"),
        ("e.ts", "", r"e\.ts holds no series"),
    ],
)
def test_empty_files_are_rejected(tmp_path, name, content, message):
    with pytest.raises(SelfsupError, match=message):
        read(write(tmp_path / name, content) if content else _touch(tmp_path / name))


def _touch(path: Path) -> Path:
    path.touch()
    return path


def test_empty_array_unknown_extension_and_missing_x_key(tmp_path):
    np.save(tmp_path / "z.npy", np.zeros((0, 5, 1)))
    with pytest.raises(SelfsupError, match=r"z\.npy holds no series"):
        read(tmp_path / "z.npy")
    with pytest.raises(SelfsupError, match=r"Cannot read .*data\.parquet as time series.*\.ts"):
        read(_touch(tmp_path / "data.parquet"))
    np.savez(tmp_path / "k.npz", series=np.ones((2, 3, 1)))
    with pytest.raises(SelfsupError, match=r"k\.npz has no key 'x' \(keys found: series\)"):
        read(tmp_path / "k.npz")


def test_label_count_that_differs_from_the_series_count(tmp_path):
    np.savez(tmp_path / "l.npz", x=np.ones((4, 3, 1)), y=np.array([0, 1, 0]))
    with pytest.raises(SelfsupError, match=r"l\.npz \(key 'x'\) has 3 labels but 4 series"):
        read(tmp_path / "l.npz")


def test_two_labels_for_one_series_and_duplicate_timestamps(tmp_path):
    two = write(tmp_path / "two.csv", "series_id,time,v,label\na,0,1,x\nb,0,1,x\nb,1,2,y\n")
    with pytest.raises(SelfsupError, match=r"two\.csv: series_id 'b' has 2 different labels"):
        read(two)
    dup = write(tmp_path / "dup.csv", "series_id,time,v\na,0,1\na,1,2\na,1,3\n")
    with pytest.raises(SelfsupError, match=r"dup\.csv .*series_id 'a' at time '1' .*lines 3 and 4"):
        read(dup)


# ----------------------------------------------------------------------------- end to end


def test_load_data_reads_a_timeseries_file_and_feeds_the_array_dataset(tmp_path):
    from selfsup.data import ArrayDataset

    x = np.random.default_rng(7).normal(size=(10, 12, 2))
    np.savez(tmp_path / "e2e.npz", x=x, y=np.tile([0, 1], 5))
    bundle = load_data(str(tmp_path / "e2e.npz"), modality="timeseries", seed=0)
    assert bundle.describe()["input_shape"] == [12, 2]
    batch = ArrayDataset(bundle.train.x).__getitems__([0, 3])
    assert batch["x"].shape == (2, 12, 2) and batch["x"].dtype == torch.float32
    with pytest.raises(SelfsupError, match="Unknown option 'normalise'.*normalize"):
        load_data(str(tmp_path / "e2e.npz"), modality="timeseries", normalise="zscore")


# ----------------------------------------------------------------------------- devices as rows


def _devices_as_rows(x: np.ndarray) -> np.ndarray:
    """``[N, D, T, C]`` -> ``[N * D, T, C]`` stored device by device (all of device 0 first)."""
    return x.transpose(1, 0, 2, 3).reshape(-1, *x.shape[2:])


def test_npz_group_key_folds_rows_into_the_same_bundle_as_four_dimensional_x(tmp_path):
    rng = np.random.default_rng(7)
    x, x_test = rng.normal(size=(6, 3, 10, 2)), rng.normal(size=(4, 3, 10, 2))
    y, y_test = np.array([0, 1, 0, 1, 2, 2]), np.array([1, 0, 2, 2])
    names = np.array(["wrist", "waist", "ankle"])
    np.savez(tmp_path / "four.npz", x=x, y=y, x_test=x_test, y_test=y_test, devices=names)
    test_order = [2, 0, 1]  # the test file lists its devices in another order
    np.savez(
        tmp_path / "rows.npz", x=_devices_as_rows(x), y=np.tile(y, 3), group=np.repeat(names, 6),
        x_test=_devices_as_rows(x_test[:, test_order]), y_test=np.tile(y_test, 3),
        group_test=np.repeat(names[test_order], 4),
    )
    four, rows = read(tmp_path / "four.npz"), read(tmp_path / "rows.npz")
    assert rows.input_spec.devices == ["wrist", "waist", "ankle"] and rows.input_spec == (3, 10, 2)
    assert torch.equal(rows.train.x, four.train.x) and torch.equal(rows.test.x, four.test.x)
    assert torch.equal(rows.y_train, four.y_train) and torch.equal(rows.y_test, four.y_test)


def test_npz_group_errors_name_the_devices_and_the_window(tmp_path):
    x = np.zeros((5, 8, 1))
    np.savez(tmp_path / "count.npz", x=x, group=np.array(["a", "b", "a", "b", "a"]))
    with pytest.raises(SelfsupError, match=r"count\.npz.*different numbers of series \('a': 3, 'b': 2\)"):
        read(tmp_path / "count.npz")
    np.savez(tmp_path / "label.npz", x=x[:4], y=np.array([0, 1, 0, 0]),
             group=np.array(["a", "a", "b", "b"]))
    with pytest.raises(SelfsupError, match=r"label\.npz.*row 1 of key 'x'.*row 3 of key 'x'.*"
                                           r"different labels"):
        read(tmp_path / "label.npz")
    np.savez(tmp_path / "length.npz", x=x, group=np.array(["a", "b"]))
    with pytest.raises(SelfsupError, match=r"group has 2 entries but there are 5 series"):
        read(tmp_path / "length.npz")
    np.savez(tmp_path / "split.npz", x=x[:4], group=np.array(["a", "a", "b", "b"]), x_test=x[:2])
    with pytest.raises(SelfsupError, match=r"group_test"):
        read(tmp_path / "split.npz")
    np.savez(tmp_path / "both.npz", x=x[:4], group=np.array(["a", "a", "b", "b"]),
             devices=np.array(["a", "b"]))
    with pytest.raises(SelfsupError, match=r"both 'devices'.*and 'group'"):
        read(tmp_path / "both.npz")


LONG_DEVICES = """
series_id,group,time,ax,ay,label
w1,wrist,0,1,2,walk
w1,ankle,1,30,31,walk
w1,wrist,1,3,4,walk
w1,ankle,0,10,11,walk
w2,ankle,0,50,51,run
w2,wrist,0,5,6,run
w2,wrist,1,7,8,run
"""


def test_long_csv_with_a_group_column_is_multi_device(tmp_path):
    bundle = read(write(tmp_path / "devices.csv", LONG_DEVICES), test_fraction=0)
    assert bundle.input_spec.devices == ["wrist", "ankle"] and bundle.input_spec.channel_names == ["ax", "ay"]
    x = bundle.train.x
    assert x.shape == (2, 2, 2, 2)  # windows w1, w2; devices wrist, ankle; time; channels
    assert x[0, 0].tolist() == [[1, 2], [3, 4]] and x[0, 1].tolist() == [[10, 11], [30, 31]]
    assert x[1, 0].tolist() == [[5, 6], [7, 8]]
    assert x[1, 1, 0].tolist() == [50, 51] and torch.isnan(x[1, 1, 1]).all()  # shorter: padded
    assert bundle.class_names == ["run", "walk"] and bundle.y_train.tolist() == [1, 0]


@pytest.mark.parametrize("text, message", [
    ("series_id,group,time,v\na,wrist,0,1\na,ankle,0,2\nb,wrist,0,3\n",
     r"series_id 'b' has no series for device 'ankle' \(devices: wrist, ankle\)"),
    ("series_id,group,time,v,label\na,wrist,0,1,x\na,ankle,0,2,y\n",
     r"the devices of series_id 'a' have different labels \('x', 'y'\)"),
    ("series_id,group,time,v\na,wrist,0,1\na,wrist,0,2\na,ankle,0,3\n",
     r"duplicate rows for series_id 'a', group 'wrist' at time '0' \(lines 2 and 3\)"),
    ("series_id,group,time,v\na,,0,1\n", r"line 2 has no 'group'"),
    ("group,t0,t1\nwrist,1,2\n", r"has a 'group' column .* but no 'series_id' column"),
])
def test_long_csv_device_errors_name_the_series_and_device(tmp_path, text, message):
    with pytest.raises(SelfsupError, match=message):
        read(write(tmp_path / "bad.csv", text))


def test_csv_train_and_test_devices_are_matched_by_name(tmp_path):
    write(tmp_path / "Har_TRAIN.csv", "series_id,group,time,v\na,wrist,0,1\na,ankle,0,2\n")
    write(tmp_path / "Har_TEST.csv", "series_id,group,time,v\nb,ankle,0,20\nb,wrist,0,10\n")
    bundle = read(tmp_path / "Har_TRAIN.csv")
    assert bundle.input_spec.devices == ["wrist", "ankle"]
    assert bundle.test.x[0, :, 0, 0].tolist() == [10, 20]
    write(tmp_path / "Har_TEST.csv", "series_id,group,time,v\nb,chest,0,20\nb,wrist,0,10\n")
    with pytest.raises(SelfsupError, match=r"devices differ between .*Har_TRAIN\.csv"):
        read(tmp_path / "Har_TRAIN.csv")
