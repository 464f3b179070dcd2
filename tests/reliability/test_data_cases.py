"""Adversarial cases: image and series data that cannot be trained on, or only pointlessly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from _reliability import QUICK, Case, image_arrays, run_cases, series_arrays

IMG = "pretrain --modality image --epochs 1 --no-progress --out {tmp}/r --data"
SER = "pretrain --modality timeseries --epochs 1 --no-progress --out {tmp}/r --data"


def npz(name: str = "bad.npz", **arrays):
    def setup(tmp: Path) -> None:
        np.savez(tmp / name, **arrays)

    return setup


def raw(name: str, content: bytes | str):
    def setup(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)

    return setup


def folder_of(files: dict[str, bytes]):
    def setup(tmp: Path) -> None:
        for name, content in files.items():
            path = tmp / "imgs" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

    return setup


def png(size: int = 8) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size), 128, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


X, Y = image_arrays()
SX, SY = series_arrays()
LONG_HEADER = "series_id,time,x,label\n"

IMAGE = [
    Case("image-file-missing", f"{IMG} {{tmp}}/nope.npz", r"nope\.npz"),
    Case("image-path-with-brackets", f"{IMG} {{tmp}}/set[new].npz", r"set\[new\]\.npz"),
    Case("image-builtin-unknown", "pretrain --data digitz --epochs 1", r"digitz.*digits"),
    Case("image-path-empty", ["pretrain", "--data", "", "--epochs", "1"], r"data"),
    Case("image-npz-without-x", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*'x'", setup=npz(images=X)),
    Case("image-npz-corrupt", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz", setup=raw("bad.npz", b"PK\x03\x04 not a zip")),
    Case("image-npz-truncated", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz",
         setup=lambda tmp: (np.savez(tmp / "full.npz", x=X, y=Y),
                            (tmp / "bad.npz").write_bytes((tmp / "full.npz").read_bytes()[:900]),
                            (tmp / "full.npz").unlink())),
    Case("image-npy-corrupt", f"{IMG} {{tmp}}/bad.npy", r"bad\.npy", setup=raw("bad.npy", b"\x93NUMPY garbage")),
    Case("image-text-file", f"{IMG} {{tmp}}/bad.txt", r"bad\.txt", setup=raw("bad.txt", "hello\n")),
    Case("image-x-one-dimensional", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*shape", setup=npz(x=np.arange(64, dtype=np.uint8))),
    Case("image-x-five-dimensional", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz", setup=npz(x=np.zeros((4, 2, 2, 8, 8), np.uint8))),
    Case("image-x-empty", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz", setup=npz(x=np.zeros((0, 8, 8), np.uint8))),
    Case("image-x-one-sample", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*1 training sample", setup=npz(x=X[:1])),
    Case("image-x-nan", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*(NaN|finite)", setup=npz(x=np.where(X > 150, np.nan, X / 255.0))),
    Case("image-x-inf", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*(inf|finite)", setup=npz(x=np.where(X > 150, np.inf, X / 255.0))),
    Case("image-x-strings", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz", setup=npz(x=np.array([["a", "b"], ["c", "d"]]))),
    Case("image-x-objects", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz", setup=npz(x=np.array([X[0], X[1][:4]], dtype=object))),
    Case("image-x-complex", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz", setup=npz(x=X.astype(np.complex64))),
    Case("image-x-bool-accepted", f"{IMG} {{tmp}}/mask.npz {' '.join(QUICK)}", exit=0, setup=npz("mask.npz", x=X > 100, y=Y),
         may_change=("r",)),
    Case("image-float-above-one", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz", setup=npz(x=X.astype(np.float32) * 10)),
    Case("image-negative-ints", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz", setup=npz(x=X.astype(np.int16) - 300)),
    Case("image-y-length-mismatch", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*y", setup=npz(x=X, y=Y[:10])),
    Case("image-y-two-dimensional", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*y", setup=npz(x=X, y=np.stack([Y, Y], 1))),
    Case("image-y-nan", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*y", setup=npz(x=X, y=np.where(Y == 1, np.nan, Y))),
    Case("image-y-test-without-x-test", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*x_test", setup=npz(x=X, y=Y, y_test=Y)),
    Case("image-x-test-other-shape", f"{IMG} {{tmp}}/bad.npz", r"bad\.npz.*x_test",
         setup=npz(x=X, y=Y, x_test=np.zeros((8, 6, 6), np.uint8), y_test=Y[:8])),
    Case("image-folder-empty", f"{IMG} {{tmp}}/imgs", r"imgs", setup=lambda tmp: (tmp / "imgs").mkdir()),
    Case("image-folder-corrupt-png-skipped", f"{IMG} {{tmp}}/imgs --set eval.k=2 {' '.join(QUICK)}", r"bad\.png",
         exit=0, may_change=("r",),
         setup=folder_of({"a/bad.png": b"\x89PNG broken", **{f"a/{i}.png": png() for i in range(3)},
                          **{f"b/{i}.png": png() for i in range(3)}})),
    Case("image-folder-sizes-differ", f"{IMG} {{tmp}}/imgs --set data.options.image_size=0", r"image_size",
         setup=folder_of({f"a/{i}.png": png(8 + i) for i in range(3)})),
    Case("image-modality-left-out", "pretrain --data {series} --epochs 1 --out {tmp}/r", r"series\.npz.*float"),
    Case("image-data-is-series", f"{IMG} {{series}}", r"series\.npz|image"),
    Case("image-method-for-series", f"{IMG} {{good}} --method ts2vec", r"ts2vec"),
    Case("image-encoder-for-series", f"{IMG} {{good}} --encoder ts2vec_encoder", r"ts2vec_encoder"),
    Case("image-reader-option-unknown", f"{IMG} {{good}} --set data.options.imag_size=4", r"imag_size"),
    Case("image-batch-larger-than-data", f"{IMG} {{good}} --batch-size 4096", r"4096"),
    Case("image-one-by-one", f"{IMG} {{tmp}}/tiny.npz {' '.join(QUICK)}", r"1×1", exit=0,
         setup=npz("tiny.npz", x=X[:, :1, :1], y=Y), may_change=("r",)),
    Case("image-fewer-samples-than-classes", f"{IMG} {{tmp}}/few.npz --set eval.k=1 {' '.join(QUICK)}",
         r"16 class\(es\) have a single sample", exit=0, setup=npz("few.npz", x=X[:16], y=np.arange(16)), may_change=("r",)),
]

SERIES = [
    Case("series-file-missing", f"{SER} {{tmp}}/nope.csv", r"nope\.csv"),
    Case("series-npz-without-x", f"{SER} {{tmp}}/bad.npz", r"bad\.npz.*'x'", setup=npz(series=SX)),
    Case("series-npz-objects", f"{SER} {{tmp}}/bad.npz", r"bad\.npz.*objects",
         setup=npz(x=np.array([SX[0], SX[1][:4]], dtype=object))),
    Case("series-x-inf", f"{SER} {{tmp}}/bad.npz", r"bad\.npz", setup=npz(x=np.where(SX > 0.9, np.inf, SX), y=SY)),
    Case("series-all-nan", f"{SER} {{tmp}}/bad.npz", r"bad\.npz", setup=npz(x=np.full_like(SX, np.nan), y=SY)),
    Case("series-y-mismatch", f"{SER} {{tmp}}/bad.npz", r"bad\.npz.*y", setup=npz(x=SX, y=SY[:5])),
    Case("series-devices-mismatch", f"{SER} {{tmp}}/bad.npz", r"devices", setup=npz(x=SX, devices=np.array(["a", "b"]))),
    Case("series-csv-empty", f"{SER} {{tmp}}/s.csv", r"s\.csv", setup=raw("s.csv", "")),
    Case("series-csv-header-only", f"{SER} {{tmp}}/s.csv", r"s\.csv", setup=raw("s.csv", LONG_HEADER)),
    Case("series-csv-blank-time", f"{SER} {{tmp}}/s.csv", r"s\.csv line 3.*time",
         setup=raw("s.csv", LONG_HEADER + "a,0,1,0\na,,2,0\nb,0,3,1\nb,1,4,1\n")),
    Case("series-csv-dates-and-numbers", f"{SER} {{tmp}}/s.csv", r"s\.csv line 3.*time",
         setup=raw("s.csv", LONG_HEADER + "a,2024-01-01,1,0\na,2024,2,0\nb,2024-01-01,3,1\n")),
    Case("series-csv-word-in-values", f"{SER} {{tmp}}/s.csv", r"s\.csv.*line 3",
         setup=raw("s.csv", LONG_HEADER + "a,0,1,0\na,1,abc,0\nb,0,3,1\nb,1,4,1\n")),
    Case("series-csv-ragged-row", f"{SER} {{tmp}}/s.csv", r"s\.csv.*line 3",
         setup=raw("s.csv", LONG_HEADER + "a,0,1,0\na,1,2\nb,0,3,1\nb,1,4,1\n")),
    Case("series-csv-duplicate-time", f"{SER} {{tmp}}/s.csv", r"s\.csv.*(time|duplicate)",
         setup=raw("s.csv", LONG_HEADER + "a,0,1,0\na,0,2,0\nb,0,3,1\nb,1,4,1\n")),
    Case("series-csv-binary", f"{SER} {{tmp}}/s.csv", r"s\.csv", setup=raw("s.csv", b"\xff\xfe\x00\x01" * 50)),
    Case("series-ts-corrupt", f"{SER} {{tmp}}/s.ts", r"s\.ts", setup=raw("s.ts", "@problemName x\n@data\n1,abc:zz\n")),
    Case("series-ts-one-series", f"{SER} {{tmp}}/s.ts", r"s\.ts.*1 training sample",
         setup=raw("s.ts", "@problemName x\n@data\n1,2:zz\n")),
    Case("series-unknown-suffix", f"{SER} {{tmp}}/s.parquet2", r"s\.parquet2", setup=raw("s.parquet2", "x")),
    Case("series-method-for-images", f"{SER} {{series}} --method rotnet", r"rotnet"),
    Case("series-cpc-steps-zero", f"{SER} {{series}} --method cpc --set method.prediction_steps=0", r"prediction_steps"),
    Case("series-cpc-steps-longer-than-series", f"{SER} {{series}} --method cpc --set method.prediction_steps=500",
         r"prediction_steps"),
    Case("series-ts2vec-temporal-unit-negative", f"{SER} {{series}} --method ts2vec --set method.temporal_unit=-1",
         r"temporal_unit"),
    Case("series-collossl-single-device", f"{SER} {{series}} --method collossl", r"collossl|device"),
    Case("series-length-one", f"{SER} {{tmp}}/one.npz {' '.join(QUICK)}", r"single time step", exit=0,
         setup=npz("one.npz", x=SX[:, :1, :], y=SY), may_change=("r",)),
]

test_image_case = run_cases(IMAGE)
test_series_case = run_cases(SERIES)
